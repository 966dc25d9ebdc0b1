"""Answers about the whole folder, over the 36 real committee hearings ingested whole: which
hearing talks about a topic (POST /v1/chat names the transcripts, the most first), and the topic
map (POST /v1/topics: transcripts, speakers, transcript x speaker cells, a speaker's track), each
quote opening in its transcript at its turn. The real model, real Chroma, the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.rag.text import natural
from tests.fixtures.apps import build_index

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpora" / "qmsum-committee"
HEARINGS = sorted(CORPUS.glob("*.txt"))

pytestmark = pytest.mark.skipif(len(HEARINGS) != 36, reason=f"the 36 committee hearings are not in {CORPUS}")


@pytest.fixture(scope="module")
def client(tmp_path_factory, embedder):
    from service.settings import ServiceSettings

    root = build_index(tmp_path_factory.mktemp("hearings"), embedder, HEARINGS)
    settings = ServiceSettings(_env_file=None, chroma_path=root / "chroma", transcripts_dir=root / "transcripts",
                               answer_mode="extractive", chat_rate_limit=0)
    with TestClient(create_app(settings)) as c:
        yield c


def ask(client, question: str, **extra) -> dict:
    r = client.post("/v1/chat", json={"messages": [{"role": "user", "content": question}], **extra})
    assert r.status_code == 200, r.text
    return r.json()


def opens_at_its_turn(client, quote: dict) -> None:
    """The quote is said in the turn it names, by the speaker it names."""
    page = client.get(f"/v1/transcripts/{quote['transcript']}", params={"turn": quote["turn"]}).json()
    turn = next(t for t in page["turns"] if t["number"] == quote["turn"])
    assert quote["text"] in turn["text"] and turn["speaker"] == quote["speaker"], (quote, turn["speaker"])


def test_which_hearing_names_the_hearings_the_most_first(client):
    body = ask(client, "Which hearing discussed school exclusions?")
    assert not body["abstained"], body["answer"]
    lines = [line for line in body["answer"].splitlines() if line[:1].isdigit()]
    assert "education_4" in lines[0], body["answer"]  # the hearing on exclusions, first in the text
    named = [s["transcript"] for s in body["sources"]]
    assert named[0] == "education_4" and len(set(named)) == len(named) >= 2  # one source a hearing
    assert body["citations"] == list(range(1, len(named) + 1))
    for line, source in zip(lines, body["sources"], strict=True):
        assert source["transcript"] in line and f"[{source['n']}]" in line
        assert source["quotes"] and source["quotes"][0] in line and source["quotes"][0] in source["text"]


def test_which_meeting_a_witness_gave_evidence_in(client):
    body = ask(client, "In which meeting did the Samaritans give evidence?")
    assert not body["abstained"], body["answer"]
    assert body["sources"][0]["transcript"] == "education_4"


def test_which_hearing_about_something_no_hearing_has_is_declined(client):
    body = ask(client, "Which hearing discussed Bitcoin mining?")
    assert body["abstained"] and body["citations"] == []


def test_which_hearing_within_a_scope_names_only_hearings_of_the_scope(client):
    scope = ["education_23", "education_24"]
    body = ask(client, "Which hearing discussed school exclusions?", filters={"transcripts": scope})
    assert not body["abstained"] and {s["transcript"] for s in body["sources"]} <= set(scope)
    assert "education_4" not in body["answer"]


def test_the_topic_map_ranks_transcripts_speakers_and_cells(client):
    r = client.post("/v1/topics", json={"topic": "school exclusions"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["found"] and body["turns"] == sum(g["turns"] for g in body["transcripts"])
    transcripts = body["transcripts"]
    assert transcripts[0]["transcript"] == "education_4"
    assert [g["weight"] for g in transcripts] == sorted((g["weight"] for g in transcripts), reverse=True)
    assert sum(g["turns"] for g in body["speakers"]) == body["turns"] == sum(g["turns"] for g in body["cells"])
    for g in transcripts[:3] + body["speakers"][:3] + body["cells"][:3]:
        opens_at_its_turn(client, g["quote"])
        if g["transcript"]:
            assert g["quote"]["transcript"] == g["transcript"]
        if g["speaker"]:
            assert g["quote"]["speaker"] == g["speaker"]
    # a cell is a speaker's turns in one transcript: they add up to the speaker's row
    speaker = body["speakers"][0]
    assert sum(c["turns"] for c in body["cells"] if c["speaker"] == speaker["speaker"]) == speaker["turns"]


def test_a_speaker_track_is_their_turns_on_the_topic_in_order(client):
    first = client.post("/v1/topics", json={"topic": "school exclusions"}).json()
    speaker = first["speakers"][0]["speaker"]
    body = client.post("/v1/topics", json={"topic": "school exclusions", "track": speaker}).json()
    track = body["track"]
    assert len(track) == first["speakers"][0]["turns"] and {q["speaker"] for q in track} == {speaker}
    order = [(q["transcript"], q["turn"]) for q in track]
    assert len(set(order)) == len(order)  # one entry a turn
    assert order == sorted(order, key=lambda o: (natural(o[0]), o[1]))  # covid_2 before covid_10
    for q in track[:3]:
        opens_at_its_turn(client, q)


def test_a_topic_no_transcript_covers_lists_nothing(client):
    body = client.post("/v1/topics", json={"topic": "Bitcoin mining"}).json()
    assert body["found"] is False and body["transcripts"] == body["speakers"] == body["cells"] == []


@pytest.mark.parametrize("payload,says", [
    ({"topic": ""}, "topic"),
    ({"topic": "exclusions", "track": "Nobody Atall"}, "Nobody Atall"),
    ({"topic": "exclusions", "filters": {"transcripts": ["education_99"]}}, "education_99"),
    ({"topic": "exclusions", "colour": "red"}, "colour"),
])
def test_a_bad_topic_request_is_a_422_that_says_what_is_wrong(client, payload, says):
    r = client.post("/v1/topics", json=payload)
    assert r.status_code == 422 and says in r.text, r.text


def test_the_library_lists_the_hearings_in_natural_order(client):
    ids = [t["id"] for t in client.get("/v1/transcripts", params={"limit": 100, "speakers": 0}).json()["transcripts"]]
    assert len(ids) == 36 and ids.index("covid_2") < ids.index("covid_10") < ids.index("education_1")
    assert ids == sorted(ids, key=natural)
