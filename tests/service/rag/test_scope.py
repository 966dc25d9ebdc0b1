"""Scope and resolve_scope over the chunk records the real parser and chunker make of the hearing and
the sample interview (no Chroma: the Chroma `where` clause is checked against a real store in
tests/service/api/test_filters_api.py)."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest

from ingest import store as ix
from ingest.chunk import chunk_transcript
from ingest.parse import parse_text
from ingest.speakers import SpeakerNames
from service.rag.errors import AnswerError, FilterError
from service.rag.per_snapshot import PerSnapshot
from service.rag.scope import Scope, resolve_scope, speakers_in
from tests.fixtures.core import SAMPLE
from tests.fixtures.hearing import HEARING, HEARING_ID, SAMPLE_ID

ALL_HEARING = {"Jane Roe", "Bill Morneau", "Gabriel Ste-Marie", "Pierre Poilievre"}


class Snap:
    """What resolve_scope reads of a snapshot: `docs` and `speakers` (SpeakerNames)."""

    def __init__(self, docs: dict[str, tuple[str, dict]]):
        self.docs = docs
        names = {m[ix.K_SPEAKER] for _, m in docs.values() if m[ix.K_SPEAKER]}
        self.speakers = SpeakerNames(names, (text for text, _ in docs.values()))


@pytest.fixture(scope="module")
def snap() -> Snap:
    docs = {}
    for text, tid in ((HEARING, HEARING_ID), (SAMPLE.read_text(encoding="utf-8"), SAMPLE_ID)):
        for chunk in chunk_transcript(parse_text(text, tid), 700):
            docs[chunk.id] = (chunk.text, chunk.metadata)
    return Snap(docs)


def filters(transcripts=None, speakers=None):
    return SimpleNamespace(transcripts=transcripts, speakers=speakers)


def test_scope_allows_and_where():
    meta = {ix.K_TRANSCRIPT: HEARING_ID, ix.K_SPEAKER: "Bill Morneau"}
    assert Scope().allows(meta) and Scope().where() is None
    by_transcript = Scope(transcripts=frozenset({HEARING_ID, "b"}))
    assert by_transcript.allows(meta) and not by_transcript.allows({**meta, ix.K_TRANSCRIPT: "c"})
    assert by_transcript.where() == {"transcript": {"$in": ["b", HEARING_ID]}}
    by_speaker = Scope(speakers=frozenset({"Jane Roe"}))
    assert not by_speaker.allows(meta) and by_speaker.allows({**meta, ix.K_SPEAKER: "Jane Roe"})
    assert by_speaker.where() == {"speaker": {"$in": ["Jane Roe"]}}
    both = Scope(frozenset({HEARING_ID}), frozenset({"Bill Morneau"}))
    assert both.allows(meta) and not both.allows({**meta, ix.K_TRANSCRIPT: SAMPLE_ID})
    assert both.where() == {
        "$and": [{"transcript": {"$in": [HEARING_ID]}}, {"speaker": {"$in": ["Bill Morneau"]}}]
    }


@pytest.mark.parametrize("given", [None, filters(), filters([], []), filters(["  "], None)])
def test_no_filter_is_no_scope(snap, given):
    assert resolve_scope(given, snap) is None


def test_transcripts_by_id(snap):
    assert resolve_scope(filters([HEARING_ID, SAMPLE_ID, HEARING_ID]), snap) == Scope(
        frozenset({HEARING_ID, SAMPLE_ID}), None
    )


@pytest.mark.parametrize(
    "written",
    [
        "Ste-Marie",
        "Mr. Ste-Marie",
        "Mr. Gabriel Ste-Marie (Joliette, BQ)",
        "gabriel ste-marie",
        "Gabriel Ste-Marie",
    ],
)
def test_a_speaker_written_as_people_write_them(snap, written):
    assert resolve_scope(filters(speakers=[written]), snap) == Scope(
        None, frozenset({"Gabriel Ste-Marie"})
    )


def test_a_speaker_by_the_label_a_transcript_writes():
    """ "The Chair" is no name, but it is how the hearing labels Jane Roe."""
    docs = {
        c.id: (c.text, c.metadata) for c in chunk_transcript(parse_text(HEARING, HEARING_ID), 700)
    }
    assert resolve_scope(filters(speakers=["The Chair", "the  chair"]), Snap(docs)).speakers == {
        "Jane Roe"
    }


def test_speakers_within_transcripts(snap):
    scope = resolve_scope(filters([HEARING_ID], ["Morneau", "Mr. Poilievre"]), snap)
    assert scope == Scope(frozenset({HEARING_ID}), frozenset({"Bill Morneau", "Pierre Poilievre"}))
    assert scope.speakers <= ALL_HEARING


def test_unknown_transcript_is_named_with_where_to_look(snap):
    with pytest.raises(FilterError) as caught:
        resolve_scope(filters(["no-such-hearing", SAMPLE_ID]), snap)
    err = caught.value
    assert isinstance(err, AnswerError) and err.status == 422
    assert "filters.transcripts" in err.detail and "'no-such-hearing'" in err.detail
    assert SAMPLE_ID not in err.detail and "GET /v1/transcripts" in err.detail


def test_a_near_miss_is_suggested(snap):
    with pytest.raises(FilterError, match=f"did you mean '{HEARING_ID}'"):
        resolve_scope(filters(["committees/finance-hearings"]), snap)


def test_unknown_speaker_is_named(snap):
    with pytest.raises(FilterError) as caught:
        resolve_scope(filters(speakers=["Ste-Marie", "Nobody Atall"]), snap)
    assert "filters.speakers" in caught.value.detail and "'Nobody Atall'" in caught.value.detail
    assert "Ste-Marie" not in caught.value.detail and "GET /v1/transcripts" in caught.value.detail


def test_unknown_transcripts_and_speakers_are_both_named(snap):
    with pytest.raises(FilterError) as caught:
        resolve_scope(filters(["nope"], ["Nobody Atall"]), snap)
    assert "'nope'" in caught.value.detail and "'Nobody Atall'" in caught.value.detail


def test_a_speaker_who_never_speaks_in_those_transcripts(snap):
    with pytest.raises(FilterError) as caught:
        resolve_scope(filters([HEARING_ID], ["Morneau", "Jin"]), snap)
    detail = caught.value.detail
    assert f"'Jin' (Xuan Jin) never speaks in the transcript '{HEARING_ID}'" in detail
    assert "Morneau" not in detail
    with pytest.raises(FilterError, match="'Xuan Jin' never speaks"):
        resolve_scope(filters([HEARING_ID], ["Xuan Jin"]), snap)


def test_a_long_list_of_unknown_values_is_cut_short(snap):
    with pytest.raises(FilterError) as caught:
        resolve_scope(filters([f"nope-{i}" for i in range(25)]), snap)
    assert "'nope-9'" in caught.value.detail and "nope-10" not in caught.value.detail
    assert "and 15 more" in caught.value.detail


def test_per_snapshot_builds_once_per_snapshot_and_lets_old_ones_go():
    built = []

    class Snapshot:
        pass

    cache = PerSnapshot(lambda snapshot: built.append(snapshot) or len(built))
    first, second = Snapshot(), Snapshot()
    assert cache.get(first) == cache.get(first) == 1
    assert cache.get(second) == 2 and cache.get(first) == 3  # a new snapshot replaces the old
    assert len(built) == 3
    built.clear()
    del first, second
    gc.collect()
    assert cache._ref() is None  # the cache does not keep a replaced snapshot alive


def test_the_speakers_who_speak_in_a_scope(snap):
    assert speakers_in(Scope(frozenset({HEARING_ID})), snap) == ALL_HEARING
    assert speakers_in(Scope(speakers=frozenset({"Bill Morneau", "Jane Roe"})), snap) == {"Bill Morneau", "Jane Roe"}
    assert speakers_in(Scope(frozenset({SAMPLE_ID}), frozenset({"Bill Morneau"})), snap) == frozenset()
