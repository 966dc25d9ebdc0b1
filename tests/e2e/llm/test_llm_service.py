"""The llm answer mode end to end: the real app against a real llama.cpp server (SmolLM2-135M).

A 135M model's answers are not checked for truth here (the dev-set figures with the bundled
Qwen model are); these tests check the contract: shapes, event order, verified citations,
the condense step, errors, timeouts and that a client going away stops the generation.
"""

import json
import re
import time

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.fixtures.llm import end_of_generation_tokens
from tests.fixtures.servers import LiveServer, free_port, wait_until
from tests.fixtures.sse import sse

QUESTION = "Where did Xuan Jin work before joining Alibaba?"


def ask(client, question=QUESTION, **extra):
    return client.post("/v1/chat", json={"messages": [{"role": "user", "content": question}], **extra})


def stream(client, payload):
    with client.stream("POST", "/v1/chat", json={**payload, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        return sse(r.iter_lines())


@pytest.fixture(scope="module")
def client(llm_server, make_settings):
    with TestClient(create_app(make_settings(llm_base_url=llm_server))) as c:
        yield c


def check_citations(body):
    """Every [n] left in the answer is a given source, and `citations` lists exactly those."""
    cited = {int(n) for group in re.findall(r"\[([\d,\s]+)\]", body["answer"]) for n in re.findall(r"\d+", group)}
    assert cited == set(body["citations"])
    assert set(body["citations"]) <= {s["n"] for s in body["sources"]}
    assert body["verified"] is (body["abstained"] or bool(body["citations"]))


def test_health_reports_llm_mode(client):
    body = client.get("/health").json()
    assert (body["answer_mode"], body["llm_model"]) == ("llm", "local")


def test_generated_answer(client):
    r = ask(client, top_k=4)
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "llm"
    assert body["answer"].strip() == body["answer"] and body["answer"]
    assert [s["n"] for s in body["sources"]] == [1, 2, 3, 4]
    assert "Oracle" in body["sources"][0]["text"]
    check_citations(body)
    t = body["timings"]
    assert t["retrieval_ms"] > 0 and t["generation_ms"] > 0 and t["rewrite_ms"] == 0
    assert 0 < t["first_token_ms"] <= t["total_ms"]
    assert body["standalone_question"] is None  # a first question is not rewritten


def test_streaming_event_order_and_clean_close(client):
    events = stream(client, {"messages": [{"role": "user", "content": QUESTION}], "top_k": 3})
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done"
    assert set(names[1:-1]) == {"token"}, names
    first = json.loads(events[0][1])
    assert set(first) == {"sources", "standalone_question"}
    assert [s["n"] for s in first["sources"]] == [1, 2, 3]
    done = json.loads(events[-1][1])
    assert done["sources"] == first["sources"]
    assert "".join(json.loads(data)["text"] for name, data in events if name == "token") == done["answer"]
    assert done["mode"] == "llm" and done["timings"]["first_token_ms"] > 0
    check_citations(done)


def test_follow_up_is_condensed_before_retrieval(client):
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "He was a software developer at Oracle [1]."},
        {"role": "user", "content": "What did he do there?"},
    ]
    body = client.post("/v1/chat", json={"messages": messages}).json()
    assert body["standalone_question"]  # what the model rewrote it to (shown for transparency)
    assert body["timings"]["rewrite_ms"] > 0
    events = stream(client, {"messages": messages})
    assert json.loads(events[0][1])["standalone_question"] == body["standalone_question"]  # temperature 0


def test_which_transcript_is_answered_from_the_folder_not_written(client):
    """ "Which interview …?" is answered by naming the transcripts (service/rag/topics.py), with an
    LLM configured too: the model is not asked, and the answer is the same as the built-in one."""
    body = ask(client, "Which interview talks about Alibaba Cloud's offices in Europe?").json()
    assert body["mode"] == "extractive" and not body["abstained"], body
    assert body["answer"].startswith("One transcript talks about this:") and body["citations"] == [1]
    assert body["sources"][0]["transcript"] in body["answer"] and body["sources"][0]["quotes"]
    check_citations(body)


def test_openai_facade_with_the_openai_client(client):
    oa = openai.OpenAI(base_url=f"{client.base_url}/v1", api_key="unused", http_client=client, max_retries=0)
    assert [m.id for m in oa.models.list()] == ["transcript-rag"]
    done = oa.chat.completions.create(model="transcript-rag", messages=[{"role": "user", "content": QUESTION}])
    assert done.object == "chat.completion" and done.choices[0].finish_reason == "stop"
    extra = done.model_extra
    assert extra["mode"] == "llm" and len(extra["sources"]) == 5
    check_citations({**extra, "answer": done.choices[0].message.content})
    chunks = list(oa.chat.completions.create(
        model="transcript-rag", stream=True,
        messages=[{"role": "system", "content": "ignored"}, {"role": "user", "content": QUESTION}]))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == done.choices[0].message.content  # same question, temperature 0
    assert chunks[-1].model_extra["sources"] == extra["sources"]


def test_client_disconnect_stops_generation(llm_server, make_settings):
    """A client that leaves mid-answer cancels the generation here and at the LLM server."""
    # The model may not end its answer (every end-of-generation token banned), so only a
    # disconnect can stop it early.
    # No quoting in its place: a slow LLM server must fail this test, not answer from quotes.
    never_end = {str(token): -100 for token in end_of_generation_tokens()}
    assert len(never_end) >= 2, never_end  # <|endoftext|> and <|im_end|> at least
    settings = make_settings(llm_base_url=llm_server, llm_max_tokens=3000, llm_fallback=False,
                             llm_extra_body={"logit_bias": never_end})
    # The LLM server serves one request at a time: wait until an earlier test's generation is over.
    httpx.post(f"{llm_server}/chat/completions", timeout=300,
               json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}).raise_for_status()
    with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=60) as http:
        pipeline = live.app.state.pipeline
        payload = {"messages": [{"role": "user", "content": QUESTION}], "stream": True}
        with http.stream("POST", "/v1/chat", json=payload) as r:
            tokens, lines = 0, []
            for line in r.iter_lines():
                lines.append(line)
                tokens += line.startswith("event: token")
                if tokens == 3:
                    break
            assert pipeline.active == 1, lines  # the LLM is generating (not an abstention, not an error)
        # leaving the `with` closed the connection mid-answer
        wait_until(lambda: pipeline.active == 0, 15, "the generation to stop")
        assert pipeline.cancelled == 1
        # the LLM server is free again at once, not busy with 3,000 tokens nobody will read
        started = time.monotonic()
        r = httpx.post(f"{llm_server}/chat/completions", timeout=60,
                       json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1})
        assert r.status_code == 200
        assert time.monotonic() - started < 10
        # and the service keeps serving (answers here would run to 3,000 tokens: not asked)
        assert http.get("/health").json()["status"] == "ok"


@pytest.fixture(scope="module")
def down_client(make_settings):
    with TestClient(create_app(make_settings(llm_base_url=f"http://127.0.0.1:{free_port()}/v1"))) as c:
        yield c


def test_llm_server_down_is_a_clear_503_and_the_service_stays_up(down_client):
    r = ask(down_client)
    assert r.status_code == 503
    detail = r.json()["detail"]
    assert "cannot be reached" in detail and "make llm" in detail and "the rest of the service is up" in detail
    events = stream(down_client, {"messages": [{"role": "user", "content": QUESTION}]})
    assert [name for name, _ in events] == ["sources", "error"]
    assert json.loads(events[1][1]) == {"detail": detail}
    r = down_client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
    assert r.status_code == 503 and r.json()["detail"] == detail
    assert down_client.get("/health").json()["status"] == "ok"
    assert ask(down_client, "   ").status_code == 422  # validation still comes first, as JSON


def test_openai_client_sees_the_outage(down_client):
    oa = openai.OpenAI(base_url=f"{down_client.base_url}/v1", api_key="unused", http_client=down_client, max_retries=0)
    with pytest.raises(openai.InternalServerError) as err:
        oa.chat.completions.create(model="transcript-rag", messages=[{"role": "user", "content": QUESTION}])
    assert err.value.status_code == 503
    with pytest.raises(openai.APIError, match="cannot be reached"):
        list(oa.chat.completions.create(model="transcript-rag", stream=True,
                                        messages=[{"role": "user", "content": QUESTION}]))


def test_fallback_to_extractive_when_the_llm_is_down(make_settings):
    settings = make_settings(llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_fallback=True)
    with TestClient(create_app(settings)) as c:
        body = ask(c, "When was Alibaba Cloud started?").json()
        assert body["mode"] == "extractive" and "2009" in body["answer"] and body["citations"] == [1]
        events = stream(c, {"messages": [{"role": "user", "content": "When was Alibaba Cloud started?"}]})
        assert events[0][0] == "sources" and events[-1][0] == "done"
        assert json.loads(events[-1][1])["answer"] == body["answer"]


def test_llm_timeout_is_a_504(llm_server, make_settings):
    with TestClient(create_app(make_settings(llm_base_url=llm_server, llm_timeout=0.001, llm_max_tokens=16))) as c:
        r = ask(c)
        assert r.status_code == 504
        assert "did not answer within 0.001 s" in r.json()["detail"]
        events = stream(c, {"messages": [{"role": "user", "content": QUESTION}]})
        assert [name for name, _ in events] == ["sources", "error"]
        assert "did not answer within" in json.loads(events[1][1])["detail"]
        assert c.get("/health").status_code == 200


def test_the_answer_length_cap_reaches_llama_cpp(llm_server, make_settings):
    """LLM_MAX_TOKENS and the condense cap bound what llama.cpp's server generates.

    ChatOpenAI names the cap `max_completion_tokens`, which llama-cpp-python's server ignores;
    without `max_tokens` beside it SmolLM2 wrote until its context was full (minutes on 2 cores)."""
    import asyncio

    from langchain_core.messages import HumanMessage

    from service.rag.llm import Prepared, build_llm_answerer

    answerer = build_llm_answerer(make_settings(llm_base_url=llm_server, llm_max_tokens=16))
    long_task = [HumanMessage("Write a very long story about a lighthouse, at least five hundred words.")]

    async def run():
        try:
            pieces = [p async for p in answerer.astream(Prepared(long_task, {1}))]
            reply = await answerer.condenser.ainvoke("Repeat the word lighthouse two hundred times.")
            return pieces, reply
        finally:
            await answerer.aclose()

    pieces, reply = asyncio.run(run())
    assert 1 <= len(pieces) <= 16, pieces
    assert reply.usage_metadata["output_tokens"] <= 64, reply.usage_metadata
