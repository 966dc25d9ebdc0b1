"""Streaming and the OpenAI-compatible facade in the built-in (extractive) answer mode."""

import json

import openai
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.fixtures.sse import sse

QUESTION = "When was Alibaba Cloud started?"


@pytest.fixture
def client(ingested):
    with TestClient(create_app(ingested)) as c:
        yield c


def messages(question=QUESTION):
    return [{"role": "user", "content": question}]


def stream(client, payload):
    with client.stream("POST", "/v1/chat", json={**payload, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        return [(name, json.loads(data)) for name, data in sse(r.iter_lines())]


def test_stream_is_sources_then_words_then_the_full_response(client):
    plain = client.post("/v1/chat", json={"messages": messages(), "top_k": 3}).json()
    events = stream(client, {"messages": messages(), "top_k": 3})
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done"
    assert set(names[1:-1]) == {"token"} and len(names) > 5  # word by word
    sources, done = events[0][1], events[-1][1]
    assert sources == {"sources": done["sources"], "standalone_question": None}
    assert "".join(data["text"] for name, data in events if name == "token") == done["answer"]
    assert done["timings"]["first_token_ms"] is not None
    assert done["timings"]["first_token_ms"] <= done["timings"]["total_ms"]
    for key in ("answer", "abstained", "sources", "citations", "verified", "mode", "standalone_question"):
        assert done[key] == plain[key], key
    assert done["mode"] == "extractive" and "2009" in done["answer"] and done["citations"] == [1]


def test_stream_of_an_abstention_and_of_a_follow_up(client):
    done = stream(client, {"messages": messages("What does an Alibaba Cloud ECS instance cost per hour in Frankfurt?")})[-1][1]
    assert done["abstained"] is True and done["citations"] == []
    events = stream(client, {"messages": [
        {"role": "user", "content": "Who is Xuan Jin?"},
        {"role": "assistant", "content": "Xuan Jin is Lead Solutions Architect at Alibaba Cloud."},
        {"role": "user", "content": "Where did he work before?"},
    ]})
    assert events[0][1]["standalone_question"] == "Where did Xuan Jin work before?"


@pytest.mark.parametrize(
    "payload,fragment",
    [
        ({"messages": [{"role": "user", "content": "  "}], "stream": True}, "the question is empty"),
        ({"messages": [{"role": "user", "content": "x" * 2001}], "stream": True}, "limit is 2,000"),
        ({"messages": [{"role": "user", "content": "hi"}], "stream": "maybe"}, "stream"),
    ],
)
def test_invalid_streaming_requests_fail_before_the_stream_as_json(client, payload, fragment):
    r = client.post("/v1/chat", json=payload)
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    assert fragment in r.json()["detail"]


def test_openai_facade_with_the_openai_client(client):
    oa = openai.OpenAI(base_url=f"{client.base_url}/v1", api_key="unused", http_client=client, max_retries=0)
    assert [(m.id, m.object) for m in oa.models.list()] == [("transcript-rag", "model")]
    plain = client.post("/v1/chat", json={"messages": messages()}).json()
    done = oa.chat.completions.create(model="transcript-rag", messages=messages())
    assert done.object == "chat.completion" and done.model == "transcript-rag"
    assert done.choices[0].message.role == "assistant" and done.choices[0].finish_reason == "stop"
    assert done.choices[0].message.content == plain["answer"]
    assert done.model_extra["sources"] == plain["sources"] and done.model_extra["citations"] == [1]
    assert done.model_extra["abstained"] is False and done.model_extra["verified"] is True
    chunks = list(oa.chat.completions.create(model="transcript-rag", messages=messages(), stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain["answer"]
    assert chunks[-1].model_extra["sources"] == plain["sources"]


def test_openai_facade_keeps_the_conversation_and_ignores_system_turns(client):
    body = client.post("/v1/chat/completions", json={"model": "gpt-4o", "temperature": 0.3, "messages": [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": [{"type": "text", "text": "Who is Xuan Jin?"}]},
        {"role": "assistant", "content": "Xuan Jin is Lead Solutions Architect at Alibaba Cloud."},
        {"role": "user", "content": "Where did he work before?"},
    ]}).json()
    assert body["standalone_question"] == "Where did Xuan Jin work before?"
    assert "Oracle" in body["sources"][0]["text"]


def test_openai_stream_ends_with_done(client):
    with client.stream("POST", "/v1/chat/completions", json={"messages": messages(), "stream": True}) as r:
        events = sse(r.iter_lines())
    assert all(name == "message" for name, _ in events)
    assert events[-1][1] == "[DONE]"
    assert json.loads(events[-2][1])["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    "payload,fragment",
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "last message must be the user's question"),
        ({"messages": [{"role": "system", "content": "Be brief."}]}, "at least 1 item"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, "limit is 2,000"),
    ],
)
def test_openai_facade_rejects_bad_requests(client, payload, fragment):
    r = client.post("/v1/chat/completions", json=payload)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]
