"""Per-query latency of a recipe: one query encode (MiniLM, 1 thread) + scoring, on 30 train questions.
(The 30 question encodes here are a timing measurement; vectors are not reused.)"""
import os, sys, time, statistics
os.environ.setdefault("HF_HUB_OFFLINE", "1")
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import Stemmer
from common import EmbCache, load_cases, load_turns
from retrieval import Corpus, Retriever
from variants import VARIANTS
name = sys.argv[1] if len(sys.argv) > 1 else "hybB6_opt"
cfg = dict(VARIANTS)[name]
T = load_turns(); C = Corpus(T, cfg.get("target", 650)); ec = EmbCache()
r = Retriever(C, cfg, ec, Stemmer.Stemmer("english"))
m = ec._model()
qs = [c["question"] for c in load_cases("train")][:30]
m.encode(["warm up"], normalize_embeddings=True)
enc, tot = [], []
for q in qs:
    t0 = time.perf_counter()
    qd = r.query_texts(q)[2]
    v = m.encode([qd], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)[0]
    t1 = time.perf_counter()
    r.search(q, v)
    t2 = time.perf_counter()
    enc.append(t1 - t0); tot.append(t2 - t0)
print(f"{name}: query encode p50 {1000*statistics.median(enc):.1f} ms, end-to-end p50 {1000*statistics.median(tot):.1f} ms, "
      f"p90 {1000*sorted(tot)[26]:.1f} ms; BM25 index build {r.bm25_secs:.2f} s; corpus encode (cached record) {r.build_secs:.0f} s")
