"""The real app through its lifespan, on a real Chroma under tmp_path."""

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.fixtures.core import SAMPLE_CHUNKS


@pytest.fixture
def client(ingested):
    with TestClient(create_app(ingested)) as c:
        yield c


def ask(client, question, **extra):
    return client.post("/v1/chat", json={"messages": [{"role": "user", "content": question}], **extra})


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert (body["transcripts"], body["chunks"]) == (1, SAMPLE_CHUNKS)
    assert body["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert body["answer_mode"] == "extractive"


def test_chat_contract_and_cited_quote(client):
    r = ask(client, "When was Alibaba Cloud started?", top_k=3)
    assert r.status_code == 200
    body = r.json()
    assert body["abstained"] is False
    assert len(body["sources"]) == 3
    assert [s["n"] for s in body["sources"]] == [1, 2, 3]
    scores = [s["score"] for s in body["sources"]]
    assert scores == sorted(scores, reverse=True)
    first = body["sources"][0]
    assert set(first) >= {"n", "id", "transcript", "title", "question", "speaker", "text", "score"}
    assert "2009" in body["answer"] and "[1]" in body["answer"]
    assert body["answer"].startswith("Xuan Jin:")
    assert first["speaker"] == "Xuan Jin" and first["transcript"] == "alibaba-cloud-xuan-jin"
    # every quoted sentence is verbatim in the source it cites
    for s in body["sources"]:
        for quote in s["quotes"]:
            assert quote in s["text"]
    assert body["citations"] == [1] and body["verified"] is True


def test_abstains_on_uncovered_question(client):
    body = ask(client, "What does an Alibaba Cloud ECS instance cost per hour in Frankfurt?").json()
    assert body["abstained"] is True
    assert "do not cover" in body["answer"]
    assert len(body["sources"]) == 5  # still lists the closest passages
    assert body["citations"] == []


def test_follow_up_is_resolved_against_the_conversation(client):
    r = client.post("/v1/chat", json={"messages": [
        {"role": "user", "content": "Who is Xuan Jin?"},
        {"role": "assistant", "content": "Xuan Jin is Lead Solutions Architect at Alibaba Cloud."},
        {"role": "user", "content": "Where did he work before?"},
    ]})
    body = r.json()
    assert r.status_code == 200
    assert "Oracle" in body["sources"][0]["text"]
    assert body["standalone_question"] == "Where did Xuan Jin work before?"  # "he" is the one asked about
    assert "Oracle" in body["answer"]


@pytest.mark.parametrize(
    "payload,status,fragment",
    [
        ({"messages": [{"role": "user", "content": "   "}]}, 422, "the question is empty"),
        ({"messages": []}, 422, "messages"),
        ({}, 422, "messages: Field required"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, 422, "last message must be the user's question"),
        ({"messages": [{"role": "user", "content": "hi"}], "top_k": 0}, 422, "top_k"),
        ({"messages": [{"role": "user", "content": "hi"}], "top_k": 21}, 422, "top_k"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, 422, "messages.0.role"),
        ({"messages": [{"role": "user", "content": 5}]}, 422, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, 422, "limit is 2,000"),
    ],
)
def test_bad_requests(client, payload, status, fragment):
    r = client.post("/v1/chat", json=payload)
    assert r.status_code == status
    assert fragment in r.json()["detail"]


def test_malformed_json(client):
    r = client.post("/v1/chat", content=b'{"messages": [', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["detail"]


def test_ui_and_docs_are_served(client):
    assert client.get("/").status_code == 200
    assert "text/html" in client.get("/").headers["content-type"]
    assert client.get("/docs").status_code == 200


def test_ui_modules_are_revalidated_on_every_load(client):
    """Never an upgraded main.js beside a cached old api.js: the browser asks each time (a 304 when
    nothing changed)."""
    first = client.get("/static/main.js")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
    again = client.get("/static/main.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304


def test_starters_come_from_the_index(client):
    questions = client.get("/v1/starters?n=3").json()["questions"]
    assert len(questions) == 3
    listed = client.get("/v1/transcripts").json()["transcripts"][0]
    text = " ".join(t["text"] for t in client.get(f"/v1/transcripts/{listed['id']}").json()["turns"])
    for q in questions:  # each about one of the transcript's topics, in its words, and answered
        term = next(t for t in listed["topics"] if q.rstrip("?.").endswith(f"about {t}"))
        assert term in text
        assert not ask(client, q, top_k=5).json()["abstained"], q
