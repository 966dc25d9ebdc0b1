"""The whole quality table in one command: every corpus, every figure, BM25 and the LangChain
tutorial beside this service (issue 20, item 1).

Corpora (each indexed whole, by the project's own ingest, into var/bench/quality/<corpus>-<code>):
  interview  ../shared/data/transcripts       ../shared/eval/dev.jsonl + eval/interview-*.jsonl
  hearings   ../shared/corpora/qmsum-committee ../shared/eval/qmsum-train.jsonl + eval/hearings-extra.jsonl
  product    ../shared/corpora/qmsum-product-train   ../shared/eval/qmsum-product-train.jsonl
  academic   ../shared/corpora/qmsum-academic-train  ../shared/eval/qmsum-academic-train.jsonl

Every case is asked as a user asks it: its question (or its conversation) alone, top_k 5, through
the chat pipeline (`ChatPipeline.run`, what POST /v1/chat runs). Rows:
- `fit` and `held`: each train set cut in two by a hash of the case's transcript (a quarter of the
  meetings held back whole, as the project is measured on meetings it never saw; the interview's
  cases by their id). Tune on `fit` only; `held` is the check that a change generalises.
- `whole` is the question over the whole folder; `scoped` the same question within its transcript
  (`filters.transcripts`), as a user who picked the meeting in the library asks.
- `foreign`: questions written for the other corpora, asked over this one's index: there is no
  answer there, so each must be declined (the `declined` column).
- `val`: qmsum-val, only with --val: looked at once per candidate, never to choose a weight.
- BM25 over speaker turns and the LangChain tutorial (1000/200 splits, MiniLM, Chroma, top 4),
  whole folder, on every train case.

Scoring is rag-eval's (`service.eval.score_case`, `metrics`).

examples:
  python bench/quality.py                           the whole table (~40 min on 2 cores, first run)
  python bench/quality.py --corpora hearings product --limit 60   a quick look
  python bench/quality.py --no-baselines --json var/bench/quality.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.qmsum_common import (
    ROOT,
    code_state,
    load_text,
    log,
    md_table,
    service_ingest,
)
from service.eval import held_back

TOP_K = 5
FOREIGN_PER_CORPUS = 60  # questions of each other corpus asked over this one's index


@dataclass
class Corpus:
    name: str
    folder: Path
    sets: list[Path]
    scoped: bool  # its cases name a transcript and are also asked within it
    val: Path | None = None
    cases: list[dict] = field(default_factory=list)


def corpora() -> dict[str, Corpus]:
    """The corpora of eval/corpora.toml (rag-tune reads the same file)."""
    from service.tune import corpus_files

    return {name: Corpus(name, c["folder"], c["cases"], c["scoped"], c["val"]) for name, c in corpus_files().items()}


def read_cases(path: Path) -> list[dict]:
    from service.eval import load_cases

    return load_cases(path)


def code_key() -> str:
    """A hash of what decides the index (ingest/ and the embedding settings): a new index when it changes."""
    h = hashlib.sha1()
    for p in sorted((ROOT / "ingest").rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:10]


# --- this service ---------------------------------------------------------------------------------
def index(corpus: Corpus, embedder, root: Path) -> dict:
    chroma = root / f"{corpus.name}-{code_key()}"
    fresh = not chroma.exists()
    ing = service_ingest(corpus.folder, chroma, embedder)  # a no-op re-sync when it is there already
    log(f"{corpus.name}: {ing['chunks']} passages ({'ingested' if fresh else 'reused'} in {ing['seconds']:.0f} s)")
    return ing


def ask_all(pipeline, cases: list[dict], scoped: bool) -> list[dict]:
    from service.eval import request_body, score_case
    from service.rag.chat_types import ChatRequest

    out = []
    for c in cases:
        t = time.perf_counter()
        resp = pipeline.run(ChatRequest(**request_body(c, TOP_K, scoped))).model_dump()
        row = score_case(c, resp)
        row["ms"] = (time.perf_counter() - t) * 1000
        row["transcript"] = c.get("transcript")
        out.append(row)
    return out


def figures(results: list[dict]) -> dict:
    from service.eval import metrics

    m = metrics(results)
    m["ms"] = statistics.median(r["ms"] for r in results) if results else None
    return m


# --- the baselines ----------------------------------------------------------------------------------
def baselines(corpus: Corpus, embedder, cases: list[dict]) -> dict[str, dict]:
    from bench.compare_pipelines import run_bm25, run_tutorial

    cases = [{**c, "question": c["messages"][-1]["content"]} for c in cases if len(c["messages"]) == 1]
    bm25 = run_bm25(corpus.folder, {"train": cases}, TOP_K, whole_turns=False)["splits"]["train"]
    tutorial = run_tutorial(corpus.folder, embedder, {"train": cases})["splits"]["train"]
    return {"BM25 over speaker turns": bm25, "LangChain tutorial": tutorial}


# --- the table ---------------------------------------------------------------------------------------
HEADERS = ["corpus", "pipeline", "cases", "mode", "n (unans.)", "hit@1", "hit@3", "MRR", "cites-gold",
           "false abst.", "declined", "answer acc.", "ms"]


def row(corpus: str, pipeline: str, cases: str, mode: str, m: dict) -> list:
    f = lambda k: None if m.get(k) is None else f"{m[k]:.3f}"
    n_neg = m.get("n_neg", 0)
    return [corpus, pipeline, cases, mode, f"{m['n']} ({n_neg})", f("hit_at_1"), f("hit_at_3"), f("mrr"),
            f("cites_gold"), f("false_abstain_rate"), f("abstain_accuracy"), f("answer_accuracy"),
            None if m.get("ms") is None else f"{m['ms']:.0f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="examples:" + __doc__.split("examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    every = list(corpora())
    parser.add_argument("--corpora", nargs="+", choices=every, default=every)
    parser.add_argument("--limit", type=int, help="at most this many cases of each set (a quick look)")
    parser.add_argument("--val", action="store_true", help="also qmsum-val (once per candidate)")
    parser.add_argument("--no-baselines", action="store_true", help="this service only")
    parser.add_argument("--no-foreign", action="store_true", help="skip the other corpora's questions")
    parser.add_argument("--index-root", type=Path, default=ROOT / "var" / "bench" / "quality")
    parser.add_argument("--json", type=Path, help="also write every figure (and each case's result) here")
    args = parser.parse_args(argv)

    from ingest.embed import load_embedder
    from ingest.settings import IndexSettings
    from service.rag.pipeline import build_pipeline

    started, load_start, code = time.perf_counter(), load_text(), code_state()
    every_corpus = corpora()
    for c in every_corpus.values():
        c.cases = [case for s in c.sets for case in read_cases(s)]
    rng = random.Random(20)
    chosen = [every_corpus[n] for n in args.corpora]
    embedder = load_embedder(IndexSettings())
    rows, dump = [], {"code": code, "figures": [], "cases": []}

    def add(corpus, pipeline, cases_label, mode, results):
        m = figures(results) if isinstance(results, list) else results
        m["n_neg"] = sum(not r["answerable"] for r in results) if isinstance(results, list) else 0
        rows.append(row(corpus, pipeline, cases_label, mode, m))
        dump["figures"].append({"corpus": corpus, "pipeline": pipeline, "cases": cases_label, "mode": mode,
                                **{k: v for k, v in m.items() if not isinstance(v, list)}})
        if isinstance(results, list):
            dump["cases"] += [{"corpus": corpus, "cases": cases_label, "mode": mode, **r} for r in results]

    for corpus in chosen:
        ing = index(corpus, embedder, args.index_root)
        pipeline = build_pipeline(ing["settings"])
        cases = corpus.cases[: args.limit] if args.limit else corpus.cases
        parts = {"fit": [c for c in cases if not held_back(c)], "held": [c for c in cases if held_back(c)]}
        if follow := [c for c in cases if len(c["messages"]) > 1]:  # fit and held: a row of their own
            parts["follow-ups"] = follow
        for part, some in parts.items():
            modes = ["whole", "scoped"] if corpus.scoped else ["whole"]
            for mode in modes:
                some_mode = [c for c in some if mode == "whole" or c.get("transcript")]
                t = time.perf_counter()
                add(corpus.name, "this service", part, mode, ask_all(pipeline, some_mode, mode == "scoped"))
                log(f"{corpus.name} {part} {mode}: {len(some_mode)} cases in {time.perf_counter() - t:.0f} s")
        if args.val and corpus.val:
            val = read_cases(corpus.val)
            for mode in ["whole", "scoped"]:
                add(corpus.name, "this service", "val", mode,
                    ask_all(pipeline, [c for c in val if mode == "whole" or c.get("transcript")], mode == "scoped"))
        if not args.no_foreign:
            foreign = []
            for other in every_corpus.values():
                if other is not corpus:
                    pool = [c for c in other.cases if c.get("answerable", True) and len(c["messages"]) == 1]
                    foreign += rng.sample(pool, min(FOREIGN_PER_CORPUS, len(pool)))
            foreign = [{**c, "answerable": False, "id": f"foreign:{c.get('id')}"} for c in foreign]
            add(corpus.name, "this service", "foreign", "whole", ask_all(pipeline, foreign, False))
        if not args.no_baselines:
            for name, m in baselines(corpus, embedder, cases).items():
                m = {"n": sum(c.get("answerable", True) for c in cases if len(c["messages"]) == 1), **m}
                add(corpus.name, name, "fit+held", "whole", m)
        pipeline.retriever.close() if hasattr(pipeline.retriever, "close") else None

    print(f"\n### Quality, every corpus (code {code}; top_k {TOP_K}; "
          f"{(time.perf_counter() - started) / 60:.1f} min, load {load_start} at start, {load_text()} at end)\n")
    print(md_table(HEADERS, rows))
    print("\nfit/held: the train cases cut by a hash of their transcript (held: a quarter, never tuned on); "
          "follow-ups: the cases asked after a first question and its answer (fit and held); "
          "whole: over the whole folder; scoped: within the case's transcript; foreign: other corpora's "
          "questions over this index (declined = share abstained); baselines rank passages only.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dump, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
