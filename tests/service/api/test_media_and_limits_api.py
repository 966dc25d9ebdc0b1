"""What the chat page reads besides answers: a transcript's recording (in the list, each timed turn,
each source) and the service's limits on /health, through the real app over a real index of a
timestamped council meeting; and the starter questions over the sample interview and a hearing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.rag.starters import FORMS
from tests.fixtures.town_hall import (
    MEDIA_URL,
    TOWN_HALL,
    TOWN_HALL_FILE,
    TOWN_HALL_ID,
    TOWN_HALL_TITLE,
    TOWN_HALL_TURNS,
)


def seconds(timestamp: str) -> int:
    h, m, s = map(int, timestamp.split(":"))
    return h * 3600 + m * 60 + s


@pytest.fixture(scope="module")
def settings(tmp_path_factory, embedder):
    from ingest.store import chroma_client
    from ingest.sync import sync_paths
    from service.settings import ServiceSettings

    root = tmp_path_factory.mktemp("town-hall")
    (root / "transcripts").mkdir()
    (root / "transcripts" / TOWN_HALL_FILE).write_text(TOWN_HALL, encoding="utf-8")
    settings = ServiceSettings(_env_file=None, chroma_path=root / "chroma", transcripts_dir=root / "transcripts",
                        answer_mode="extractive", max_question_chars=1234, max_turns=20, max_conversation_chars=9000)
    report = sync_paths([settings.transcripts_dir], settings, embedder, chroma_client(settings))
    assert report.transcripts == 1 and not report.skipped
    return settings


@pytest.fixture(scope="module")
def client(settings):
    from chromadb.api.client import SharedSystemClient

    from service.app import create_app

    SharedSystemClient.clear_system_cache()
    with TestClient(create_app(settings)) as c:
        yield c


def test_the_list_and_the_transcript_name_the_recording(client):
    (listed,) = client.get("/v1/transcripts").json()["transcripts"]
    assert (listed["id"], listed["title"], listed["media_url"]) == (TOWN_HALL_ID, TOWN_HALL_TITLE, MEDIA_URL)

    detail = client.get(f"/v1/transcripts/{TOWN_HALL_ID}").json()
    assert detail["media_url"] == MEDIA_URL
    assert [(t["speaker"], t["timestamp"]) for t in detail["turns"]] == TOWN_HALL_TURNS
    assert [t["media_url"] for t in detail["turns"]] == [f"{MEDIA_URL}#t={seconds(ts)}" for _, ts in TOWN_HALL_TURNS]


def test_a_source_links_to_the_recording_at_its_time(client):
    r = client.post("/v1/chat", json={"messages": [{"role": "user", "content": "When will the river park open?"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    cited = body["sources"][body["citations"][0] - 1]
    assert (cited["speaker"], cited["timestamp"]) == ("Jane Doe", "00:01:42")
    assert cited["media_url"] == f"{MEDIA_URL}#t=102"
    for s in body["sources"]:
        assert s["media_url"] == (f"{MEDIA_URL}#t={seconds(s['timestamp'])}" if s["timestamp"] else MEDIA_URL)


def test_health_tells_the_limits_the_chat_page_checks(client, settings):
    body = client.get("/health").json()
    assert (body["max_question_chars"], body["max_turns"], body["max_conversation_chars"]) == (1234, 20, 9000)
    too_long = "Why " + "x" * settings.max_question_chars + "?"
    r = client.post("/v1/chat", json={"messages": [{"role": "user", "content": too_long}]})
    assert r.status_code == 422 and "the limit is 1,234" in r.json()["detail"]


def test_starters_ask_about_the_folders_topics_and_are_answered(library_client):
    questions = library_client.get("/v1/starters?n=12").json()["questions"]
    assert len(questions) == len(FORMS) and len(set(questions)) == len(questions), questions
    assert questions[0].startswith("Which transcripts talk about ")  # the interview and the hearing
    listing = library_client.get("/v1/transcripts").json()["transcripts"]
    topics = {t["id"]: t["topics"] for t in listing}
    about = {tid for q in questions for tid, ts in topics.items() if any(q.endswith((f"about {t}?", f"about {t}.")) for t in ts)}
    assert len(about) == 2, (questions, topics)  # together they cover both transcripts
    for q in questions:  # none is left unanswered
        body = library_client.post("/v1/chat", json={"messages": [{"role": "user", "content": q}]}).json()
        assert not body["abstained"], (q, body["answer"])