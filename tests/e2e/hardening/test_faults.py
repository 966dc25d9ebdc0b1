"""Faults: disk full during ingest, Chroma restarted with unflushed vectors, a misbehaving LLM
server, SIGTERM during streams. Real app (in-process, or `rag-serve` as a subprocess), real
Chroma, real model. Ingest killed at random points: tests/reingest/test_reingest.py::
test_kill_9_half_way_then_rerun_converges (two seeds; rerun converges, nothing lost or doubled).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from ingest import store as ix
from ingest.settings import IndexSettings
from tests.fixtures.apps import SWITCH, ask, open_client
from tests.fixtures.core import SAMPLE, SAMPLE_CHUNKS
from tests.fixtures.servers import ServiceProcess
from tests.fixtures.sse import sse

QUESTION = "When was Alibaba Cloud started?"
EXITED = (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down cleanly


def copy_index(index: Path, dest: Path) -> Path:
    shutil.copytree(index / "chroma", dest, ignore=shutil.ignore_patterns("owner.lock"))
    return dest


# --- disk full --------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A size-limited folder: a tmpfs mounted for the test (needs root)."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a size-limited tmpfs (the in-process variant below still runs)")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here (the in-process variant below still runs)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def resize(folder: Path, kilobytes: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={kilobytes}k", str(folder)], check=True)


def test_disk_full_during_ingest_fails_loudly_and_the_index_keeps_serving(llm_index, small_disk, tmp_path):
    chroma = copy_index(llm_index, small_disk / "chroma")
    used = int(subprocess.run(["du", "-sk", str(chroma)], capture_output=True, text=True, check=True).stdout.split()[0])
    resize(small_disk, used + 1100)  # about 1 MB left: not enough for four more transcripts
    folder = tmp_path / "transcripts"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    env = {"chroma_path": chroma, "transcripts_dir": folder, "min_free_disk_mb": 0}
    service = ServiceProcess(tmp_path, **env).start()
    try:
        for i in range(4):
            (folder / f"copy-{i}.txt").write_text(SAMPLE.read_text(encoding="utf-8").replace("2009", str(1990 + i)),
                                                  encoding="utf-8")
        with httpx.Client(base_url=service.url, timeout=300) as http:
            r = http.post("/v1/ingest")
            assert r.status_code == 507, r.text
            assert "disk full" in r.json()["detail"] and "keeps answering" in r.json()["detail"]
            for _ in range(3):  # the live index keeps serving what it had
                answer = ask(http, QUESTION).json()
                assert "2009" in answer["answer"] and {s["transcript"] for s in answer["sources"]} == {SAMPLE.stem}
            health = http.get("/health").json()
            assert (health["status"], health["chunks"]) == ("ok", SAMPLE_CHUNKS)
            started = time.monotonic()
            r = http.post("/v1/ingest")  # no second attempt on a store that failed a write: no hang
            assert r.status_code == 503 and "restart" in r.json()["detail"]
            assert time.monotonic() - started < 5
        assert "ingest failed while writing to the index" in service.log.read_text()
    finally:
        service.stop()
    # the operator frees space and restarts: the next ingest converges
    resize(small_disk, 64 * 1024)
    service = ServiceProcess(tmp_path, **env).start()
    try:
        with httpx.Client(base_url=service.url, timeout=300) as http:
            r = http.post("/v1/ingest")
            assert r.status_code == 200, r.text
            assert r.json()["transcripts"] == 5
            assert http.get("/health").json()["chunks"] == 5 * SAMPLE_CHUNKS
            assert "1992" in ask(http, "When was Alibaba Cloud started? 1992").json()["answer"]
    finally:
        service.stop()


def test_failing_write_in_process_and_the_free_space_check(app_settings, monkeypatch, tmp_path):
    """Without root: a write that raises ENOSPC at the Chroma layer; and the pre-flight check."""
    from chromadb.api.models.Collection import Collection

    more = tmp_path / "more"
    more.mkdir()
    shutil.copy(SAMPLE, more / SAMPLE.name)
    (more / "copy.txt").write_text(SAMPLE.read_text(encoding="utf-8").replace("2009", "1999"), encoding="utf-8")
    with open_client(app_settings(transcripts_dir=more), client=("127.0.0.1", 5000)) as api:
        def full(*args, **kw):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Collection, "upsert", full)
        r = api.post("/v1/ingest")
        assert r.status_code == 507 and "disk full" in r.json()["detail"]
        assert "2009" in ask(api, QUESTION).json()["answer"]
        assert api.post("/v1/ingest").status_code == 503
        monkeypatch.undo()
    with open_client(app_settings(min_free_disk_mb=10**9), client=("127.0.0.1", 5000)) as api:
        r = api.post("/v1/ingest")
        assert r.status_code == 507 and "MIN_FREE_DISK_MB" in r.json()["detail"]


# --- Chroma restart with unflushed vectors ----------------------------------------------------
WRITER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from pathlib import Path
    from ingest import store as ix
    from ingest.settings import IndexSettings
    settings = IndexSettings(_env_file=None, chroma_path=Path(sys.argv[1]))
    coll = ix.open_collection(ix.chroma_client(settings), settings, ix.CHUNK_SUFFIX)
    vecs = np.random.default_rng(7).normal(size=(int(sys.argv[2]), 384)).astype("float32")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for start in range(0, len(vecs), 100):  # batches, as a sync writes them
        ids = [f"v{i:05d}" for i in range(start, min(start + 100, len(vecs)))]
        coll.upsert(ids=ids, embeddings=vecs[start:start + 100].tolist(), documents=ids,
                    metadatas=[{"n": i} for i in range(start, start + len(ids))])
    print("written", coll.count(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no clean shutdown: whatever was not flushed is only in the log
""")


def test_chroma_restart_with_unflushed_vectors_finds_every_one(tmp_path):
    """1,500 vectors (past Chroma's 1,000-vector HNSW sync threshold, the tail never flushed),
    the writer killed -9, then a fresh process: every vector is there and is its own nearest
    neighbour (guards chroma issues 6975 and 7090). The chunk collection: the one searched by vector
    (the sentence collection is read by id, and its HNSW graph is built too sparse for this check)."""
    n = 1500
    proc = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path / "chroma"), str(n)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=False)
    assert proc.returncode == -signal.SIGKILL and f"written {n}" in proc.stdout, proc.stderr[-2000:]
    settings = IndexSettings(_env_file=None, chroma_path=tmp_path / "chroma")
    coll = ix.open_collection(ix.chroma_client(settings), settings, ix.CHUNK_SUFFIX)
    assert coll.count() == n
    got = coll.get(include=["embeddings"])
    assert len(got["ids"]) == n
    found = coll.query(query_embeddings=got["embeddings"], n_results=1)["ids"]
    missing = [i for i, hit in zip(got["ids"], found) if hit != [i]]
    assert not missing, f"{len(missing)} vectors not found by their own embedding, e.g. {missing[:5]}"


# --- a misbehaving LLM server -----------------------------------------------------------------
# Down: tests/llm/test_llm_service.py::test_llm_server_down_is_a_clear_503_and_the_service_stays_up;
# timeout: ::test_llm_timeout_is_a_504; fallback when down: ::test_fallback_to_extractive_when_the_llm_is_down.
@pytest.fixture(scope="module")
def llm_app(app_settings, fake_llm):
    settings = app_settings(answer_mode="llm", llm_base_url=fake_llm("switch"), llm_timeout=2)
    with open_client(settings) as client:
        yield client
    SWITCH["mode"] = "ok"


def stream_events(client, question=QUESTION):
    with client.stream("POST", "/v1/chat", json={"messages": [{"role": "user", "content": question}],
                                                  "stream": True}) as r:
        return [(n, json.loads(d)) for n, d in sse(r.iter_lines())]


@pytest.mark.parametrize(
    "mode,status,fragment",
    [
        ("slow", 504, "did not answer within 2 s"),
        ("e500", 502, "answered with HTTP 500"),
        ("garbage", 502, "not a valid OpenAI-compatible"),
        ("html", 502, "not a valid OpenAI-compatible"),
        ("cut", 502, "cut its answer off mid-stream"),
    ],
)
def test_misbehaving_llm_gives_clear_errors_and_nothing_hangs(llm_app, mode, status, fragment):
    SWITCH["mode"] = mode
    started = time.monotonic()
    r = ask(llm_app, QUESTION)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]
    events = stream_events(llm_app)
    assert events[0][0] == "sources" and events[-1][0] == "error", events
    assert fragment in events[-1][1]["detail"]
    assert time.monotonic() - started < 15  # two requests, each bounded by LLM_TIMEOUT (2 s)
    assert llm_app.app.state.pipeline.active == 0
    SWITCH["mode"] = "ok"
    assert ask(llm_app, QUESTION).status_code == 200  # and the next question is answered


@pytest.mark.parametrize("mode", ["slow", "e500", "garbage"])
def test_fallback_to_the_builtin_answerer(app_settings, fake_llm, mode):
    settings = app_settings(answer_mode="llm", llm_base_url=fake_llm(mode), llm_timeout=2, llm_fallback=True)
    with open_client(settings) as client:
        body = ask(client, QUESTION).json()
        assert body["mode"] == "extractive" and "2009" in body["answer"]
        events = stream_events(client)
        assert events[-1][0] == "done" and events[-1][1]["answer"] == body["answer"]


# --- SIGTERM during streams -------------------------------------------------------------------
def start_streams(url: str, n: int) -> tuple[list[threading.Thread], list[list[str]], threading.Barrier]:
    results: list[list[str]] = [[] for _ in range(n)]
    first = threading.Barrier(n + 1, timeout=60)

    def run(i):
        names = results[i]
        try:
            with httpx.stream("POST", f"{url}/v1/chat", timeout=60,
                              json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}) as r:
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        names.append(line[7:])
                        if names.count("token") == 1:
                            first.wait()
        except httpx.HTTPError as exc:
            names.append(f"cut: {type(exc).__name__}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results, first


def test_sigterm_drains_active_streams_then_exits(llm_index, fake_llm, tmp_path):
    chroma = copy_index(llm_index, tmp_path / "chroma")
    service = ServiceProcess(tmp_path, chroma_path=chroma, transcripts_dir=llm_index / "transcripts", answer_mode="llm",
                      llm_base_url=fake_llm("steady"), shutdown_grace_seconds=15).start()
    try:
        threads, results, first = start_streams(service.url, 4)
        first.wait()  # every stream has its first token
        service.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):  # no new work is taken
            httpx.get(f"{service.url}/health", timeout=2)
        for t in threads:
            t.join(30)
        assert service.proc.wait(30) in EXITED
        assert time.monotonic() - signalled < 15
        assert all(r[-1] == "done" for r in results), results  # every stream finished: drained
    finally:
        service.stop()


def test_sigterm_with_endless_streams_exits_within_the_grace_period(llm_index, fake_llm, tmp_path):
    chroma = copy_index(llm_index, tmp_path / "chroma")
    service = ServiceProcess(tmp_path, chroma_path=chroma, transcripts_dir=llm_index / "transcripts", answer_mode="llm",
                      llm_base_url=fake_llm("trickle"), shutdown_grace_seconds=2, llm_evidence_gate=False).start()
    try:
        threads, results, first = start_streams(service.url, 2)
        first.wait()
        service.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert service.proc.wait(20) in EXITED
        assert time.monotonic() - signalled < 2 + 5
        for t in threads:
            t.join(10)
            assert not t.is_alive()  # the clients were let go, not left hanging
        assert all("done" not in r for r in results)
    finally:
        service.stop()
