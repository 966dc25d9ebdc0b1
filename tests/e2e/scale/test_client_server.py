"""Client/server mode against a real `chroma run` server: ingest, chat, outage, recovery, workers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ingest import store as ix
from ingest.sync import sync_paths
from service.app import create_app
from service.ops.store_health import StoreUnavailable
from tests.fixtures.chroma import ChromaServer
from tests.fixtures.core import SAMPLE_CHUNKS
from tests.fixtures.servers import free_port, stop_process

LIGHTHOUSE = """Keeping the light

The Editor talked to Marguerite Okafor, keeper of the Saltmarsh lighthouse, about lamps and storms.

How many lamps does the Saltmarsh lighthouse have?

The Saltmarsh lighthouse has fourteen brass lamps. We polish every one of them each Sunday morning.

What do you do during a storm?

During a storm I stay awake in the lantern room and log every ship that passes the point.
"""
NEW_QUESTION = "How many lamps does the Saltmarsh lighthouse have?"


def ask(client, question: str):
    return client.post("/v1/chat", json={"messages": [{"role": "user", "content": question}]})


def cites_lighthouse(body: dict) -> bool:
    return bool(body["sources"]) and body["sources"][0]["transcript"] == "lighthouse"


def wait_until(check, timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


def test_ingest_chat_outage_and_recovery(server_settings, chroma_server, embedder):
    report = sync_paths([server_settings.transcripts_dir], server_settings, embedder, ix.chroma_client(server_settings))
    assert report.transcripts == 1 and report.added == SAMPLE_CHUNKS
    assert not (server_settings.chroma_path).exists(), "client/server mode must not create an embedded store"

    with TestClient(create_app(server_settings)) as client:
        assert client.get("/ready").json() == {"ready": True, "chroma": "ok"}
        health = client.get("/health").json()
        assert (health["status"], health["chroma"], health["chunks"]) == ("ok", "ok", SAMPLE_CHUNKS)
        assert health["store"].startswith(f"chroma server 127.0.0.1:{chroma_server.port}")
        r = ask(client, "When was Alibaba Cloud started?")
        assert r.status_code == 200 and "2009" in r.json()["answer"]

        chroma_server.stop()  # Chroma goes away mid-run
        r = ask(client, "When was Alibaba Cloud started?")
        assert r.status_code == 503
        detail = r.json()["detail"]
        assert "Chroma server at http://127.0.0.1" in detail and "cannot be reached" in detail
        assert "Traceback" not in r.text and "ConnectError" not in r.text
        assert r.headers["retry-after"] == "5"
        streamed = client.post("/v1/chat", json={"messages": [{"role": "user", "content": "Who is Xuan Jin?"}],
                                                 "stream": True})
        assert "event: error" in streamed.text and "cannot be reached" in streamed.text
        assert "Traceback" not in streamed.text
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "does not answer" in ready.json()["detail"]
        health = client.get("/health")
        assert health.status_code == 200  # alive; /ready is the gate
        assert health.json()["status"] == "degraded" and health.json()["chroma"].startswith("unreachable")

        chroma_server.start()  # same path, same port: no service restart
        assert wait_until(lambda: client.get("/ready").status_code == 200)
        r = ask(client, "When was Alibaba Cloud started?")
        assert r.status_code == 200 and "2009" in r.json()["answer"]
        assert client.get("/health").json()["chroma"] == "ok"


def test_start_up_waits_for_a_late_chroma(tmp_path, server_settings, chroma_server):
    late = ChromaServer(tmp_path / "late", free_port())
    settings = server_settings.model_copy(
        update={"chroma_port": late.port, "chroma_connect_attempts": 200, "chroma_connect_delay": 0.1}
    )
    timer = threading.Timer(1.5, late.start)
    timer.start()
    try:
        started = time.monotonic()
        with TestClient(create_app(settings)) as client:
            assert time.monotonic() - started >= 1.5
            assert client.get("/ready").status_code == 200
            assert client.get("/health").json()["chunks"] == 0
    finally:
        timer.join()
        late.stop()


def test_start_up_gives_up_with_a_clear_message(server_settings):
    settings = server_settings.model_copy(
        update={"chroma_port": free_port(), "chroma_connect_attempts": 2, "chroma_connect_delay": 0.05}
    )
    with pytest.raises(StoreUnavailable, match=r"did not answer after 2 attempt\(s\).*CHROMA_HOST"), \
            TestClient(create_app(settings)):
        pass


def test_two_app_instances_see_a_reingest_through_the_other(server_settings, embedder):
    """Two workers (app instances) on one Chroma server: a sync through one, seen by both."""
    client = ix.chroma_client(server_settings)
    sync_paths([server_settings.transcripts_dir], server_settings, embedder, client)
    with TestClient(create_app(server_settings)) as one, TestClient(create_app(server_settings)) as two:
        for app in (one, two):
            body = ask(app, NEW_QUESTION).json()
            assert not cites_lighthouse(body)
        (server_settings.transcripts_dir / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
        # the re-ingest runs where worker one runs (same process, its embedder and Chroma client)
        retriever_one = one.app.state.pipeline.retriever
        report = sync_paths([server_settings.transcripts_dir], server_settings, retriever_one.embedder,
                            retriever_one.client)
        assert report.added > 0
        for app in (one, two):
            body = ask(app, NEW_QUESTION).json()
            assert cites_lighthouse(body), body["sources"][:1]
            assert "fourteen brass lamps" in body["sources"][0]["text"]
            assert app.get("/health").json()["transcripts"] == 2


def test_uvicorn_two_workers_against_one_chroma(tmp_path, server_settings, chroma_server, embedder):
    """`rag-serve --workers 2` in a subprocess: it serves, and every answer after a re-ingest has it."""
    client = ix.chroma_client(server_settings)
    sync_paths([server_settings.transcripts_dir], server_settings, embedder, client)
    port = free_port()
    env = {
        **os.environ,
        "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma_server.port),
        "TRANSCRIPTS_DIR": str(server_settings.transcripts_dir), "INDEX_CHECK_SECONDS": "0.5",
        "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    with open(tmp_path / "serve.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "rag-serve"), "--workers", "2", "--no-ingest",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_until(ready, timeout=240, every=0.5), (tmp_path / "serve.log").read_text()[-3000:]
        # the workers run with glibc's malloc arenas capped (service/serve.py cap_malloc_arenas)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        environs = [Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") for pid in children]
        assert environs and all(b"MALLOC_ARENA_MAX=2" in env for env in environs), children
        body = httpx.post(f"{base}/v1/chat", json={"messages": [{"role": "user", "content": NEW_QUESTION}]},
                          timeout=60).json()
        assert not cites_lighthouse(body)
        (server_settings.transcripts_dir / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
        sync_paths([server_settings.transcripts_dir], server_settings, embedder, client)
        time.sleep(0.6)  # > INDEX_CHECK_SECONDS
        for _ in range(6):  # fresh connections, spread over the workers by the kernel
            with httpx.Client(timeout=60) as http:
                body = http.post(f"{base}/v1/chat",
                                 json={"messages": [{"role": "user", "content": NEW_QUESTION}]}).json()
            assert cites_lighthouse(body) and "fourteen brass lamps" in body["sources"][0]["text"]
        # /metrics adds up both workers (PROMETHEUS_MULTIPROC_DIR), whichever one is scraped
        text = httpx.get(f"{base}/metrics", timeout=10).text
        chats = [s.value for f in text_string_to_metric_families(text) for s in f.samples
                 if s.name == "rag_http_requests_total" and s.labels.get("endpoint") == "/v1/chat"]
        assert sum(chats) == 7
    finally:
        stop_process(proc, 30)
