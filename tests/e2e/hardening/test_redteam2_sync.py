"""Second red-team (issue 19), items 5 and 12: syncs past a thousand transcripts, a failed read
taken for a failed write, failed uploads left in the folder, and half-written transcripts served as
whole after `rag-ingest` was killed -9.

Real parts: the app through its lifespan (TestClient), Chroma on disk under tmp_path, the real
embedding model, `rag-ingest` (`python -m ingest`) as a process killed at a real point of its
writes (its chunk count, read from Chroma's SQLite file). The one injected fault is a Chroma read
error (`chromadb.errors.InternalError`, the error the red team saw) at the chunk collection.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chromadb.api.models.Collection import Collection
from chromadb.errors import InternalError
from fastapi.testclient import TestClient

from ingest import store as ix
from ingest.sync import sync_paths
from service.app import create_app
from service.settings import ServiceSettings
from tests.fixtures.core import ROOT, SAMPLE, SAMPLE_CHUNKS

LOCAL = ("127.0.0.1", 50000)  # TestClient's peer address: a loopback client, which may ingest
N = 1050  # past SQLite's expression depth of 1,000, where one `$or` clause per transcript failed
DEPTH_ERROR = ("Error executing plan: Internal error: error returned from database: (code: 1) "
               "Expression tree is too large (maximum depth 1000)")
NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Radia Perlman", "Ken Thompson", "Hedy Lamarr"]
SMALL = (b"Small talk\n\nThe Host spoke with Grace Hopper, Rear Admiral at the Navy, about bugs.\n\n"
         b"What did you find in the relay?\n\nWe found a moth in the relay. It was the first actual bug.\n")


def tiny_corpus(folder: Path, n: int) -> None:
    """N tiny labelled interviews: an interviewer and one of several guests, two turns each."""
    rng = random.Random(19)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        guest = rng.choice(NAMES)
        (folder / f"t{i:04d}.txt").write_text(
            f"Meeting {i} about budgets\n\nInterviewer: What did you change in {1900 + i % 120}?\n\n"
            f"{guest}: We moved item {i} to the {rng.choice(['red', 'blue', 'green'])} ledger.\n",
            encoding="utf-8")


def app_settings(root: Path) -> ServiceSettings:
    return ServiceSettings(_env_file=None, chroma_path=root / "chroma", transcripts_dir=root / "transcripts",
                    chat_rate_limit=0, ingest_rate_limit=0, min_free_disk_mb=0)


@pytest.fixture(scope="module")
def thousand(tmp_path_factory, embedder) -> tuple[Path, int]:
    """N tiny transcripts synced once (the real sync); each test works on a copy."""
    root = tmp_path_factory.mktemp("thousand")
    tiny_corpus(root / "transcripts", N)
    settings = app_settings(root)
    report = sync_paths([settings.transcripts_dir], settings, embedder, ix.chroma_client(settings))
    assert report.transcripts == N and not report.skipped
    return root, report.added


def copy_of(index: tuple[Path, int], dest: Path) -> ServiceSettings:
    shutil.copytree(index[0] / "chroma", dest / "chroma", ignore=shutil.ignore_patterns("owner.lock"))
    shutil.copytree(index[0] / "transcripts", dest / "transcripts")
    return app_settings(dest)


def ask(api: TestClient, question: str) -> dict:
    r = api.post("/v1/chat", json={"messages": [{"role": "user", "content": question}]})
    assert r.status_code == 200, r.text
    return r.json()


# --- item 5: past a thousand transcripts -------------------------------------------------------
def test_sync_resync_and_upload_past_a_thousand_transcripts(thousand, tmp_path):
    """Before: the second sync (here the first through the API) failed on the `$or` of 1,050
    clauses, was taken for a write failure (500), and every ingest after it was a 503."""
    settings = copy_of(thousand, tmp_path)
    chunks = thousand[1]
    with TestClient(create_app(settings), client=LOCAL) as api:
        for _ in range(2):
            r = api.post("/v1/ingest")
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["transcripts"], body["added"], body["updated"], body["unchanged"]) == (N, 0, 0, chunks)
            assert body["seconds"] < 30  # about 1 s here: a linear read of the index
        r = api.post("/v1/transcripts", files={"files": ("hopper.txt", SMALL, "text/plain")})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["transcripts"], body["added"], body["unchanged"]) == (N + 1, 2, chunks)
        assert body["files"] == [{"file": "hopper.txt", "status": "stored"}]
        assert api.get("/v1/transcripts/hopper").status_code == 200
        assert ask(api, "What did Grace Hopper find in the relay?")["sources"][0]["transcript"] == "hopper"
        assert api.post("/v1/ingest").json()["unchanged"] == chunks + 2


def test_a_failed_read_during_sync_is_not_a_write_failure(thousand, tmp_path, monkeypatch):
    """A Chroma error while the sync reads the index is a 500 that wrote nothing: ingest stays on
    (before: 503 'restart' for every ingest after it). A failed upload leaves the folder as it was
    (before: its file stayed, unindexed)."""
    settings = copy_of(thousand, tmp_path)
    folder = settings.transcripts_dir
    real_get = Collection.get
    armed = {"left": 0}

    def get(self, *args, **kw):  # the injected fault: the next read of the chunk collection fails
        if armed["left"] and self.name.endswith(ix.CHUNK_SUFFIX):
            armed["left"] -= 1
            raise InternalError(DEPTH_ERROR)
        return real_get(self, *args, **kw)

    monkeypatch.setattr(Collection, "get", get)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with TestClient(create_app(settings), client=LOCAL) as api:
        armed["left"] = 1
        r = api.post("/v1/ingest")
        assert r.status_code == 500 and "while reading the index" in r.json()["detail"], r.text
        assert "restart" not in r.json()["detail"]
        armed["left"] = 1
        r = api.post("/v1/transcripts", files={"files": ("hopper.txt", SMALL, "text/plain")})
        assert r.status_code == 500, r.text
        armed["left"] = 1
        r = api.post("/v1/transcripts", params={"replace": "true"},
                     files={"files": ("t0007.txt", SMALL, "text/plain")})
        assert r.status_code == 500, r.text
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing left behind
        assert armed["left"] == 0
        r = api.post("/v1/ingest")  # ingest is still on, and works
        assert r.status_code == 200, r.text
        assert (r.json()["transcripts"], r.json()["unchanged"]) == (N, thousand[1])
        r = api.post("/v1/transcripts", files={"files": ("hopper.txt", SMALL, "text/plain")})
        assert r.status_code == 200 and r.json()["files"] == [{"file": "hopper.txt", "status": "stored"}], r.text
        assert ask(api, "What did Grace Hopper find in the relay?")["sources"][0]["transcript"] == "hopper"


# --- item 12: kill -9 part-way through a large transcript ---------------------------------------
def big_transcript(answers: int, edition: str = "") -> str:
    """A plain-text interview with `answers` short answers, one chunk each."""
    rng = random.Random(12)
    words = ["ledger", "harbour", "granite", "violin", "orchard", "lantern", "compass", "meadow", "copper"]
    parts = ["The box archive", "", "The Host spoke with Dana Scully, Director at the Bureau, about the archive.", ""]
    for k in range(answers):
        parts += [f"What was in box {k}?", "",
                  (f"Box {k} held {rng.choice(words)} papers{edition} from {1800 + k}. "
                  f"They were filed by clerk number {k * 7 + 3}."), ""]
    return "\n".join(parts)


def chunk_records(chroma: Path) -> int:
    """Chunk records written so far, read from Chroma's SQLite file (only to time the kill)."""
    try:
        with sqlite3.connect(f"file:{chroma / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=0.1) as db:
            return db.execute(
                "select count(*) from embeddings e join segments s on e.segment_id = s.id "
                "join collections c on s.collection = c.id where c.name like ?", (f"%_{ix.CHUNK_SUFFIX}",)
            ).fetchone()[0]
    except sqlite3.Error:
        return -1


def rag_ingest(settings: ServiceSettings) -> subprocess.Popen:
    env = {**os.environ, "CHROMA_PATH": str(settings.chroma_path), "TRANSCRIPTS_DIR": str(settings.transcripts_dir),
           "WRITE_BATCH_SIZE": "8", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}  # this tree's ingest
    return subprocess.Popen([sys.executable, "-m", "ingest", "--quiet"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_to_end(settings: ServiceSettings) -> None:
    proc = rag_ingest(settings)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err.decode()[-2000:]


def kill_between(settings: ServiceSettings, low: int, high: int) -> int:
    """Start rag-ingest and kill -9 it once it has written more than `low` chunk records (of
    `high`); the count it was killed at."""
    proc = rag_ingest(settings)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and proc.poll() is None and chunk_records(settings.chroma_path) <= low:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = chunk_records(settings.chroma_path)
    assert low < written < high, f"killed at {written} chunk records, not between {low} and {high}"
    return written


@pytest.mark.parametrize("case", ["first ingest", "re-ingest of a longer version"])
def test_a_transcript_cut_off_by_kill_9_is_not_served_until_a_sync_finishes_it(tmp_path, case):
    """Before: the service listed the big transcript with the chunks written so far (e.g. 120 of
    301) and answered from them, as if it were whole."""
    settings = app_settings(tmp_path)
    settings.transcripts_dir.mkdir()
    shutil.copy(SAMPLE, settings.transcripts_dir / SAMPLE.name)
    big = settings.transcripts_dir / "big.txt"
    if case == "first ingest":
        run_to_end(settings)  # the sample, whole
        big.write_text(big_transcript(300), encoding="utf-8")
        low, whole = SAMPLE_CHUNKS + 40, SAMPLE_CHUNKS + 301
    else:  # the big transcript whole, then a longer edition of it: every piece changes, 100 more
        big.write_text(big_transcript(200), encoding="utf-8")
        run_to_end(settings)
        big.write_text(big_transcript(300, edition=" (second edition)"), encoding="utf-8")
        low, whole = SAMPLE_CHUNKS + 201 + 20, SAMPLE_CHUNKS + 301
    written = kill_between(settings, low, whole)
    client = ix.chroma_client(settings)
    got = ix.open_collection(client, settings, ix.CHUNK_SUFFIX).get(where={ix.K_TRANSCRIPT: "big"},
                                                                    include=["documents"])
    assert len(got["ids"]) == written - SAMPLE_CHUNKS < 301  # the big transcript is half-written
    box = next(doc for doc in got["documents"] if doc.startswith("Box ")).split()[1]  # a piece that is there
    del client
    with TestClient(create_app(settings), client=LOCAL) as api:
        listed = {t["id"]: t for t in api.get("/v1/transcripts").json()["transcripts"]}
        assert "big" not in listed, f"listed with {listed['big']['chunks']} of 301 chunks"
        assert listed[SAMPLE.stem]["chunks"] == SAMPLE_CHUNKS
        assert api.get("/v1/transcripts/big").status_code == 404
        for question in (f"What was in box {box}?", f"Box {box} papers from the archive"):
            sources = {s["transcript"] for s in ask(api, question)["sources"]}
            assert "big" not in sources
        assert api.get("/health").json()["chunks"] == SAMPLE_CHUNKS
        r = api.post("/v1/ingest")  # a sync finishes it
        assert r.status_code == 200, r.text
        listed = {t["id"]: t for t in api.get("/v1/transcripts").json()["transcripts"]}
        assert listed["big"]["chunks"] == 301
        assert "big" in {s["transcript"] for s in ask(api, f"What was in box {box}?")["sources"]}
