"""The ablation report (issue 20): every feature, rule and weight switched off in turn, measured on
every corpus's `fit` cases, beside the service as it ships.

Each row switches one thing off and nothing else (the fitted parameters are not re-fitted): a fusion,
sentence or abstention feature's weight set to 0, the passage windows (every turn
its own passage), or a rule of question analysis or quoting replaced by its neutral form. Columns,
per corpus: hit@3 (scoped where the corpus is, else whole), false abstention on answerable
questions, and the share of questions declined that must be (its unanswerable cases and other
corpora's questions). A row "earns its keep" on a corpus when switching it off costs at least
`NOISE` on one of those figures there; the verdict column names the corpora. A rule that earns its
keep on fewer than two corpora is a candidate for deletion.

examples:
  python bench/ablation.py                      every row, every corpus (~30 min on 2 cores)
  python bench/ablation.py --sample 120         120 fit cases of each corpus
  python bench/ablation.py --only windows speaker --corpora product hearings
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.qmsum_common import log

NOISE = 0.01
FOREIGN = 100  # other corpora's questions asked over each index


@contextlib.contextmanager
def patched(obj, name: str, value):
    old = vars(obj)[name]  # as stored (a class's staticmethod stays one when put back)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def rows() -> dict[str, tuple[str, object]]:
    """name -> (what it is, how to switch it off: params -> params, or a context manager factory)."""
    from service.rag import evidence, extractive, retrieve
    from service.rag.extractive import EVIDENCE_FEATURES, SENTENCE_FEATURES, ExtractiveAnswerer
    from service.rag.params import Logistic
    from service.rag.retrieve import FEATURES

    out: dict[str, tuple[str, object]] = {}
    for f in FEATURES:
        out[f"fusion:{f}"] = (f"fusion feature `{f}` weight 0",
                              lambda p, f=f: replace(p, fusion={**p.fusion, f: 0.0}))
    for f in SENTENCE_FEATURES:
        out[f"sentence:{f}"] = (f"sentence feature `{f}` weight 0",
                                lambda p, f=f: replace(p, sentences={**p.sentences, f: 0.0}))
    for f in EVIDENCE_FEATURES:
        out[f"abstain:{f}"] = (f"abstention feature `{f}` weight 0", lambda p, f=f: replace(
            p, abstention=Logistic({**p.abstention.weights, f: 0.0}, p.abstention.bias)))
    out["windows"] = ("passages as windows of turns (off: every turn alone)", lambda p: replace(p, window_target=0))
    out["answer types"] = ("a when/how many/who question needs a sentence of that kind",
                           lambda: patched(extractive, "answer_type", lambda q: None))
    out["digest"] = ("'summarize …' answered by a digest of passages",
                     lambda: _both(patched(extractive, "is_digest", lambda q: False),
                                   patched(evidence, "is_digest", lambda q: False)))
    out["who said"] = ("'who said …' answered by speakers", lambda: patched(extractive, "asks_who_said", lambda q: False))
    out["named speaker's words"] = ("'what did X say' quotes X's sentences only",
                                    lambda: patched(ExtractiveAnswerer, "answering", staticmethod(lambda e, q: q)))
    out["phrasing words"] = ("the question searched without 'what did … say', 'summarize'",
                             lambda: patched(retrieve, "query_text", lambda q: q))
    out["who is"] = ("'what is X's job' searched as 'who is X'", lambda: patched(retrieve, "who_is", lambda q: None))
    out["neighbours"] = ("the sentence that completes the best one is quoted with it", lambda: patched(
        ExtractiveAnswerer, "neighbours", staticmethod(lambda quotes, best: ([], []))))
    return out


@contextlib.contextmanager
def _both(a, b):
    with a, b:
        yield


def measure(pipeline, cases: list[dict], foreign: list[dict], scoped: bool) -> dict:
    from service.eval import metrics, request_body, score_case
    from service.rag.chat_types import ChatRequest

    def ask(cs, sc):
        return [score_case(c, pipeline.run(ChatRequest(**request_body(c, 5, sc))).model_dump()) for c in cs]

    main = metrics(ask([c for c in cases if not scoped or c.get("transcript")], scoped))
    whole = metrics(ask(cases, False)) if scoped else main
    neg = [r for r in ask(foreign, False)] + [r for r in ask([c for c in cases if not c.get("answerable", True)], False)]
    return {"hit@3": main["hit_at_3"], "false abst.": whole["false_abstain_rate"],
            "declined": sum(r["abstained"] for r in neg) / max(1, len(neg))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="examples:" + __doc__.split("examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", nargs="+")
    parser.add_argument("--only", nargs="+", help="rows whose name starts with one of these")
    parser.add_argument("--sample", type=int, help="at most this many fit cases of each corpus (drawn at random)")
    parser.add_argument("--index-root", type=Path, default=Path(__file__).resolve().parents[1] / "var" / "bench" / "quality")
    args = parser.parse_args(argv)

    from ingest.embed import load_embedder
    from ingest.settings import IndexSettings
    from service.eval import held_back
    from service.rag import params as P
    from service.rag.pipeline import build_pipeline
    from service.tune import index, read_corpora, single

    started = time.perf_counter()
    corpora = read_corpora()
    names = args.corpora or list(corpora)
    embedder = load_embedder(IndexSettings())
    rng = random.Random(20)
    shipped = P.load(None)
    table = rows()
    chosen = [r for r in table if not args.only or any(r.startswith(o) for o in args.only)]
    results: dict[str, dict[str, dict]] = {}
    for name in names:
        c = corpora[name]
        pipeline = build_pipeline(index(c, embedder, args.index_root))
        fit = [x for x in single(c.cases) if not held_back(x)]
        if args.sample and len(fit) > args.sample:
            fit = random.Random(7).sample(fit, args.sample)
        pool = [x for m in corpora if m != name for x in single(corpora[m].cases)
                if x.get("answerable", True) and not held_back(x)]
        foreign = [{**x, "answerable": False} for x in rng.sample(pool, min(FOREIGN, len(pool)))]
        for row in ["as shipped", *chosen]:
            switch = table[row][1] if row != "as shipped" else None
            params = shipped
            ctx = contextlib.nullcontext()
            if switch is not None:
                try:
                    params = switch(shipped)
                except TypeError:
                    ctx = switch()
            pipeline.use(params)
            with ctx:
                results.setdefault(row, {})[name] = measure(pipeline, fit, foreign, c.scoped)
            log(f"{name} {row}: {results[row][name]}")
        pipeline.use(shipped)

    figs = ["hit@3", "false abst.", "declined"]
    head = ["switched off", *[f"{n} {f}" for n in names for f in figs], "earns its keep on"]
    print(f"\n### Ablation on the fit cases ({(time.perf_counter() - started) / 60:.1f} min)\n")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    base = results["as shipped"]
    for row in ["as shipped", *chosen]:
        cells, keeps = [], []
        for n in names:
            m = results[row][n]
            for f in figs:
                if row == "as shipped":
                    cells.append(f"{m[f]:.3f}")
                else:
                    delta = m[f] - base[n][f]
                    cells.append(f"{delta:+.3f}")
            b = base[n]
            # what switching it off costs: less hit@3 or declined, more false abstention
            if (b["hit@3"] - m["hit@3"] >= NOISE or b["declined"] - m["declined"] >= NOISE
                    or m["false abst."] - b["false abst."] >= NOISE):
                keeps.append(n)
        label = row if row == "as shipped" else f"{row}: {table[row][0]}"
        print(f"| {label} | " + " | ".join(cells) + f" | {', '.join(keeps) if row != 'as shipped' else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
