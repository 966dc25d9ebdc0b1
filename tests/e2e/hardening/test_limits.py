"""Limits and abuse: rate limits (429 + Retry-After), deadlines (504 / `error` event), the
concurrency cap (fast 503, then recovery), CORS, errors that tell nothing away, and one JSON log
line per request with its id and no keys. The real app under uvicorn on loopback ports."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from service.app import create_app
from service.edge.rate_limit import SqliteBuckets
from service.settings import ServiceSettings
from tests.fixtures.apps import ask
from tests.fixtures.servers import LiveServer
from tests.fixtures.sse import sse

KEY = "hardening-key-0123456789"
QUESTION = "When was Alibaba Cloud started?"


def client_from(url: str, address: str = "127.0.0.1", **kw) -> httpx.Client:
    """An HTTP client whose requests come from `address` (any 127.x.y.z is this machine)."""
    return httpx.Client(base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address=address), **kw)


@pytest.fixture(scope="module")
def live(app_settings):
    settings = app_settings(api_key=SecretStr(KEY), chat_rate_limit=6, chat_rate_burst=3, ingest_rate_limit=6,
                            ingest_rate_burst=2, max_concurrent_chats=2, request_timeout=1.5,
                            cors_origins=["https://chat.example.org"])
    with LiveServer(create_app(settings)) as server:
        yield server


# --- rate limits ----------------------------------------------------------------------------
def test_chat_rate_limit_per_address_is_429_with_retry_after(live):
    """Refused (422) questions count too: the limit is checked before anything is read."""
    with client_from(live.url, "127.0.0.11") as a, client_from(live.url, "127.0.0.12") as b:
        assert [ask(a, " ").status_code for _ in range(3)] == [422, 422, 422]
        r = ask(a, QUESTION)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 10
        assert "too many chat requests" in r.json()["detail"]
        assert r.headers["x-request-id"]
        assert ask(b, " ").status_code == 422  # another address has its own bucket
        r = a.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
        assert r.status_code == 429  # one bucket for both chat endpoints
        assert a.get("/health").status_code == 200  # status endpoints are not limited


def test_with_keys_on_the_limit_follows_the_key_not_the_address(live):
    with client_from(live.url, "127.0.0.21") as a, client_from(live.url, "127.0.0.22") as b:
        keyed = {"X-API-Key": KEY}
        assert a.post("/v1/ingest", headers=keyed).status_code == 200
        assert b.post("/v1/ingest", headers=keyed).status_code == 200
        r = a.post("/v1/ingest", headers=keyed)  # same key, from either address: the third is refused
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "too many ingest requests" in r.json()["detail"]
        # a wrong key counts against its address, not the key (so guessing keys is rate limited too)
        assert [a.post("/v1/ingest", headers={"X-API-Key": "guess"}).status_code for _ in range(3)] == [401, 401, 429]


def take_many(path: str, n: int, out) -> None:
    buckets = SqliteBuckets(path)
    out.put(sum(buckets.take("chat|ip:1.2.3.4", 0.001, 10) == 0 for _ in range(n)))


def test_shared_store_holds_the_limit_across_processes(tmp_path):
    """Four processes (as workers would) take from one SQLite bucket of 10: exactly 10 pass."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=take_many, args=(str(tmp_path / "buckets.sqlite3"), 8, out)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sum(out.get(timeout=5) for _ in procs) == 10


def test_shared_store_holds_the_limit_across_app_instances(app_settings, tmp_path):
    store = tmp_path / "limits.sqlite3"
    apps = [create_app(app_settings(chat_rate_limit=1, chat_rate_burst=3, rate_limit_store=store)) for _ in range(2)]
    with LiveServer(apps[0]) as one, LiveServer(apps[1]) as two, \
            client_from(one.url) as a, client_from(two.url) as b:
        codes = [ask(c, " ").status_code for c in (a, b, a, b)]
        assert codes == [422, 422, 422, 429]


# --- deadlines ------------------------------------------------------------------------------
@pytest.fixture
def slow_retrieval(live):
    """Retrieval takes 4 s (the deadline is 1.5 s)."""
    retriever = live.app.state.pipeline.retriever
    original = retriever.retrieve

    def slow(*args, **kw):
        time.sleep(4)
        return original(*args, **kw)

    retriever.retrieve = slow
    yield lambda: vars(retriever).pop("retrieve", None)  # call to make it fast again
    vars(retriever).pop("retrieve", None)


def test_slow_retrieval_is_a_504_and_the_worker_stays_free(live, slow_retrieval):
    with client_from(live.url, "127.0.0.31") as a, client_from(live.url, "127.0.0.32") as b:
        results = {}
        t = threading.Thread(target=lambda: results.setdefault("r", ask(a, QUESTION)))
        started = time.monotonic()
        t.start()
        time.sleep(0.3)
        health = b.get("/health")  # answered while the slow request waits
        assert health.status_code == 200 and time.monotonic() - started < 1.4
        t.join(30)
        r = results["r"]
        assert r.status_code == 504
        assert "REQUEST_TIMEOUT" in r.json()["detail"]
        assert time.monotonic() - started < 3.5


def test_slow_retrieval_in_a_stream_is_an_error_event(live, slow_retrieval):
    with client_from(live.url, "127.0.0.33") as a:
        started = time.monotonic()
        with a.stream("POST", "/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}],
                                                 "stream": True}) as r:
            events = sse(r.iter_lines())
        assert [name for name, _ in events] == ["error"]
        assert "REQUEST_TIMEOUT" in json.loads(events[0][1])["detail"]
        assert time.monotonic() - started < 3.5
        r = a.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True})
        chunks = [json.loads(d) for _, d in sse(r.text.splitlines()) if d != "[DONE]"]
        assert chunks[-1]["error"]["code"] == 504


def test_endless_generation_is_cut_at_the_deadline(app_settings, fake_llm):
    """A model that never stops (tokens keep coming, so LLM_TIMEOUT never fires) is stopped by
    REQUEST_TIMEOUT: a 504, or an `error` event after the tokens so far."""
    settings = app_settings(answer_mode="llm", llm_base_url=fake_llm("trickle"), request_timeout=2,
                            llm_evidence_gate=False)
    with LiveServer(create_app(settings)) as server, client_from(server.url) as http:
        started = time.monotonic()
        assert ask(http, QUESTION).status_code == 504
        with http.stream("POST", "/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}],
                                                    "stream": True}) as r:
            names = [name for name, _ in sse(r.iter_lines())]
        assert names[0] == "sources" and names[-1] == "error" and "token" in names
        assert time.monotonic() - started < 10
        pipeline = server.app.state.pipeline
        assert pipeline.active == 0  # the generation was closed, not left running


# --- concurrency ----------------------------------------------------------------------------
def test_concurrency_cap_is_a_fast_503_then_recovers(live, slow_retrieval):
    with client_from(live.url, "127.0.0.41") as a, client_from(live.url, "127.0.0.42") as b, \
            client_from(live.url, "127.0.0.43") as c:
        busy = [threading.Thread(target=ask, args=(x, QUESTION)) for x in (a, b)]
        for t in busy:
            t.start()
        time.sleep(0.5)  # both are in retrieval now: the cap of 2 is reached
        started = time.monotonic()
        r = ask(c, QUESTION)
        assert r.status_code == 503 and time.monotonic() - started < 0.5
        assert r.headers["retry-after"] == "1" and "its limit" in r.json()["detail"]
        for t in busy:
            t.join(30)
    slow_retrieval()  # fast again
    with client_from(live.url, "127.0.0.44") as d:
        assert ask(d, QUESTION).status_code == 200  # free again


# --- CORS -----------------------------------------------------------------------------------
def test_cors_only_for_configured_origins(live):
    with client_from(live.url, "127.0.0.51") as http:
        good = http.get("/health", headers={"Origin": "https://chat.example.org"})
        assert good.headers["access-control-allow-origin"] == "https://chat.example.org"
        assert "access-control-allow-credentials" not in good.headers
        assert "x-request-id" in good.headers["access-control-expose-headers"].lower()
        evil = http.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        pre = http.options("/v1/chat", headers={"Origin": "https://chat.example.org",
                                                "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 200 and "POST" in pre.headers["access-control-allow-methods"]
        pre = http.options("/v1/chat", headers={"Origin": "https://evil.example",
                                                "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 400 and "access-control-allow-origin" not in pre.headers


def test_no_cors_by_default_and_never_credentials_with_any_origin(app_settings):
    assert ServiceSettings(_env_file=None).cors_origins == []
    with pytest.raises(ValidationError, match="cannot be used with"):
        ServiceSettings(_env_file=None, cors_origins=["*"], cors_allow_credentials=True)
    app = create_app(app_settings(cors_origins=["*"]))
    with LiveServer(app) as server, client_from(server.url) as http:
        r = http.get("/health", headers={"Origin": "https://anywhere.example"})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers
    with LiveServer(create_app(app_settings())) as server, client_from(server.url) as http:
        assert "access-control-allow-origin" not in http.get("/health", headers={"Origin": "https://x.example"}).headers


# --- errors and logs ------------------------------------------------------------------------
SECRET_PATH = "/srv/secret/service/chat.py"


@pytest.fixture
def broken(live):
    """The pipeline fails with an exception whose text names a file and the API key."""
    pipeline = live.app.state.pipeline

    def fail(*args, **kw):
        raise RuntimeError(f"boom in {SECRET_PATH} with key {KEY}")

    async def afail(*args, **kw):
        fail()
        yield

    pipeline.run, pipeline.astream = fail, afail
    yield
    del pipeline.run, pipeline.astream


def test_errors_show_no_trace_path_or_key(live, broken, capsys):
    with client_from(live.url, "127.0.0.61") as http, client_from(live.url, "127.0.0.62") as http2:
        r = ask(http, QUESTION)
        assert r.status_code == 500
        body = r.json()
        assert body["request_id"] == r.headers["x-request-id"]
        assert "request id" in body["detail"]
        streamed = http.post("/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True})
        facade = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
        facade_stream = http2.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}],
                                                                  "stream": True})
        assert facade.status_code == 500
        for text in (r.text, streamed.text, facade.text, facade_stream.text):
            for leak in ("Traceback", "RuntimeError", "boom", "/srv", ".py", KEY, "File "):
                assert leak not in text, (leak, text)
        assert "event: error" in streamed.text
    # the log has the traceback, under the request id, with the key redacted; so has the failure
    # in the middle of a stream (its response had begun: the client got an `error` event)
    err = capsys.readouterr().err
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    failure = next(x for x in lines if x.get("event") == "error" and x["request_id"] == body["request_id"])
    assert SECRET_PATH in failure["traceback"] and KEY not in failure["traceback"]
    mid_stream = next(x for x in lines if x.get("event") == "stream_error"
                      and x["request_id"] == streamed.headers["x-request-id"])
    assert mid_stream["error"] == "RuntimeError" and SECRET_PATH in mid_stream["traceback"]
    assert KEY not in err and "[redacted]" in mid_stream["traceback"]


def test_a_failed_ingest_job_is_shown_to_key_holders_without_internals(live, monkeypatch, capsys):
    """Fault injected at the sync call (a failure with a path and the key in its text)."""
    import service.ops.ingest_jobs

    def fail(*args, **kw):
        raise RuntimeError(f"boom in {SECRET_PATH} with key {KEY}")

    monkeypatch.setattr(service.ops.ingest_jobs, "sync_paths", fail)
    manager = live.app.state.ingest
    with pytest.raises(RuntimeError):
        manager.run("sync", "test")
    job_id = next(reversed(manager.jobs))
    with client_from(live.url, "127.0.0.81") as http:
        assert http.get(f"/v1/ingest/{job_id}").status_code == 401  # the job view needs the key too
        assert http.get(f"/v1/ingest/{job_id}", headers={"X-API-Key": "wrong-key-0000"}).status_code == 401
        view = http.get(f"/v1/ingest/{job_id}", headers={"X-API-Key": KEY}).json()
    assert view["status"] == "failed" and view["error"].startswith("RuntimeError")
    assert job_id in view["error"] and "service log" in view["error"]
    for leak in ("boom", "/srv", KEY):
        assert leak not in json.dumps(view), leak
    err = capsys.readouterr().err
    logged = next(json.loads(x) for x in err.splitlines() if x.startswith("{") and '"ingest_error"' in x)
    assert logged["job"] == job_id and SECRET_PATH in logged["traceback"] and KEY not in err


def test_one_json_log_line_per_request_with_its_id_and_no_keys(live, capsys):
    capsys.readouterr()
    with client_from(live.url, "127.0.0.71") as http:
        responses = [
            http.get("/health", headers={"X-API-Key": KEY}),
            http.post("/v1/ingest", headers={"X-API-Key": KEY, "X-Request-ID": "trace-abc.123"}),
            http.post("/v1/ingest", headers={"X-API-Key": KEY[:-1] + "x", "X-Request-ID": "bad id {json}"}),
            http.get(f"/v1/starters?api_key={KEY}"),
            http.post("/v1/chat", json={"messages": [{"role": "user", "content": f"My key is {KEY}"}]}),
        ]
    out = capsys.readouterr()
    everything = out.out + out.err
    assert KEY not in everything and KEY[:-1] not in everything
    lines = [json.loads(x) for x in out.err.splitlines() if x.startswith("{")]
    requests = [x for x in lines if x["event"] == "request" and x["client"] == "127.0.0.71"]  # this test's
    ids = [r.headers["x-request-id"] for r in responses]
    assert [x["request_id"] for x in requests] == ids  # one line each, in order
    assert ids[1] == "trace-abc.123"  # a sane incoming id is kept…
    assert ids[2] != "bad id {json}" and len(ids[2]) == 32  # …anything else is replaced
    assert [x["status"] for x in requests] == [r.status_code for r in responses]
    assert requests[3]["path"] == "/v1/starters"  # no query string
    assert all({"ts", "method", "path", "status", "ms", "client"} <= set(x) for x in requests)
