"""The quality gate on the meeting corpora (issue 20, item 1: a small slice of every corpus, not of
one; the hearings have theirs in test_qmsum_gate.py).

For each of the product-design meetings (AMI) and the research-group meetings (ICSI): the first
SLICE meetings of the train split's held-back part (`service.eval.held_back`: a quarter of the
meetings, by a hash, never tuned on) are ingested by the project's own sync, and every train case
about them is asked as a user asks it: over the whole slice, and scoped to its meeting
(`filters.transcripts`, as a user who picked the meeting in the library asks). Questions written
for the committee hearings are asked over the same slice: there is no answer there, and each must
be declined.

Floors are this slice's own, measured on the code of the commit that added them and set ~0.05
below (a regression catcher, not the issue's targets: `python bench/quality.py` gives those).
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.e2e.eval.test_qmsum_gate import defaults_only, index_slice, say
from tests.fixtures.core import ROOT

SHARED = ROOT.parent / "shared"
SLICE = 4
TOP_K = 5
FOREIGN = 30  # hearings questions asked over each meeting slice

# Measured 2026-12-07 on these slices (passages as windows of turns, fitted parameters, extractive
# mode, top_k 5; the suite's run at 2114e1b), each floor about two cases below (the slices hold
# 22-24 answerable cases), and never below the floor it replaces:
#   product  scoped hit@1 0.417 hit@3 0.667 MRR 0.569 cites-gold 0.458 false abst. 0.208
#            whole  hit@1 0.250 hit@3 0.458 MRR 0.411 cites-gold 0.458 false abst. 0.208; declined 30/30
#   academic scoped hit@1 0.273 hit@3 0.682 MRR 0.460 cites-gold 0.636 false abst. 0.045
#            whole  hit@1 0.182 hit@3 0.591 MRR 0.365 cites-gold 0.500 false abst. 0.045; declined 29/30
FLOORS = {
    "product": {"scoped": {"hit_at_1": 0.33, "hit_at_3": 0.58, "mrr": 0.48, "cites_gold": 0.45},
                "whole": {"hit_at_1": 0.16, "hit_at_3": 0.37, "mrr": 0.32, "cites_gold": 0.37},
                "false_abstain": 0.29, "declined": 0.93},
    "academic": {"scoped": {"hit_at_1": 0.18, "hit_at_3": 0.59, "mrr": 0.37, "cites_gold": 0.54},
                 "whole": {"hit_at_1": 0.09, "hit_at_3": 0.50, "mrr": 0.27, "cites_gold": 0.41},
                 "false_abstain": 0.14, "declined": 0.90},
}
CORPORA = {
    "product": ("qmsum-product-train", "qmsum-product-train.jsonl"),
    "academic": ("qmsum-academic-train", "qmsum-academic-train.jsonl"),
}

missing = [p for folder, cases in CORPORA.values()
           for p in (SHARED / "corpora" / folder, SHARED / "eval" / cases) if not p.exists()]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"meeting corpora not present: {missing[:2]}")


@pytest.fixture(scope="module", params=sorted(CORPORA))
def gate(request, tmp_path_factory, embedder):
    from service.eval import held_back, load_cases, metrics, request_body, score_case
    from service.rag.chat_types import ChatRequest
    from service.rag.pipeline import build_pipeline

    name = request.param
    folder_name, cases_name = CORPORA[name]
    cases = load_cases(SHARED / "eval" / cases_name)
    meetings = sorted({c["transcript"] for c in cases if held_back(c)})[:SLICE]
    cases = [c for c in cases if c["transcript"] in meetings]
    hearings = [c for c in load_cases(SHARED / "eval" / "qmsum-train.jsonl") if c.get("answerable", True)]
    foreign = [{**c, "answerable": False} for c in hearings[::max(1, len(hearings) // FOREIGN)][:FOREIGN]]

    with defaults_only():
        settings, report, ingest_s = index_slice(tmp_path_factory.mktemp(f"gate-{name}"),
                                                 SHARED / "corpora" / folder_name, meetings, embedder)
        pipeline = build_pipeline(settings)

        def ask(some, scoped):
            return [score_case(c, pipeline.run(ChatRequest(**request_body(c, TOP_K, scoped))).model_dump())
                    for c in some]

        t = time.perf_counter()
        out = {"scoped": metrics(ask(cases, True)), "whole": metrics(ask(cases, False)),
               "foreign": metrics(ask(foreign, False))}
        asyncio.run(pipeline.aclose())
    say(request, f"\n[{name} gate] {len(meetings)} meetings ({report.added} passages) in {ingest_s:.0f} s; "
        f"{2 * len(cases) + len(foreign)} questions in {time.perf_counter() - t:.0f} s\n"
        + "\n".join(f"[{name} gate] {mode}: {json.dumps(m)}" for mode, m in out.items()))
    return {"name": name, "report": report, "meetings": meetings, "cases": cases, **out}


def test_the_slice_is_what_the_gate_claims(gate):
    assert gate["report"].transcripts == SLICE and not gate["report"].skipped
    assert len(gate["cases"]) >= 10, "too few cases to gate on"


@pytest.mark.parametrize("mode", ["scoped", "whole"])
def test_retrieval_is_above_its_floors(gate, mode):
    floors = FLOORS[gate["name"]][mode]
    m = gate[mode]
    low = {k: (m[k], f) for k, f in floors.items() if m[k] is None or m[k] < f}
    assert not low, f"{gate['name']} {mode}: below the floor (measured, floor): {low}; {json.dumps(m)}"


@pytest.mark.parametrize("mode", ["scoped", "whole"])
def test_answerable_questions_are_answered(gate, mode):
    most = FLOORS[gate["name"]]["false_abstain"]
    assert gate[mode]["false_abstain_rate"] <= most, \
        f"{gate['name']} {mode}: false abstention {gate[mode]['false_abstain_rate']} > {most}"


def test_questions_about_other_transcripts_are_declined(gate):
    declined = gate["foreign"]["abstain_accuracy"]
    floor = FLOORS[gate["name"]]["declined"]
    assert declined >= floor, f"{gate['name']}: {declined} of hearings questions declined < {floor}"
