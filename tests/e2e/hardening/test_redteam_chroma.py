"""A hung Chroma server: a real `chroma run` stopped with SIGSTOP keeps its port open (the kernel
still accepts connections) but never answers. Every call to it must give up after
CHROMA_REQUEST_TIMEOUT: a chat gets the store's 503 and its worker thread is free again, /health
and /ready answer within CHROMA_CHECK_TIMEOUT, ingest fails instead of hanging, and after SIGCONT
the service answers again without a restart.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from ingest import store as ix
from ingest.sync import sync_paths
from service.ops import store_health as store
from service.settings import ServiceSettings
from tests.fixtures.apps import ask, open_client
from tests.fixtures.chroma import ChromaServer
from tests.fixtures.core import SAMPLE_CHUNKS
from tests.fixtures.servers import wait_until

QUESTION = "When was Alibaba Cloud started?"
THREE = ["Who is Xuan Jin?", "What is Apsara?", "Where is Alibaba Cloud based?"]
TIMEOUT = 3.0  # CHROMA_REQUEST_TIMEOUT in these tests
CHECK = 1.0  # CHROMA_CHECK_TIMEOUT
MARGIN = 4.0  # thread start-up, the model and the machine's other work


@pytest.fixture
def chroma(tmp_path):
    server = ChromaServer(tmp_path / "chroma-server").start()
    try:
        yield server
    finally:
        if server.proc is not None:
            os.kill(server.proc.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        server.stop()


@pytest.fixture
def hung_settings(chroma, transcripts, embedder):
    """Client/server settings with short timeouts, the sample already ingested. request_timeout
    (the whole answer's deadline, a 504) is well above CHROMA_REQUEST_TIMEOUT, so a 503 can only
    come from the store call giving up inside the worker thread."""
    settings = ServiceSettings(
        _env_file=None, chroma_host="127.0.0.1", chroma_port=chroma.port, transcripts_dir=transcripts,
        chroma_connect_attempts=3, chroma_connect_delay=0.2, index_check_seconds=0,
        chroma_request_timeout=TIMEOUT, chroma_check_timeout=CHECK, request_timeout=30,
    )
    report = sync_paths([transcripts], settings, embedder, ix.chroma_client(settings))
    assert (report.transcripts, report.added) == (1, SAMPLE_CHUNKS)
    return settings


@contextmanager
def stopped(server: ChromaServer):
    """SIGSTOP the Chroma server for the block; SIGCONT it however the block ends."""
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def helper_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("chroma-")]


@pytest.mark.timeout(120)
def test_hung_chroma_server_gives_503_within_the_timeout_and_recovers(hung_settings, chroma):
    detail = store.unavailable_detail(hung_settings)
    with open_client(hung_settings) as client:
        r = ask(client, QUESTION)
        assert r.status_code == 200 and "2009" in r.json()["answer"]

        with stopped(chroma):
            r, took = timed(lambda: ask(client, "What did Xuan Jin study?"))
            assert (r.status_code, r.json()["detail"]) == (503, detail), r.text
            assert r.headers["retry-after"] == "5"
            assert TIMEOUT * 0.9 <= took < TIMEOUT + MARGIN

            streamed, took = timed(lambda: ask(client, "What does Xuan Jin do?", stream=True))
            assert "event: error" in streamed.text and "cannot be reached" in streamed.text
            assert "Traceback" not in streamed.text and took < TIMEOUT + MARGIN

            # Workers given up on are free again: three at once all get the 503, in one timeout.
            with ThreadPoolExecutor(3) as pool:
                answers, took = timed(lambda: list(pool.map(lambda q: ask(client, q), THREE)))
            assert [(a.status_code, a.json()["detail"]) for a in answers] == [(503, detail)] * 3
            assert took < TIMEOUT + MARGIN

            health, took = timed(lambda: client.get("/health"))
            assert health.status_code == 200 and took < CHECK + MARGIN
            assert health.json()["status"] == "degraded"
            assert health.json()["chroma"].startswith("unreachable: ReadTimeout")
            ready, took = timed(lambda: client.get("/ready"))
            assert (ready.status_code, ready.json()["ready"]) == (503, False) and took < CHECK + MARGIN

        wait_until(lambda: client.get("/ready").status_code == 200, 30, "/ready after SIGCONT")
        r = ask(client, QUESTION)
        assert r.status_code == 200 and "2009" in r.json()["answer"]
        assert client.get("/health").json()["chroma"] == "ok"
    # The calls abandoned while Chroma was stopped ended once it answered: no thread is left.
    wait_until(lambda: not helper_threads(), 10, "the abandoned Chroma calls to end")


@pytest.mark.timeout(60)
def test_ingest_gives_up_on_a_hung_chroma_server(hung_settings, chroma, embedder):
    client = ix.chroma_client(hung_settings)  # rag-ingest's client, opened while Chroma answers
    expected = (rf"chroma server 127\.0\.0\.1:{chroma.port} did not answer \w+\(\) within 3 s "
                r"\(CHROMA_REQUEST_TIMEOUT\)")
    with stopped(chroma):
        start = time.monotonic()
        with pytest.raises(httpx.TimeoutException, match=expected):
            sync_paths([hung_settings.transcripts_dir], hung_settings, embedder, client)
        assert time.monotonic() - start < TIMEOUT + MARGIN
        start = time.monotonic()
        with pytest.raises(httpx.TimeoutException, match=expected):
            ix.chroma_client(hung_settings)  # connecting is bounded too
        assert time.monotonic() - start < TIMEOUT + MARGIN
    report = sync_paths([hung_settings.transcripts_dir], hung_settings, embedder, client)
    assert (report.transcripts, report.added) == (1, 0)  # the same client works again
