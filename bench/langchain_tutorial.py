"""The LangChain RAG tutorial's retrieval beside this project's, on the same questions and machine.

Tutorial pipeline (python.langchain.com "Build a Retrieval Augmented Generation (RAG) App"):
the transcript loaded as one Document, RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200, add_start_index=True), the same all-MiniLM-L6-v2 model through a LangChain
`Embeddings` (ingest.embed.Embedder), a langchain-chroma `Chroma` store, `similarity_search(q, k=4)`.

Ours: the sample transcripts ingested into a temp store, then `rag-eval`'s in-process run of
the chat pipeline (top 5) and the median latency of `Retriever.retrieve`.

Both are scored like service/eval.py: a case hits at rank r when the r-th passage contains one
of its gold `passage_any` strings (after `service.eval.normalise`); hit@1, hit@3 and MRR are over
the answerable cases. The tutorial's LLM step is not run (retrieval only): on 2 shared CPU
cores a 1.5B model reading four 1000-character passages (~1,000 prompt tokens at ~40 tokens/s)
takes half a minute or more per case, and the retrieval rows already show where the two
pipelines differ.

examples:
  python bench/langchain_tutorial.py
  python bench/langchain_tutorial.py --cases ../shared/eval/dev.jsonl --runs 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import chromadb
from langchain_chroma import Chroma
from langchain_core.documents import Document

from ingest import store as ix
from ingest.embed import load_embedder
from ingest.settings import IndexSettings
from service.eval import load_cases, metrics, normalise, run_cases
from service.settings import ServiceSettings

try:
    from langchain_text_splitters import RecursiveCharacterTextSplitter
except ImportError:  # pragma: no cover - the bench extra
    sys.exit("bench/langchain_tutorial.py needs langchain-text-splitters: pip install -e '.[bench]'")


def rank_of(case: dict, texts: list[str]) -> int | None:
    """1-based rank of the first passage holding a gold string (service/eval.py's rule)."""
    gold = [normalise(p) for p in case.get("passage_any", [])]
    return next((i + 1 for i, t in enumerate(texts) if any(g in normalise(t) for g in gold)), None)


def retrieval_metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)
    return {"hit_at_1": sum(r == 1 for r in ranks) / n, "hit_at_3": sum(bool(r and r <= 3) for r in ranks) / n,
            "mrr": sum(1 / r for r in ranks if r) / n}


def tutorial(files: list[Path], cases: list[dict], embedder, runs: int) -> dict:
    docs = [Document(page_content=f.read_text(encoding="utf-8"), metadata={"source": str(f)}) for f in files]
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    splits = splitter.split_documents(docs)
    client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
    store = Chroma(client=client, collection_name="tutorial", embedding_function=embedder)
    store.add_documents(splits)
    answerable = [c for c in cases if c.get("answerable", True)]
    ranks = [rank_of(c, [d.page_content for d in store.similarity_search(c["question"], k=4)]) for c in answerable]
    times = []
    for _ in range(runs):
        for c in cases:
            t = time.perf_counter()
            store.similarity_search(c["question"], k=4)
            times.append((time.perf_counter() - t) * 1000)
    client.delete_collection("tutorial")
    return {**retrieval_metrics(ranks), "latency": statistics.median(times), "chunks": len(splits)}


def ours(folder: Path, cases: list[dict], embedder, runs: int, work: Path) -> dict:
    from ingest.sync import sync_paths
    from service.rag.retrieve import Retriever

    settings = ServiceSettings(chroma_path=work / "chroma", transcripts_dir=folder)
    client = ix.chroma_client(settings)
    report = sync_paths([folder], settings, embedder, client)
    m = metrics(run_cases(cases, None, 5, settings))  # rag-eval's in-process run (loads its own pipeline)
    retriever = Retriever(settings, embedder, client)
    times = []
    for _ in range(runs):
        for c in cases:
            t = time.perf_counter()
            retriever.retrieve(c["question"], [], 5)
            times.append((time.perf_counter() - t) * 1000)
    return {**m, "latency": statistics.median(times), "chunks": report.added}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--transcripts", type=Path, default=ROOT / "data" / "transcripts")
    parser.add_argument("--runs", type=int, default=5, help="latency runs over the questions; median (default 5)")
    args = parser.parse_args(argv)
    cases = load_cases(args.cases)
    files = sorted(p for p in args.transcripts.iterdir() if p.suffix == ".txt")
    embedder = load_embedder(IndexSettings())
    work = Path(tempfile.mkdtemp(prefix="tutorial-bench-"))
    try:
        tut = tutorial(files, cases, embedder, args.runs)
        our = ours(args.transcripts, cases, embedder, args.runs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n_pos = sum(c.get("answerable", True) for c in cases)
    f = lambda v: "–" if v is None else f"{v:.2f}"
    print(f"\n{len(cases)} cases ({n_pos} answerable) from {args.cases}; {len(files)} transcript(s); "
          f"latency = median of {args.runs} runs over the questions, in process; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'pipeline':<64} {'chunks':>6} {'hit@1':>6} {'hit@3':>6} {'MRR':>5} {'answer':>7} "
          f"{'abstain':>8} {'false abst.':>11} {'retrieval ms':>13}")
    print(f"{'LangChain RAG tutorial (1000/200 splits, MiniLM, Chroma, top-4)':<64} {tut['chunks']:>6} "
          f"{f(tut['hit_at_1']):>6} {f(tut['hit_at_3']):>6} {f(tut['mrr']):>5} {'–':>7} {'–':>8} {'–':>11} "
          f"{tut['latency']:>13.1f}")
    print(f"{'this project, built-in answerer (hybrid retrieval, top 5)':<64} {our['chunks']:>6} "
          f"{f(our['hit_at_1']):>6} {f(our['hit_at_3']):>6} {f(our['mrr']):>5} {f(our['answer_accuracy']):>7} "
          f"{f(our['abstain_accuracy']):>8} {f(our['false_abstain_rate']):>11} {our['latency']:>13.1f}")
    print("tutorial latency = similarity_search (query encode + Chroma query); ours = Retriever.retrieve "
          "(query encode, dense chunks + sentences, BM25, fusion). Tutorial MRR is over its 4 passages. "
          "The tutorial's LLM answer step was not run (retrieval only).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
