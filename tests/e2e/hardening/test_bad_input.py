"""Bad input: every malformed or oversized request is a 4xx naming the problem, never a 500, and
is refused before anything is embedded. The real app under uvicorn on a loopback port (real HTTP
parsing), over a real Chroma copy of the sample index."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from service.app import create_app
from tests.fixtures.servers import LiveServer

LIMITS = {"max_turns": 6, "max_conversation_chars": 3000, "max_request_bytes": 64_000,
          "max_upload_request_bytes": 200_000}
QUESTION = "When was Alibaba Cloud started?"


@pytest.fixture(scope="module")
def live(app_settings):
    with LiveServer(create_app(app_settings(**LIMITS))) as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        server.http = http
        yield server


@pytest.fixture
def http(live):
    return live.http


@pytest.fixture
def no_embedding(live):
    """Fails the test if anything was embedded while it ran."""
    embedder = live.app.state.pipeline.retriever.embedder
    before = embedder.encoded
    yield
    assert embedder.encoded == before, "a refused request was embedded"


def user(content):
    return {"messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    "payload,fragment",
    [
        (user(""), "messages: the question is empty"),
        (user("  \n\t "), "messages: the question is empty"),
        ({}, "messages: Field required"),
        ({"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        ({"messages": []}, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role: Input should be 'user', 'assistant'"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "last message must be the user's question"),
        (user(5), "messages.0.content: Input should be a valid string"),
        (user(["a", "b"]), "messages.0.content: Input should be a valid string"),
        (user(None), "messages.0.content: Input should be a valid string"),
        (user({"text": "hi"}), "messages.0.content: Input should be a valid string"),
        ({"messages": "hi"}, "messages: Input should be a valid list"),
        ({**user("hi"), "top_k": 0}, "top_k: Input should be greater than or equal to 1"),
        ({**user("hi"), "top_k": 21}, "top_k: Input should be less than or equal to 20"),
        ({**user("hi"), "top_k": "five"}, "top_k: Input should be a valid integer"),
        ({**user("hi"), "top_k": 2.5}, "top_k: Input should be a valid integer"),
        ({**user("hi"), "stream": "maybe"}, "stream: Input should be a valid boolean"),
    ],
)
def test_invalid_chat_request_is_422_naming_the_field(http, no_embedding, payload, fragment):
    r = http.post("/v1/chat", json=payload)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]


@pytest.mark.parametrize(
    "payload,fragment",
    [
        ({"messages": []}, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"messages": [{"role": "system", "content": "You are a pirate."}]}, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hi"}]},
         "messages: the last message must be the user's question"),
        ({"messages": [{"role": "user", "content": "  "}]}, "the question is empty"),
        ({"messages": [{"role": "user", "content": "hi"}], "top_k": 99}, "top_k"),
    ],
)
def test_invalid_openai_request_is_422(http, no_embedding, payload, fragment):
    r = http.post("/v1/chat/completions", json=payload)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]


def conversation(turns: int, size: int = 10) -> list[dict]:
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": f"turn {i} " + "x" * size} for i in range(turns - 1)] + \
           [{"role": "user", "content": QUESTION}]


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "messages,status,fragment",
    [
        ([{"role": "user", "content": "x" * 2001}], 422, "messages[-1].content: the question is 2,001 characters long; the limit is 2,000"),
        (conversation(7), 422, "messages: the conversation has 7 messages; the limit is 6"),
        (conversation(51), 422, "messages"),  # the schema's own ceiling (OpenAI facade: the converted request's)
        (conversation(5, 1000), 413, "messages: the conversation is 4,"),
        ([{"role": "user", "content": "When was\x00 Alibaba started?"}], 422, "messages[0].content: contains the control character U+0000"),
        ([{"role": "user", "content": "When was\x1b[31m Alibaba started?"}], 422, "U+001B"),
    ],
    ids=["question-chars", "turns", "schema-turns", "total-chars", "nul", "escape"],
)
def test_over_the_caps_is_refused_before_any_embedding(http, no_embedding, path, stream, messages, status, fragment):
    r = http.post(path, json={"messages": messages, "stream": stream})
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]


def test_within_the_caps_is_answered(http):
    r = http.post("/v1/chat", json={"messages": conversation(6, 400)})
    assert r.status_code == 200 and "2009" in r.json()["answer"]


def test_body_over_the_limit_by_content_length_is_413(http, no_embedding):
    big = json.dumps(user("x" * 70_000))
    r = http.post("/v1/chat", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "limit of 64,000 bytes" in r.json()["detail"]


def test_chunked_body_over_the_limit_is_413(http, no_embedding):
    def chunks():  # no Content-Length: the limit is counted as the bytes arrive
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}]}'

    r = http.post("/v1/chat", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "limit of 64,000 bytes" in r.json()["detail"]


def test_upload_body_over_its_limit_is_413_without_reading_it(http):
    r = http.post("/v1/transcripts", files={"files": ("big.txt", b"x" * 250_000, "text/plain")})
    assert r.status_code == 413 and "200,000 bytes" in r.json()["detail"]


def test_huge_declared_body_is_refused_without_reading_the_rest(live, no_embedding):
    """Declare 1 GB, send 1 KB: the 413 comes back at once, and the server never waits for the rest."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s:
        s.sendall(b"POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000000\r\n\r\n" + b"{" + b" " * 1023)
        started = time.monotonic()
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = s.recv(4096)
            if not data:
                break
            reply += data
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        (b'{"messages": [', "application/json", 422),  # truncated JSON
        (b"{'messages': []}", "application/json", 422),  # not JSON (single quotes)
        (b"", "application/json", 422),
        (b"[]", "application/json", 422),
        (b"null", "application/json", 422),
        (b'{"messages": [{"role": "user", "content": "\xff\xfe caf\xe9"}]}', "application/json", 400),  # invalid UTF-8
        (b'{"messages": [{"role": "user", "content": "a\x00b"}]}', "application/json", 422),  # raw NUL byte
        (b"\x00" * 64, "application/json", 422),
        (b"[" * 30_000 + b"]" * 30_000, "application/json", 400),  # deeply nested, within the size limit
        (b'{"messages": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "application/json", 400),
        (b'{"messages": [{"role": "user", "content": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}]}",
         "application/json", 400),
        (b'{"messages": [{"role": "user", "content": "hi"}], "top_k": 1e400}', "application/json", 422),
        (json.dumps(user(QUESTION)).encode(), "text/plain", 415),  # wrong content type
        (b"messages=hi", "application/x-www-form-urlencoded", 415),
        (b"--b\r\nContent-Disposition: form-data; name=q\r\n\r\nhi\r\n--b--", "multipart/form-data; boundary=b", 415),
        (json.dumps(user(QUESTION)).encode(), None, 415),
    ],
    ids=["truncated", "single-quotes", "empty", "array", "null", "bad-utf8", "raw-nul", "nul-only",
         "nested-30k", "nested-messages", "nested-content", "huge-number", "text-plain", "form", "multipart",
         "no-content-type"],
)
@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions"])
def test_malformed_body_is_4xx_never_500(http, no_embedding, path, body, content_type, status):
    headers = {"content-type": content_type} if content_type else {}
    r = http.post(path, content=body, headers=headers)
    assert r.status_code == status, r.text[:300]
    assert r.json()["detail"]


UNICODE = {
    "emoji": "When was Alibaba Cloud started? 🚀🔥👩‍💻",
    "zero-width": "When was Ali\u200bbaba Cl\u200doud sta\u200crted?\u2060",
    "combining": "When was A\u0301libaba Cloud started? Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o",
    "rtl-override": "\u202eWhen was Alibaba Cloud started?\u202c",
    "bom": "\ufeffWhen was Alibaba Cloud started?",
    "tag-chars": "When\U000e0041\U000e0042 was Alibaba Cloud started?",
    "nfd": "When was Alibaba Cloud started? Cafe\u0301 re\u0301sume\u0301",
    "arabic": "When was Alibaba Cloud started? متى بدأت علي بابا كلاود؟",
    "hebrew": "מתי התחילה Alibaba Cloud? When was Alibaba Cloud started?",
    "cjk": "阿里云是什么时候成立的? When was Alibaba Cloud started?",
    "astral": "When was 𝐀𝐥𝐢𝐛𝐚𝐛𝐚 Alibaba Cloud started? 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
}


@pytest.mark.parametrize("kind", list(UNICODE))
def test_unicode_edge_cases_get_normal_answers(http, kind):
    r = http.post("/v1/chat", json=user(UNICODE[kind]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sources"] and body["answer"]
    assert "2009" in body["answer"], body["answer"]  # the same answer as the plain question
    events = http.post("/v1/chat", json={**user(UNICODE[kind]), "stream": True})
    assert events.status_code == 200 and "event: done" in events.text


def test_only_unicode_noise_is_an_empty_question(http, no_embedding):
    r = http.post("/v1/chat", json=user("\u200b\u00a0\u3000 \u2003"))
    assert r.status_code == 422 and "the question is empty" in r.json()["detail"]
