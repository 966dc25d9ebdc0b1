"""Re-ingesting while answering: rebuilds, kills, uploads, locks. Real Chroma, model and app."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ingest import store as ix
from ingest.cli import main as ingest_main
from ingest.settings import IndexSettings
from ingest.sync import rebuild, sync_paths
from service.app import create_app
from tests.fixtures.core import SAMPLE, SAMPLE_CHUNKS
from tests.fixtures.servers import free_port, serving

LOCAL = ("127.0.0.1", 50000)  # TestClient's peer address: a loopback client


def _corpus(folder: Path, n: int) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    for i in range(n):
        (folder / f"copy-{i:03d}.txt").write_text(text.replace("2009", str(1900 + i)), encoding="utf-8")


def _index(settings: IndexSettings) -> tuple[list[str], dict[str, int]]:
    client = ix.chroma_client(settings)
    chunks = ix.open_collection(client, settings, ix.CHUNK_SUFFIX).get(include=["metadatas"])
    sents = ix.open_collection(client, settings, ix.SENTENCE_SUFFIX).get(include=["metadatas"])
    per_chunk: dict[str, int] = {}
    for m in sents["metadatas"]:
        per_chunk[m["chunk_id"]] = per_chunk.get(m["chunk_id"], 0) + 1
    expected = {i: m["sentences"] for i, m in zip(chunks["ids"], chunks["metadatas"])}
    assert per_chunk == expected, "sentence records out of step with their chunks"
    return sorted(chunks["ids"]), per_chunk


def _records(sqlite: Path) -> int:
    """Vectors written so far, read from Chroma's SQLite file (only to time the kill)."""
    if not sqlite.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{sqlite}?mode=ro", uri=True, timeout=0.1) as db:
            return db.execute("select count(*) from embeddings").fetchone()[0]
    except sqlite3.Error:
        return 0


def _ingest_cmd(env):
    return subprocess.Popen([sys.executable, "-m", "ingest", "--quiet"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_9_half_way_then_rerun_converges(tmp_path, transcripts, seed):
    _corpus(transcripts, 5)
    env = {**os.environ, "CHROMA_PATH": str(tmp_path / "killed"), "TRANSCRIPTS_DIR": str(transcripts),
           "WRITE_BATCH_SIZE": "8"}
    proc = _ingest_cmd(env)
    deadline = time.time() + 300
    target = random.Random(seed).randint(50, 600)  # records written before the kill (of ~1,200)
    while time.time() < deadline and _records(tmp_path / "killed" / "chroma.sqlite3") < target:
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed: make the corpus bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = _ingest_cmd(env)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err.decode()[-2000:]
    clean_env = {**env, "CHROMA_PATH": str(tmp_path / "clean")}
    clean = _ingest_cmd(clean_env)
    clean.communicate(timeout=600)
    killed_ids, killed_sents = _index(IndexSettings(chroma_path=tmp_path / "killed"))
    clean_ids, clean_sents = _index(IndexSettings(chroma_path=tmp_path / "clean"))
    assert killed_ids == clean_ids and len(clean_ids) == 6 * SAMPLE_CHUNKS
    assert killed_sents == clean_sents
    again = subprocess.run([sys.executable, "-m", "ingest", "--quiet"], env=env, capture_output=True, text=True, check=True)
    assert f"added 0, updated 0, unchanged {6 * SAMPLE_CHUNKS}, deleted 0" in again.stdout


def test_rebuild_while_answering_no_failures_and_no_mixed_answers(settings, embedder):
    client = ix.chroma_client(settings)
    sync_paths([settings.transcripts_dir], settings, embedder, client)
    old_texts = set(ix.open_collection(client, settings, ix.CHUNK_SUFFIX).get()["documents"])
    app_settings = settings.model_copy(update={"index_check_seconds": 0.0})
    results, errors = [], []
    stop = threading.Event()
    with TestClient(create_app(app_settings)) as api:
        def ask():
            questions = ["When was Alibaba Cloud started?", "Which cities have offices?", "Who inspires Xuan Jin?"]
            i = 0
            while not stop.is_set():
                r = api.post("/v1/chat", json={"messages": [{"role": "user", "content": questions[i % 3]}]})
                i += 1
                if r.status_code != 200:
                    errors.append((r.status_code, r.text))
                else:
                    results.append(r.json())

        threads = [threading.Thread(target=ask) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        path = settings.transcripts_dir / SAMPLE.name
        path.write_text(path.read_text(encoding="utf-8").replace("Alibaba", "Alibabá"), encoding="utf-8")
        report = rebuild([settings.transcripts_dir], settings, embedder, client, grace_seconds=1.0)
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(60)
    assert report.added == SAMPLE_CHUNKS
    assert errors == []
    new_texts = set(ix.open_collection(client, settings, ix.CHUNK_SUFFIX).get()["documents"])
    gens = {r["index_generation"] for r in results}
    assert gens == {1, 2}, gens
    for r in results:
        own, other = (old_texts, new_texts) if r["index_generation"] == 1 else (new_texts, old_texts)
        for source in r["sources"]:  # a passage is made of its generation's turns (an answer's pieces joined)
            assert any(t in source["text"] for t in own), source["text"][:200]
            assert not any(t in source["text"] for t in other - own), source["text"][:200]
    state = ix.read_state(client, settings)
    assert (state.generation, state.embedding_model) == (2, settings.embedding_model)
    names = {c.name for c in client.list_collections()}
    assert not any(n.startswith(f"{settings.collection}_g1_") for n in names), "old generation left behind"


def test_failed_rebuild_leaves_live_generation(settings, embedder, tmp_path):
    client = ix.chroma_client(settings)
    sync_paths([settings.transcripts_dir], settings, embedder, client)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Exception, match="live index was left as it was"):
        rebuild([empty], settings, embedder, client, grace_seconds=0)
    assert ix.read_state(client, settings).generation == 1
    assert ix.open_collection(client, settings, ix.CHUNK_SUFFIX).count() == SAMPLE_CHUNKS


def test_service_refuses_an_index_built_with_another_model(ingested, capsys):
    other = ingested.model_copy(update={"embedding_model": "some/other-model"})
    with pytest.raises(ix.ModelMismatch, match="rag-ingest --rebuild"), TestClient(create_app(other)):
        pass
    os.environ["EMBEDDING_MODEL"] = "some/other-model"
    try:
        assert ingest_main(["--quiet"]) == 2
    finally:
        del os.environ["EMBEDDING_MODEL"]
    assert "was built with the embedding model" in capsys.readouterr().err


@pytest.fixture
def keyed(ingested):
    s = ingested.model_copy(update={"api_key": SecretStr("s3cret-key-0123456789"), "max_upload_bytes": 50_000})
    with TestClient(create_app(s), client=LOCAL) as api:
        yield api, s


SMALL = b"Small talk\n\nThe Host spoke with Grace Hopper, Rear Admiral at the Navy, about bugs.\n\n" \
        b"What did you find in the relay?\n\nWe found a moth in the relay. It was the first actual bug.\n"


def test_upload_requires_the_key(keyed):
    api, _ = keyed
    files = {"files": ("hopper.txt", SMALL, "text/plain")}
    assert api.post("/v1/transcripts", files=files).status_code == 401
    r = api.post("/v1/transcripts", files=files, headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and "wrong API key" in r.json()["detail"]
    assert api.post("/v1/ingest").status_code == 401


def test_upload_stores_syncs_and_answers_without_restart(keyed):
    api, s = keyed
    r = api.post("/v1/transcripts", files={"files": ("hopper.txt", SMALL, "text/plain")},
                 headers={"X-API-Key": "s3cret-key-0123456789"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("transcripts", "added", "updated", "unchanged", "deleted", "skipped")} == {
        "transcripts": 2, "added": 2, "updated": 0, "unchanged": SAMPLE_CHUNKS, "deleted": 0, "skipped": []}
    assert (s.transcripts_dir / "hopper.txt").read_bytes() == SMALL
    answer = api.post("/v1/chat", json={"messages": [{"role": "user", "content": "What was found in the relay?"}]}).json()
    assert answer["sources"][0]["transcript"] == "hopper" and "moth" in answer["answer"]
    key = {"X-API-Key": "s3cret-key-0123456789"}
    assert api.get(f"/v1/ingest/{body['job']}").status_code == 401
    job = api.get(f"/v1/ingest/{body['job']}", headers=key).json()
    assert job["status"] == "done" and job["result"]["added"] == 2  # the intro and the answer
    assert api.get("/v1/ingest/nope", headers=key).status_code == 404


@pytest.mark.parametrize(
    "name,data,status,fragment",
    [
        ("big.txt", b"x" * 50_001, 413, "the limit is 50,000 bytes"),
        ("blob.txt", bytes(range(256)) * 4, 422, "was not stored"),
        ("slides.pdf", b"%PDF-1.4", 415, "unsupported format '.pdf'"),
        ("prose.txt", b"Title\n\nJust prose. No questions.\n\nMore prose.", 422, "no interviewer questions"),
    ],
)
def test_bad_uploads_are_rejected_and_nothing_is_stored(keyed, name, data, status, fragment):
    api, s = keyed
    before = sorted(p.name for p in s.transcripts_dir.iterdir())
    r = api.post("/v1/transcripts", files=[("files", ("hopper.txt", SMALL, "text/plain")), ("files", (name, data, "application/octet-stream"))],
                 headers={"X-API-Key": "s3cret-key-0123456789"})
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]
    assert sorted(p.name for p in s.transcripts_dir.iterdir()) == before


def test_a_preview_says_what_an_upload_would_do_to_each_file_and_writes_nothing(keyed):
    api, s = keyed
    key = {"X-API-Key": "s3cret-key-0123456789"}
    sample = next(s.transcripts_dir.glob("*.txt"))
    files = [("files", ("hopper.txt", SMALL, "text/plain")),
             ("files", (sample.name, sample.read_bytes(), "text/plain")),  # the same bytes
             ("files", ("slides.pdf", b"%PDF-1.4", "application/pdf")),
             ("files", ("big.txt", b"x" * 50_001, "text/plain")),
             ("files", ("prose.txt", b"Title\n\nJust prose. No questions.\n\nMore prose.", "text/plain"))]
    assert api.post("/v1/transcripts?preview=true", files=files).status_code == 401  # the upload's key
    before = sorted(p.name for p in s.transcripts_dir.iterdir())
    r = api.post("/v1/transcripts?preview=true", files=files, headers=key)
    assert r.status_code == 200, r.text
    got = {f["file"]: f for f in r.json()["files"]}
    assert [f["file"] for f in r.json()["files"]] == ["hopper.txt", sample.name, "slides.pdf", "big.txt", "prose.txt"]
    assert got["hopper.txt"] == {"file": "hopper.txt", "status": "new", "replaces": [], "title": "Small talk",
                                 "turns": 1, "speakers": 1}
    assert got[sample.name]["status"] == "unchanged"
    assert (got["slides.pdf"]["status"], got["slides.pdf"]["code"]) == ("refused", 415)
    assert "unsupported format '.pdf'" in got["slides.pdf"]["reason"]
    assert (got["big.txt"]["code"], got["prose.txt"]["code"]) == (413, 422)
    assert "no interviewer questions" in got["prose.txt"]["reason"]
    assert sorted(p.name for p in s.transcripts_dir.iterdir()) == before  # nothing written
    # another file of a transcript already there: replaced only with replace
    other = [("files", (sample.stem + ".md", SMALL, "text/markdown"))]
    r = api.post("/v1/transcripts?preview=true", files=other, headers=key).json()["files"][0]
    assert (r["status"], r["replaces"]) == ("exists", [sample.name])
    r = api.post("/v1/transcripts?preview=true&replace=true", files=other, headers=key).json()["files"][0]
    assert (r["status"], r["replaces"]) == ("updated", [sample.name])
    # two files of one transcript in one upload: the second is refused, as the upload would be
    r = api.post("/v1/transcripts?preview=true", files=[files[0], ("files", ("hopper.md", SMALL, "text/markdown"))],
                 headers=key).json()["files"]
    assert [f["status"] for f in r] == ["new", "refused"] and "would both be the transcript 'hopper'" in r[1]["reason"]
    assert sorted(p.name for p in s.transcripts_dir.iterdir()) == before


def test_second_concurrent_ingest_gets_409(keyed):
    api, _ = keyed
    manager = api.app.state.ingest
    assert manager._lock.acquire()
    from service.ops.ingest_jobs import Job

    manager.current = Job("abc123", "sync", "key …-123")
    try:
        r = api.post("/v1/ingest", headers={"X-API-Key": "s3cret-key-0123456789"})
        assert r.status_code == 409 and "job abc123" in r.json()["detail"]
    finally:
        manager.current = None
        manager._lock.release()
    assert api.post("/v1/ingest", headers={"X-API-Key": "s3cret-key-0123456789"}).status_code == 200


def test_without_a_key_only_loopback_may_ingest(ingested):
    with TestClient(create_app(ingested), client=("10.1.2.3", 4000)) as api:
        r = api.post("/v1/ingest")
        assert r.status_code == 403 and "API_KEY" in r.json()["detail"]
    with TestClient(create_app(ingested), client=LOCAL) as api:
        r = api.post("/v1/ingest")
        assert r.status_code == 200 and r.json()["unchanged"] == SAMPLE_CHUNKS


def test_cli_defers_to_a_service_holding_the_embedded_store(ingested, capsys):
    port = free_port()
    s = ingested.model_copy(update={"port": port})
    with serving(create_app(s), port):
        assert ingest_main(["--quiet", str(s.transcripts_dir)]) == 2
        err = capsys.readouterr().err
        assert "holds the embedded store" in err and "/v1/transcripts" in err
        assert ingest_main(["--quiet"]) == 0
        assert f"unchanged {SAMPLE_CHUNKS}" in capsys.readouterr().out
