"""The retrieval quality gate (issue 12, item 7): the QMSum validation cases over a slice of the corpus.

Product targets (issue 12), on the whole 36-hearing folder ../shared/corpora/qmsum-committee/:
hit@1 >= 0.60, hit@3 >= 0.80, MRR >= 0.70. Ingesting all 36 hearings takes minutes, too long for CI,
so this gate guards a slice instead and its floors are this slice's own, set a little under what
the code measured on it: the gate catches a regression, it does not certify the targets. The full
figures come from `rag-eval ../shared/eval/qmsum-val.jsonl` against an index of the whole folder.

The slice: the 6 hearings the 66 answerable validation cases are about (covid_2, covid_6,
education_0, education_10, education_18, education_22) and 4 distractors from the train meetings,
chosen to be as confusable with them as the corpus allows, so retrieval must still pick the right
sitting among similar ones:
- covid_0, covid_3: sittings of the same House of Commons Special Committee on the COVID-19
  Pandemic, same chair and procedure, the same ministers questioned by the same members on the
  same topics (benefits and their fraud, the wage subsidy, long-term care, the border);
- education_1, education_5: sittings of the same Welsh Children, Young People and Education
  Committee, same chair and members, on the same subjects (schools, the curriculum, teachers,
  children's services and funding).
Both committees are in the slice (3 + 3 hearings each, 2 + 2 distractors), which keeps it ~0.9 MB,
~2,600 passages: ingest here takes a couple of minutes (printed).

Every case is asked the way a user would: the question alone, top_k=5, no filters, nothing taken
from the case; the answer mode is the built-in extractive one. Scoring is rag-eval's
(`service.eval.score_case` and `metrics`). The 4 unanswerable cases check abstention.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from contextlib import contextmanager

import pytest

from tests.fixtures.core import ROOT

CORPUS = ROOT.parent / "shared" / "corpora" / "qmsum-committee"
VAL_CASES = ROOT.parent / "shared" / "eval" / "qmsum-val.jsonl"
GOLD = ["covid_2", "covid_6", "education_0", "education_10", "education_18", "education_22"]
DISTRACTORS = ["covid_0", "covid_3", "education_1", "education_5"]
SLICE = GOLD + DISTRACTORS
TOP_K = 5

# Floors: what the code measured on this slice (2026-12-06, code 605d3f8, extractive mode, top_k=5),
# minus ~0.05 and rounded down to 0.05 (about 3 of the 66 answerable cases of slack):
#   hit@1 0.6818 (45/66), hit@3 0.8182 (54/66), MRR 0.7455, cites-gold 0.7576 (50/66),
#   false abstention 0.0606 (4/66), abstention accuracy 1.00 (4/4), median source 467 chars,
#   longest 868; ingest of the 10 files (2,599 passages) 97 s, the 70 questions 2.1 s.
# (2026-12-01, before the phrase index: 0.6667 / 0.7879 / 0.7288, cites-gold 0.6818, false
# abstention 0.0758; the floors were 0.60 / 0.70 / 0.65, 0.60 and 0.15.)
FLOORS = {"hit_at_1": 0.60, "hit_at_3": 0.75, "mrr": 0.65, "cites_gold": 0.70}
MAX_FALSE_ABSTAIN = 0.11  # measured 0.0606 plus 0.05 (7 of the 66)
MAX_PASSAGE_CHARS = 2000
MAX_MEDIAN_PASSAGE_CHARS = 800

missing = [p for p in [VAL_CASES, *(CORPUS / f"{s}.txt" for s in SLICE)] if not p.is_file()]
pytestmark = pytest.mark.skipif(
    bool(missing), reason=f"QMSum corpus or cases not present (need ../shared/corpora/qmsum-committee/ "
    f"and ../shared/eval/qmsum-val.jsonl): missing {', '.join(str(p) for p in missing[:3])}")


@contextmanager
def defaults_only():
    """No setting comes from the environment: the gate measures the defaults."""
    from service.settings import ServiceSettings

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.lower() in ServiceSettings.model_fields:
                mp.delenv(key)
        yield


def index_slice(root, source, stems, embedder):
    """These transcripts of the folder `source` copied into root/transcripts and ingested with the
    project's sync into root/chroma (call it within `defaults_only`): the settings, the sync
    report and the seconds it took."""
    from ingest.store import chroma_client
    from ingest.sync import sync_paths
    from service.settings import ServiceSettings

    folder = root / "transcripts"
    folder.mkdir()
    for stem in stems:
        shutil.copy(source / f"{stem}.txt", folder / f"{stem}.txt")
    settings = ServiceSettings(_env_file=None, chroma_path=root / "chroma", transcripts_dir=folder,
                               answer_mode="extractive")
    t = time.perf_counter()
    report = sync_paths([folder], settings, embedder, chroma_client(settings))
    return settings, report, time.perf_counter() - t


def say(request, text: str) -> None:
    """Print past pytest's capture, so the CI log shows the figures of every run, green or red."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print(text)
        return
    with capman.global_and_fixture_disabled():
        print(text, flush=True)


@pytest.fixture(scope="module")
def gate(request, tmp_path_factory, embedder):
    """The slice ingested with the project's sync into a Chroma store under tmp, and every val case
    asked through the chat pipeline: the report, the indexed transcripts, the results and metrics."""
    from service.eval import load_cases, metrics, score_case
    from service.rag.chat_types import ChatRequest
    from service.rag.pipeline import build_pipeline

    with defaults_only():
        settings, report, ingest_s = index_slice(tmp_path_factory.mktemp("qmsum-gate"), CORPUS, SLICE, embedder)

        cases = load_cases(VAL_CASES)
        pipeline = build_pipeline(settings)
        indexed = sorted(pipeline.live_snapshot().transcript_ids)
        t = time.perf_counter()
        results = []
        for case in cases:
            response = pipeline.run(ChatRequest(messages=[{"role": "user", "content": case["question"]}],
                                                top_k=TOP_K)).model_dump()
            result = score_case(case, response)
            result["top"] = response["sources"][0]["transcript"] if response["sources"] else None
            result["gold_transcript"] = case.get("transcript")
            results.append(result)
        ask_s = time.perf_counter() - t
        asyncio.run(pipeline.aclose())

    m = metrics(results)
    say(request, f"\n[qmsum gate] ingest of {report.transcripts} transcripts ({report.added} passages): "
        f"{ingest_s:.1f} s; {len(cases)} questions: {ask_s:.1f} s\n[qmsum gate] metrics: {json.dumps(m)}")
    return {"report": report, "indexed": indexed, "cases": cases, "results": results, "metrics": m}


def misses(results: list[dict]) -> str:
    """Every answerable case missed in some way (not at rank 1, gold not cited, or abstained) with
    its rank, its gold transcript and the first source's, and every unanswerable case answered."""
    lines = [f"  {r['id']}: rank={r['rank']} gold={r['gold_transcript']} top={r['top']} "
             f"abstained={r['abstained']} cites_gold={r['cites_gold']}"
             for r in results if r["answerable"] and (r["rank"] != 1 or not r["cites_gold"] or r["abstained"])]
    lines += [f"  {r['id']}: unanswerable, answered (evidence={r['evidence']}): {r['answer'][:120]!r}"
              for r in results if not r["answerable"] and not r["abstained"]]
    return "\n".join(lines) or "  (none)"


def explain(gate: dict) -> str:
    return f"\nmetrics: {json.dumps(gate['metrics'])}\nfloors: {json.dumps(FLOORS)}, false abstention <= " \
           f"{MAX_FALSE_ABSTAIN}\nmissed (rank != 1, gold not cited, abstained) or wrongly answered:\n" \
           f"{misses(gate['results'])}"


def test_the_slice_is_what_the_gate_claims(gate):
    """The gate's own sanity: all 10 hearings ingested, and every answerable case's gold among them."""
    report = gate["report"]
    assert report.transcripts == len(SLICE) and not report.skipped, (report.counts(), report.skipped)
    assert gate["indexed"] == sorted(SLICE), gate["indexed"]
    answerable = [c for c in gate["cases"] if c.get("answerable", True)]
    unanswerable = [c for c in gate["cases"] if not c.get("answerable", True)]
    assert (len(answerable), len(unanswerable)) == (66, 4)
    outside = sorted({c["id"] for c in answerable if c.get("transcript") not in GOLD})
    assert not outside, f"answerable cases whose transcript is not in the slice: {outside}"
    assert {c["transcript"] for c in answerable} == set(GOLD)


def test_retrieval_is_above_its_floors(gate):
    m = gate["metrics"]
    low = {k: (m[k], floor) for k, floor in FLOORS.items() if m[k] is None or m[k] < floor}
    assert not low, f"below the floor (measured, floor): {low}{explain(gate)}"


def test_unanswerable_questions_are_declined(gate):
    m = gate["metrics"]
    assert m["abstain_accuracy"] == 1.0, f"an unanswerable question was answered{explain(gate)}"


def test_answerable_questions_are_answered(gate):
    m = gate["metrics"]
    assert m["false_abstain_rate"] <= MAX_FALSE_ABSTAIN, \
        f"false abstention {m['false_abstain_rate']} > {MAX_FALSE_ABSTAIN}{explain(gate)}"


def test_passages_stay_short(gate):
    m = gate["metrics"]
    long = sorted({(r["id"], n) for r in gate["results"] for n in r["lengths"] if n > MAX_PASSAGE_CHARS})
    assert not long, f"sources over {MAX_PASSAGE_CHARS} chars (case, chars): {long}{explain(gate)}"
    assert m["median_passage_chars"] <= MAX_MEDIAN_PASSAGE_CHARS, \
        f"median source {m['median_passage_chars']} chars > {MAX_MEDIAN_PASSAGE_CHARS}{explain(gate)}"
