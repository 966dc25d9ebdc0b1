"""Retrieval latency at 1k / 10k / 100k chunks, embedded and client/server, beside the floor.

For each corpus size and store mode it times `Retriever.retrieve` (query encode, dense search
over chunks and sentences, BM25, fusion) and, interleaved in the same loop, the floor: one
query encode plus one raw Chroma query of the chunk collection. Each run reports p50/p95 over
the queries; the table shows the median of the runs.

The corpus is generated (seeded): transcripts of question/answer chunks in the index's own
layout (chunk records, sentence records, metadata keys, index state). Stored vectors are random
unit vectors unless --real-embeddings is given: search cost does not depend on what the vectors
mean, and embedding 100k chunks with their sentences takes hours on a small CPU. Queries are
always encoded by the real model. Corpora are kept under --workdir and reused by later runs; the
server mode starts from a copy of the embedded corpus of the same size when there is one.

examples:
  python bench/retrieval_latency.py                          1k, 10k, 100k; embedded and server
  python bench/retrieval_latency.py --sizes 1000 --runs 3    a quick look
  python bench/retrieval_latency.py --modes server --sizes 10000
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import numpy as np

from ingest import store as ix
from ingest.embed import load_embedder
from ingest.settings import IndexSettings
from service.settings import ServiceSettings

DIM = 384  # all-MiniLM-L6-v2
CHUNKS_PER_TRANSCRIPT = 30
COMMON = [
    "the", "we", "our", "team", "customers", "cloud", "data", "business", "market",
    "company", "product", "people", "years", "growth", "europe", "china", "technology",
    "partners", "value", "service", "platform", "engine", "work", "build", "support",
    "time", "new", "local", "global", "first", "three", "security", "price", "scale",
    "model",
]


# --- corpus ---------------------------------------------------------------------------------
def vocabulary(rng: np.random.Generator, n: int = 4000) -> list[str]:
    syll = ["ka", "lo", "mi", "ten", "ra", "vo", "sin", "de", "ul", "pra", "ne", "sto", "ri", "ga", "mu"]
    words = {"".join(rng.choice(syll, size=rng.integers(2, 4))) for _ in range(n * 2)}
    return COMMON + sorted(words)[:n]


def sentence(rng, vocab, zipf) -> str:
    n = int(rng.integers(8, 18))
    ws = [vocab[min(int(i), len(vocab)) - 1] for i in rng.zipf(zipf, size=n)]
    return " ".join(ws).capitalize() + "."


def unit(rng, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def generate(client, settings: ServiceSettings, size: int, sentences: int, embedder, real: bool, seed: int = 7):
    """Write `size` chunks (and `sentences` sentence records each) unless they are there already."""
    chunks = ix.open_collection(client, settings, ix.CHUNK_SUFFIX, 1)
    sents = ix.open_collection(client, settings, ix.SENTENCE_SUFFIX, 1)
    if chunks.count() == size:
        return
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    batch = min(client.get_max_batch_size(), 2000)
    started = time.perf_counter()
    for lo in range(0, size, batch):
        n = min(batch, size - lo)
        ids, docs, metas, s_ids, s_docs, s_metas = [], [], [], [], [], []
        for k in range(lo, lo + n):
            tid, turn = f"t{k // CHUNKS_PER_TRANSCRIPT:05d}", k % CHUNKS_PER_TRANSCRIPT
            cid = ix.chunk_id(tid, turn, 0)
            question = "What about " + sentence(rng, vocab, 1.3).rstrip(".").lower() + "?"
            body = [sentence(rng, vocab, 1.3) for _ in range(sentences)]
            ids.append(cid)
            docs.append(" ".join(body))
            metas.append({ix.K_TRANSCRIPT: tid, ix.K_TITLE: f"Interview {tid}", ix.K_SOURCE: f"/bench/{tid}.txt",
                          ix.K_QUESTION: question, ix.K_SPEAKER: "Guest", ix.K_ROLE: "", ix.K_TURN: turn,
                          ix.K_PIECE: 0, ix.K_START: 0, ix.K_END: len(docs[-1]), ix.K_HASH: f"{k:x}",
                          ix.K_TIMESTAMP: "", ix.K_NSENT: sentences})
            for j, text in enumerate(body):
                s_ids.append(ix.sentence_id(cid, j))
                s_docs.append(text)
                s_metas.append({ix.K_CHUNK: cid, ix.K_TRANSCRIPT: tid, ix.K_SENT: j, ix.K_START: 0,
                                ix.K_END: len(text)})
        if real:
            vecs = embedder.encode([f"{m[ix.K_QUESTION]} {d}" for m, d in zip(metas, docs)] + s_docs)
            c_vecs, s_vecs = vecs[:n], vecs[n:]
        else:
            c_vecs, s_vecs = unit(rng, n), unit(rng, len(s_docs))
        for s_lo in range(0, len(s_ids), batch):
            sl = slice(s_lo, s_lo + batch)
            sents.upsert(ids=s_ids[sl], embeddings=s_vecs[sl], documents=s_docs[sl], metadatas=s_metas[sl])
        chunks.upsert(ids=ids, embeddings=c_vecs, documents=docs, metadatas=metas)
        done = lo + n
        print(f"  generated {done:,}/{size:,} chunks ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    ix.write_state(client, settings, ix.IndexState(1, 1, settings.embedding_model))


def questions(rng: np.random.Generator, retriever, n: int) -> list[str]:
    """Questions that look like the corpus: a stored question with a word or two changed."""
    docs = list(retriever.docs.values())
    out = []
    for i in rng.choice(len(docs), size=n, replace=len(docs) < n):
        q = docs[int(i)][1][ix.K_QUESTION].rstrip("?").split()
        q[int(rng.integers(2, len(q)))] = str(rng.choice(COMMON))
        out.append(" ".join(q) + "?")
    return out


# --- stores ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    def __init__(self, path: Path):
        self.path, self.port, self.proc = path, free_port(), None

    def __enter__(self):
        chroma = Path(sys.executable).parent / "chroma"
        self.proc = subprocess.Popen([str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("chroma run did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --- measuring ------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def measure(settings: ServiceSettings, embedder, client, size: int, args) -> dict:
    from service.rag.retrieve import Retriever

    generate(client, settings, size, args.sentences, embedder, args.real_embeddings)
    retriever = Retriever(settings, embedder, client)
    assert len(retriever.docs) == size, (len(retriever.docs), size)
    raw = ix.open_collection(client, settings, ix.CHUNK_SUFFIX, 1)
    rng = np.random.default_rng(11)
    qs = questions(rng, retriever, args.queries)
    for q in qs[:5]:  # warm-up: caches, HNSW pages, the model's first calls
        retriever.retrieve(q, [], 5)
    runs = []
    for _ in range(args.runs):
        full, floor = [], []
        for q in qs:
            t0 = time.perf_counter()
            retriever.retrieve(q, [], 5)
            t1 = time.perf_counter()
            vec = embedder.encode([q])
            raw.query(query_embeddings=vec, n_results=settings.candidates, include=["distances"])
            t2 = time.perf_counter()
            full.append((t1 - t0) * 1000)
            floor.append((t2 - t1) * 1000)
        runs.append((pct(full, 50), pct(full, 95), pct(floor, 50), pct(floor, 95)))
    med = [statistics.median(r[i] for r in runs) for i in range(4)]
    return {"p50": med[0], "p95": med[1], "floor_p50": med[2], "floor_p95": med[3]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--modes", nargs="+", choices=["embedded", "server"], default=["embedded", "server"])
    parser.add_argument("--queries", type=int, default=50, help="questions per run (default 50)")
    parser.add_argument("--runs", type=int, default=5, help="runs; the table shows their median (default 5)")
    parser.add_argument("--sentences", type=int, default=3, help="sentences per chunk (default 3)")
    parser.add_argument("--real-embeddings", action="store_true", help="embed the corpus with the model (slow)")
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"), help="where corpora are kept")
    parser.add_argument("--fresh", action="store_true", help="delete kept corpora first")
    args = parser.parse_args(argv)
    if args.fresh and args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True, exist_ok=True)

    embedder = load_embedder(IndexSettings())
    kind = "model" if args.real_embeddings else "random"
    rows = []
    for mode in args.modes:
        for size in args.sizes:
            print(f"{mode}, {size:,} chunks …", file=sys.stderr)
            name = f"{mode}-{size}-{args.sentences}-{kind}"
            if mode == "embedded":
                settings = ServiceSettings(chroma_path=args.workdir / name, collection="bench")
                rows.append((size, mode, measure(settings, embedder, ix.chroma_client(settings), size, args)))
            else:
                embedded = args.workdir / f"embedded-{size}-{args.sentences}-{kind}"
                if not (args.workdir / name).exists() and embedded.exists():
                    # The same on-disk format: a Chroma server serves the embedded corpus as it is
                    # (writing 100k chunks over HTTP would take far longer than measuring them).
                    shutil.copytree(embedded, args.workdir / name)
                with ChromaServer(args.workdir / name) as server:
                    settings = ServiceSettings(chroma_host="127.0.0.1", chroma_port=server.port, collection="bench")
                    rows.append((size, mode, measure(settings, embedder, ix.chroma_client(settings), size, args)))

    print(f"\nretrieval latency, ms: median of {args.runs} runs x {args.queries} queries; "
          f"{args.sentences} sentences per chunk; stored vectors: {kind}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'chunks':>8} {'store':<9} {'p50':>7} {'p95':>7} {'floor p50':>10} {'floor p95':>10} {'p50/floor':>10}")
    for size, mode, r in rows:
        print(f"{size:>8,} {mode:<9} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['floor_p50']:>10.1f} "
              f"{r['floor_p95']:>10.1f} {r['p50'] / r['floor_p50']:>9.2f}x")
    print("floor = one query encode + one raw Chroma query of the chunk collection (top "
          f"{ServiceSettings().candidates}); retrieve = encode + dense chunks + dense sentences + BM25 + fusion")
    if kind == "random":
        print("stored vectors are random unit vectors (an HNSW search costs the same whatever the vectors "
              "mean; --real-embeddings embeds the corpus); queries are encoded by the real model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
