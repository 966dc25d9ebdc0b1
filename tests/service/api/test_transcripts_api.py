"""GET /v1/transcripts and GET /v1/transcripts/{id}: the real app through its lifespan over a real
Chroma index (the sample interview and a hearing in a subfolder), checked against what the real
parser and chunker make of the same files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.chunk import chunk_transcript
from ingest.parse import parse_text
from service.rag import library
from tests.fixtures.core import SAMPLE, SAMPLE_CHUNKS
from tests.fixtures.hearing import (
    HEARING,
    HEARING_FILE,
    HEARING_ID,
    HEARING_ROLES,
    HEARING_TURNS,
    SAMPLE_ID,
)


@pytest.fixture(scope="module")
def client(library_client):
    return library_client


def parsed(text: str, tid: str):
    transcript = parse_text(text, tid)
    return transcript, chunk_transcript(transcript, 700)


def test_the_list_names_every_transcript_with_its_speakers_and_counts(client):
    r = client.get("/v1/transcripts")
    assert r.status_code == 200
    body = r.json()
    assert [t["id"] for t in body["transcripts"]] == [SAMPLE_ID, HEARING_ID]  # sorted by id
    assert body["index_generation"] == client.app.state.pipeline.retriever.snap.generation
    interview, hearing = body["transcripts"]

    sample, sample_chunks = parsed(SAMPLE.read_text(encoding="utf-8"), SAMPLE_ID)
    assert interview["title"] == sample.title and interview["kind"] == "interview"
    assert (
        interview["turns"] == len(sample.turns)
        and interview["chunks"] == len(sample_chunks) == SAMPLE_CHUNKS
    )
    assert interview["speakers"] == [
        {
            "name": "Xuan Jin",
            "role": "Lead Solutions Architect at Alibaba Cloud",
            "turns": len(sample.turns),
        }
    ]
    assert interview["source"] == SAMPLE.name

    conversation, conversation_chunks = parsed(HEARING, HEARING_ID)
    assert hearing["title"] == conversation.title and hearing["kind"] == "conversation"
    assert (
        hearing["turns"] == len(HEARING_TURNS) == 13
        and hearing["chunks"] == len(conversation_chunks) == 15
    )
    assert hearing["speakers"] == [  # most turns first
        {"name": "Bill Morneau", "role": "Minister of Finance", "turns": 5},
        {"name": "Jane Roe", "role": "The Chair", "turns": 4},
        {"name": "Gabriel Ste-Marie", "role": "Joliette, BQ", "turns": 2},
        {"name": "Pierre Poilievre", "role": "Carleton, CPC", "turns": 2},
    ]
    assert {s["name"]: s["role"] for s in hearing["speakers"]} == HEARING_ROLES
    assert hearing["source"] == HEARING_FILE  # the file name only: no folder, no server path
    assert "/" not in hearing["source"] and "\\" not in hearing["source"]
    for t in body["transcripts"]:
        ingested = datetime.strptime(t["ingested_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - ingested).total_seconds()) < 3600


def test_the_list_is_built_once_per_index_snapshot(client):
    pipeline = client.app.state.pipeline
    snap = pipeline.retriever.snap
    assert library.transcripts(snap) is library.transcripts(snap)  # a repeat call costs a lookup
    first = client.get("/v1/transcripts").json()
    pipeline.retriever.refresh()  # what an ingest does: a new snapshot of the index
    assert pipeline.retriever.snap is not snap
    assert library.transcripts(pipeline.retriever.snap) is not library.transcripts(snap)
    assert client.get("/v1/transcripts").json() == first


def test_reading_is_open_while_uploading_still_needs_the_ingest_check(client):
    """The test client is no loopback address and no API_KEY is set: it may read the transcripts
    (like the chat), but an upload to the same path is refused as before."""
    assert client.get("/v1/transcripts").status_code == 200
    r = client.post(
        "/v1/transcripts", files={"files": ("x.txt", b"Q: Why?\n\nA: Because.", "text/plain")}
    )
    assert r.status_code == 403 and "only open to this machine" in r.json()["detail"]


def test_an_interview_in_detail_shows_each_answer_with_its_question(client):
    r = client.get(f"/v1/transcripts/{SAMPLE_ID}")
    assert r.status_code == 200
    body = r.json()
    sample, _ = parsed(SAMPLE.read_text(encoding="utf-8"), SAMPLE_ID)
    assert (body["id"], body["title"], body["kind"]) == (SAMPLE_ID, sample.title, "interview")
    # the intro passage as indexed (an image caption in it included), without the title (its own field)
    assert body["intro"].endswith(sample.intro) and not body["intro"].startswith(sample.title)
    assert "The Leadership Network sat down with Xuan Jin" in body["intro"]
    turns = body["turns"]
    assert [t["number"] for t in turns] == [t.number for t in sample.turns]
    assert [t["question"] for t in turns] == [t.question for t in sample.turns]
    assert (
        turns[0]["question"]
        == "Tell us about your background and how did you end up working for Alibaba."
    )
    assert all(t["speaker"] == "Xuan Jin" and t["prompted_by"] is None for t in turns)
    assert all(t["role"] == "Lead Solutions Architect at Alibaba Cloud" for t in turns)
    # each turn's text is its passages in order, and each span is where that passage is in the file
    text = SAMPLE.read_text(encoding="utf-8")
    for turn, want in zip(turns, sample.turns, strict=True):
        assert turn["text"] == " ".join(text[s:e] for s, e in turn["spans"])
        assert turn["spans"][0][0] == want.paragraphs[0].start
    assert max(len(t["spans"]) for t in turns) == 3  # a long answer is three passages


def test_a_conversation_in_detail_keeps_turn_order_speakers_and_what_each_follows(client):
    r = client.get(f"/v1/transcripts/{HEARING_ID}")  # an id with a "/"
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["kind"]) == (HEARING_ID, "conversation")
    assert (
        body["title"] == "Standing Committee on Finance, Meeting 12: the pandemic support programs"
    )
    assert body["intro"] == (
        "Evidence of the meeting held by videoconference. The committee studies the "
        "government's response to the pandemic."
    )
    turns = body["turns"]
    assert [t["number"] for t in turns] == list(range(1, 14))
    assert [(t["speaker"], t["label"]) for t in turns] == HEARING_TURNS
    assert turns[5]["label"] == "Mr. Ste-Marie" and turns[5]["speaker"] == "Gabriel Ste-Marie"
    assert all(t["role"] == HEARING_ROLES[t["speaker"]] for t in turns)
    assert [t["prompted_by"] for t in turns] == [None, *range(1, 13)]
    assert all(
        t["question"] is None and t["asked_by"] is None for t in turns
    )  # a conversation's turns follow turns
    assert all(t["timestamp"] is None for t in turns)
    long = turns[1]  # the minister's opening statement: two passages
    assert len(long["spans"]) == 2 and long["spans"][0][1] < long["spans"][1][0]
    assert long["text"] == " ".join(HEARING[s:e] for s, e in long["spans"])
    assert long["text"].startswith("Thank you, Madam Chair.") and long["text"].endswith(
        "next month."
    )
    for turn in turns:
        assert turn["text"] == " ".join(HEARING[s:e] for s, e in turn["spans"])


@pytest.mark.parametrize(
    "tid", ["committees/nope", "nope", "finance-hearing", "committees", f"{HEARING_ID}/x"]
)
def test_an_unknown_id_is_a_404_naming_it(client, tid):
    r = client.get(f"/v1/transcripts/{tid}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert f"'{tid}'" in r.json()["detail"] and "GET /v1/transcripts" in r.json()["detail"]


def test_the_endpoints_are_documented(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]["/v1/transcripts"]) == {"get", "post"}
    assert "/v1/transcripts/{transcript_id}" in spec["paths"]
    summary = spec["components"]["schemas"]["TranscriptSummary"]["properties"]
    assert "never a path" in summary["source"]["description"]
    filters = spec["components"]["schemas"]["ChatFilters"]["properties"]
    assert "GET /v1/transcripts" in filters["transcripts"]["description"]
