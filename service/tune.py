"""rag-tune: fit the parameters of retrieval and answering on train splits (service/rag/params.json).

What is fitted, on the `fit` part of every corpus in eval/corpora.toml (each train set less the
quarter of its transcripts `service.eval.held_back` keeps for checking; nothing of `held` or of
qmsum-val is read):

1. The fusion weights (service/rag/retrieve.py, FEATURES). For each question (asked over the whole
   folder, and within its transcript where the set says so) the passages that hold a gold phrase
   are paired with the ones that do not among the candidates (the best by keywords and the best
   by meaning: they do not depend on the weights being fitted); a logistic regression
   without intercept on the feature differences of the pairs (pairwise learning to rank) gives
   the weights. Each corpus weighs the same, whatever its number of questions.
2. The weights of what makes a sentence the answer (service/rag/extractive.py, SENTENCE_FEATURES):
   pairs of a gold sentence against another sentence of the passages shown (of the same passage or
   another), fitted the same way.
3. The abstention model (service/rag/extractive.py, EVIDENCE_FEATURES), with the fitted fusion:
   a logistic regression of "the transcripts answer it" on the evidence features. Answerable:
   the answerable questions. Not answerable: the unanswerable ones, and every question of the
   other corpora asked over this corpus's index (no hearing answers a question about a remote
   control's buttons): thousands of cases that cost nothing to write. Corpora weigh the same;
   within one, the answerable questions weigh half, the hand-written unanswerable ones (near
   misses: the corpus's subject, a fact it lacks) a quarter, the other corpora's a quarter.

4. The topic gap (service/rag/topics.py), with the fitted fusion: each answerable question is
   searched over single turns, as a topic is; the gap below the best turn that holds
   TOPIC_COVERAGE of the turns with a gold phrase (each corpus weighing the same).
The windows' size is read from the current file (bench/ablation.py and docs/quality.md: how it was chosen).
Then it prints the figures of every corpus (fit and held, whole and scoped, other corpora's
questions declined) with the new parameters, and writes them (--out; the shipped file by default).
`--leave-out NAME` fits on the other corpora and reports NAME: the leave-one-corpus-out check.

examples:
  rag-tune                                   fit on every corpus, write service/rag/params.json
  rag-tune --leave-out product --out /tmp/p.json   fit without the product meetings, measure them
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import random
import sys
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "eval" / "corpora.toml"
TOP = 30  # the candidates a question's pairs are drawn from (the reranker sees this many)
PAIRS_PER_QUESTION = 60
FOREIGN_PER_CORPUS = 300  # questions of each other corpus asked over a corpus's index
# A topic's turns (service/rag/topics.py) reach down from the best turn as far as the median
# gold turn: a gold span of these sets holds its topic's filler turns too ("Yes.", "Okay, thank
# you."), so nine in ten of them reach down to a turn about nothing (the 0.9 quantile, a gap of 10,
# kept 400 turns of three hearings for "school exclusions"; the median keeps 35, 23 of them in
# the hearing on exclusions).
TOPIC_COVERAGE = 0.5


@dataclass
class Corpus:
    name: str
    folder: Path
    cases: list[dict]
    scoped: bool
    pipeline: object = None
    texts: list[str] = field(default_factory=list)  # the passages' texts, normalised


def corpus_files(path: Path = CORPORA) -> dict[str, dict]:
    """Each corpus of eval/corpora.toml: its folder, case files, `scoped` and `val` (paths resolved
    against the file)."""
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    return {name: {
        "folder": (path.parent / c["folder"]).resolve(),
        "cases": [Path(f) for pattern in c["cases"] for f in sorted(glob.glob(str(path.parent / pattern)))],
        "scoped": bool(c.get("scoped")),
        "val": (path.parent / c["val"]).resolve() if c.get("val") else None,
    } for name, c in spec.items()}


def read_corpora(path: Path = CORPORA) -> dict[str, Corpus]:
    """The corpora of eval/corpora.toml with their cases."""
    from service.eval import load_cases

    return {name: Corpus(name, c["folder"], [case for f in c["cases"] for case in load_cases(f)], c["scoped"])
            for name, c in corpus_files(path).items()}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def index(corpus: Corpus, embedder, root: Path):
    """The corpus ingested whole by the project's own ingest (kept under `root`, per ingest code)."""
    from ingest import store as ix
    from ingest.sync import sync_paths
    from service.settings import ServiceSettings

    code = hashlib.sha1(b"".join(p.read_bytes() for p in sorted((ROOT / "ingest").rglob("*.py")))).hexdigest()[:10]
    settings = ServiceSettings(transcripts_dir=corpus.folder, chroma_path=root / f"{corpus.name}-{code}", chat_rate_limit=0)
    t = time.perf_counter()
    report = sync_paths([corpus.folder], settings, embedder, ix.chroma_client(settings))
    log(f"{corpus.name}: {report.added + report.updated + report.unchanged} turns in {time.perf_counter() - t:.0f} s")
    return settings


def single(cases: list[dict]) -> list[dict]:
    return [c for c in cases if len(c["messages"]) == 1]


def modes(corpus: Corpus, case: dict) -> list[bool]:
    """Asked over the whole folder (False), and within its transcript (True) where the set says so."""
    return [False, True] if corpus.scoped and case.get("transcript") else [False]


def scope_of(pipeline, case: dict, scoped: bool):
    from service.rag.scope import Scope

    return Scope(transcripts=frozenset([case["transcript"]])) if scoped else None


# --- 1. fusion ---------------------------------------------------------------------------------
def fusion_pairs(corpus: Corpus, fit: list[dict], rng: random.Random) -> tuple[list[np.ndarray], int]:
    """Feature differences (gold passage - other passage) of each question's pairs."""
    from service.eval import normalise
    from service.rag.retrieve import FEATURES

    retriever = corpus.pipeline.retriever
    texts = [normalise(t) for t in retriever.snap.passages.texts]
    diffs, questions = [], 0
    for case in single(fit):
        gold = [normalise(p) for p in case.get("passage_any", [])]
        if not case.get("answerable", True) or not gold:
            continue
        for scoped in modes(corpus, case):
            scope = scope_of(corpus.pipeline, case, scoped)
            feats, mask = retriever.features(case["messages"][0]["content"], scope)
            # Candidates that do not depend on the weights being fitted (so one run gives the fit,
            # whatever the file held before): the best by keywords and the best by meaning.
            pool: list[int] = []
            for column in (FEATURES.index("keywords"), FEATURES.index("meaning")):
                score = feats[:, column] if mask is None else np.where(mask, feats[:, column], -np.inf)
                pool += [int(r) for r in np.argsort(-score, kind="stable")[: TOP * 2] if np.isfinite(score[r])]
            order = list(dict.fromkeys(pool))
            holds = [r for r in order if any(g in texts[r] for g in gold)]
            others = [r for r in order if r not in set(holds)]
            pairs = [(a, b) for a in holds[:5] for b in others]
            if not pairs:
                continue
            questions += 1
            for a, b in rng.sample(pairs, min(PAIRS_PER_QUESTION, len(pairs))):
                diffs.append(feats[a] - feats[b])
    return diffs, questions


# --- 2. the answer sentences -----------------------------------------------------------------
def sentence_pairs(corpus: Corpus, fit: list[dict], rng: random.Random) -> list[np.ndarray]:
    """Feature differences (a gold sentence - another sentence of the passages shown, in the same
    passage or another) for each answerable question's evidence."""
    from service.eval import normalise, request_body
    from service.rag.chat_types import ChatRequest
    from service.rag.extractive import SENTENCE_FEATURES

    pipeline, diffs = corpus.pipeline, []
    for case in single(fit):
        gold = [normalise(p) for p in case.get("passage_any", [])]
        if not case.get("answerable", True) or not gold:
            continue
        for scoped in modes(corpus, case):
            request = ChatRequest(**request_body(case, 5, scoped))
            retrieval = pipeline._retrieve(request, None, pipeline.scope(request))
            rows = pipeline.answerer.sentence_features(pipeline.evidence.build(retrieval))
            texts = {n: normalise(h.text) for n, h in enumerate(retrieval.hits, 1)}
            holds = {n for n, t in texts.items() if any(g in t for g in gold)}
            vec = [np.array([f[k] for k in SENTENCE_FEATURES]) for _, _, f in rows]
            said = [p.n in holds and any(normalise(s.text) in g for g in gold) for p, s, _ in rows]
            good = [v for v, g in zip(vec, said) if g]
            bad = [v for v, g in zip(vec, said) if not g]  # in any passage: the choice within one counts too
            pairs = [(a, b) for a in good for b in bad]
            for a, b in rng.sample(pairs, min(PAIRS_PER_QUESTION, len(pairs))):
                diffs.append(a - b)
    return diffs


def fit_pairs(data: dict[str, list[np.ndarray]], names: tuple[str, ...], unit: str) -> dict[str, float]:
    """Weights of `names` from pairs' feature differences (better - worse), each corpus weighing
    the same; in units of `unit`'s weight (only their ratios count)."""
    from sklearn.linear_model import LogisticRegression

    xs, ws = [], []
    for diffs in data.values():
        xs += diffs
        ws += [1.0 / len(diffs)] * len(diffs) if diffs else []
    x = np.array(xs)
    w = np.array(ws) * len(xs) / len(data)
    model = LogisticRegression(fit_intercept=False, C=1.0, max_iter=1000)
    model.fit(np.vstack([x, -x]), np.r_[np.ones(len(x)), np.zeros(len(x))], sample_weight=np.r_[w, w])
    coef = model.coef_[0]
    scale = coef[names.index(unit)] or 1.0
    return {name: round(float(c / scale), 4) for name, c in zip(names, coef)}


# --- 3. abstention ---------------------------------------------------------------------------
def evidence_rows(corpus: Corpus, cases: list[dict], answerable: bool | None) -> list[dict[str, float]]:
    """The evidence features of each case's question (None when no sentence holds the kind of answer
    asked for: that is declined by structure, not by the model); `answerable` None: the case says."""
    from service.eval import request_body
    from service.rag.chat_types import ChatRequest

    out = []
    for case in cases:
        for scoped in modes(corpus, case) if answerable is None else [False]:
            request = ChatRequest(**request_body(case, 5, scoped))
            feats = corpus.pipeline.evidence_features(request)
            label = case.get("answerable", True) if answerable is None else answerable
            group = "foreign" if answerable is not None else ("answerable" if label else "unanswerable")
            if feats is not None:
                out.append({**feats, "_label": float(label), "_group": group})
    return out


def fit_abstention(data: dict[str, list[dict]]) -> tuple[dict[str, float], float]:
    from sklearn.linear_model import LogisticRegression

    from service.rag.extractive import EVIDENCE_FEATURES

    # Each corpus weighs the same; within it, answerable questions weigh half, and the half that
    # must be declined is shared by the hand-written unanswerable questions (near misses: the
    # corpus's own subject, a fact it lacks) and the other corpora's questions (another subject).
    share = {"answerable": 0.5, "unanswerable": 0.25, "foreign": 0.25}
    xs, ys, ws = [], [], []
    for rows in data.values():
        groups = {g: [r for r in rows if r["_group"] == g] for g in share}
        if not groups["unanswerable"]:
            share_here = {"answerable": 0.5, "unanswerable": 0.0, "foreign": 0.5}
        elif not groups["foreign"]:
            share_here = {"answerable": 0.5, "unanswerable": 0.5, "foreign": 0.0}
        else:
            share_here = share
        for g, some in groups.items():
            xs += [[r[f] for f in EVIDENCE_FEATURES] for r in some]
            ys += [r["_label"] for r in some]
            ws += [share_here[g] / len(some)] * len(some) if some else []
    model = LogisticRegression(C=1.0, max_iter=2000)
    w = np.array(ws) * len(ws) / max(1, len(data))
    model.fit(np.array(xs), np.array(ys), sample_weight=w)
    return ({f: round(float(c), 4) for f, c in zip(EVIDENCE_FEATURES, model.coef_[0])},
            round(float(model.intercept_[0]), 4))


# --- 4. topics ----------------------------------------------------------------------------------
def topic_gaps(corpus: Corpus, fit: list[dict]) -> list[float]:
    """For each answerable question asked over the whole folder, searched over single turns as a
    topic is (service/rag/topics.py): how far below the best turn each turn holding a gold phrase
    scores (inf for one not among the POOL turns scored)."""
    from service.eval import normalise
    from service.rag.topics import POOL

    retriever, gaps = corpus.pipeline.retriever, []
    for case in single(fit):
        gold = [normalise(p) for p in case.get("passage_any", [])]
        if not case.get("answerable", True) or not gold:
            continue
        hits = retriever.retrieve(case["messages"][0]["content"], k=POOL, single_turns=True).hits
        found = [hits[0].score - h.score for h in hits if any(g in normalise(h.text) for g in gold)]
        gaps += found or [float("inf")]
    return gaps


def fit_gap(gaps: dict[str, list[float]], coverage: float = TOPIC_COVERAGE) -> float:
    """The gap below the best turn within which `coverage` of the gold turns fall, each corpus
    weighing the same (a weighted quantile)."""
    values = np.concatenate([np.asarray(g, float) for g in gaps.values() if g])
    weights = np.concatenate([np.full(len(g), 1.0 / len(g)) for g in gaps.values() if g])
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    gap = float(values[order][min(np.searchsorted(cumulative, coverage), len(values) - 1)])
    if not np.isfinite(gap):
        raise SystemExit(f"fewer than {coverage:.0%} of the gold turns are among the turns a topic scores")
    return round(gap, 4)


# --- figures ------------------------------------------------------------------------------------
def figures(corpus: Corpus, cases: list[dict], scoped: bool) -> dict:
    from service.eval import metrics, request_body, score_case
    from service.rag.chat_types import ChatRequest

    results = [score_case(c, corpus.pipeline.run(ChatRequest(**request_body(c, 5, scoped)))
                          .model_dump()) for c in cases]
    return metrics(results)


def report(corpora: dict[str, Corpus], foreign: dict[str, list[dict]], names: list[str]) -> list[list]:
    from service.eval import held_back

    rows = []
    for name in names:
        c = corpora[name]
        for part, some in (("fit", [x for x in c.cases if not held_back(x)]),
                           ("held", [x for x in c.cases if held_back(x)])):
            for scoped in ([False, True] if c.scoped else [False]):
                chosen = [x for x in some if not scoped or x.get("transcript")]
                m = figures(c, chosen, scoped)
                rows.append([name, part, "scoped" if scoped else "whole", m["n"], m["hit_at_1"], m["hit_at_3"],
                             m["mrr"], m["cites_gold"], m["false_abstain_rate"], m["abstain_accuracy"]])
        m = figures(c, [{**x, "answerable": False} for x in foreign[name]], False)
        rows.append([name, "foreign", "whole", m["n"], None, None, None, None, None, m["abstain_accuracy"]])
    return rows


def table(rows: list[list]) -> str:
    head = ["corpus", "cases", "mode", "n", "hit@1", "hit@3", "MRR", "cites-gold", "false abst.", "declined"]
    cell = lambda v: "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rag-tune", description=__doc__.split("\n\n")[0],
                                     epilog="examples:" + __doc__.split("examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=CORPORA, help="the corpora file (eval/corpora.toml)")
    parser.add_argument("--index-root", type=Path, default=ROOT / "var" / "bench" / "quality")
    parser.add_argument("--out", type=Path, help="where to write the parameters (default: the shipped file; "
                        "with --leave-out: nowhere)")
    parser.add_argument("--leave-out", help="fit without this corpus, and report it")
    parser.add_argument("--no-fit", action="store_true", help="only report the current parameters")
    args = parser.parse_args(argv)

    from ingest.embed import load_embedder
    from ingest.settings import IndexSettings
    from service.eval import held_back
    from service.rag import params as P
    from service.rag.extractive import SENTENCE_FEATURES
    from service.rag.pipeline import build_pipeline
    from service.rag.retrieve import FEATURES

    started = time.perf_counter()
    corpora = read_corpora(args.corpora)
    if args.leave_out and args.leave_out not in corpora:
        parser.error(f"--leave-out {args.leave_out}: not a corpus of {args.corpora} ({', '.join(corpora)})")
    embedder = load_embedder(IndexSettings())
    params = P.load(None)
    for c in corpora.values():
        c.pipeline = build_pipeline(index(c, embedder, args.index_root))
        c.pipeline.use(params)
    train = [n for n in corpora if n != args.leave_out]
    rng = random.Random(20)
    fit = {n: [x for x in corpora[n].cases if not held_back(x)] for n in corpora}
    foreign = {}
    for n, c in corpora.items():  # other corpora's answerable questions, asked over this index
        others = [m for m in train if m != n]  # never the left-out corpus's questions
        pool = [x for m in others for x in single(fit[m]) if x.get("answerable", True)]
        foreign[n] = rng.sample(pool, min(FOREIGN_PER_CORPUS * len(others), len(pool)))

    if not args.no_fit:
        t = time.perf_counter()
        pairs = {n: fusion_pairs(corpora[n], fit[n], rng) for n in train}
        fusion = fit_pairs({n: d for n, (d, _) in pairs.items()}, FEATURES, "meaning")
        log(f"fusion from {sum(len(d) for d, _ in pairs.values())} pairs of "
            f"{sum(q for _, q in pairs.values())} questions in {time.perf_counter() - t:.0f} s: {fusion}")
        params = replace(params, fusion=fusion)
        for c in corpora.values():
            c.pipeline.use(params)
        t = time.perf_counter()
        chosen = {n: sentence_pairs(corpora[n], fit[n], rng) for n in train}
        sentences = fit_pairs(chosen, SENTENCE_FEATURES, "similarity")
        log(f"sentences from {sum(map(len, chosen.values()))} pairs in {time.perf_counter() - t:.0f} s: {sentences}")
        params = replace(params, sentences=sentences)
        for c in corpora.values():
            c.pipeline.use(params)
        t = time.perf_counter()
        rows = {n: evidence_rows(corpora[n], fit[n], None)
                + evidence_rows(corpora[n], foreign[n], False) for n in train}
        weights, bias = fit_abstention(rows)
        log(f"abstention from {sum(len(r) for r in rows.values())} cases in {time.perf_counter() - t:.0f} s: "
            f"bias {bias}, {weights}")
        t = time.perf_counter()
        gaps = {n: topic_gaps(corpora[n], fit[n]) for n in train}
        gap = fit_gap(gaps)
        log(f"topic gap {gap} from {sum(map(len, gaps.values()))} gold turns in {time.perf_counter() - t:.0f} s")
        params = replace(params, abstention=P.Logistic(weights, bias), topic_gap=gap, fitted={
            "by": "rag-tune", "on": train, "date": time.strftime("%Y-%m-%d"),
            "fusion_pairs": {n: len(d) for n, (d, _) in pairs.items()},
            "sentence_pairs": {n: len(d) for n, d in chosen.items()},
            "abstention_cases": {n: len(r) for n, r in rows.items()},
            "topic_gold_turns": {n: len(g) for n, g in gaps.items()},
        })
        for c in corpora.values():
            c.pipeline.use(params)
    shown = [args.leave_out] if args.leave_out else list(corpora)
    print(f"\n### rag-tune ({'fitted on ' + ', '.join(train) if not args.no_fit else 'current parameters'}; "
          f"{(time.perf_counter() - started) / 60:.1f} min)\n")
    print(table(report(corpora, foreign, shown)))
    print("\nfusion:", json.dumps(params.fusion), "\nsentences:", json.dumps(params.sentences), "\nabstention:", json.dumps(params.abstention.weights),
          "bias", params.abstention.bias)
    out = args.out or (None if args.leave_out or args.no_fit else P.SHIPPED)
    if out:
        params.save(out)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
