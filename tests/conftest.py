"""Shared fixtures: every path and setting points at tmp_path; real model, real Chroma."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "transcripts" / "alibaba-cloud-xuan-jin.txt"
DEV_CASES = ROOT.parent / "shared" / "eval" / "dev.jsonl"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No test touches var/ or a .env: state lives under tmp_path."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("CHROMA_", "LLM_", "ANSWER_", "TRANSCRIPTS_", "EMBEDDING_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CHROMA_PATH", str(tmp_path / "chroma"))
    monkeypatch.setenv("TRANSCRIPTS_DIR", str(tmp_path / "transcripts"))


@pytest.fixture
def transcripts(tmp_path) -> Path:
    """A transcripts folder holding the real sample interview."""
    folder = tmp_path / "transcripts"
    folder.mkdir(exist_ok=True)
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    return folder


@pytest.fixture
def settings(tmp_path, transcripts):
    from ingest.config import Settings

    return Settings(chroma_path=tmp_path / "chroma", transcripts_dir=transcripts)


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded once per session (offline, from its pip package)."""
    from ingest.config import Settings
    from ingest.index import load_embedder

    return load_embedder(Settings())


@pytest.fixture
def ingested(settings, embedder):
    """The sample transcript synced into a Chroma store under tmp_path."""
    from ingest.index import chroma_client
    from ingest.sync import sync_paths

    report = sync_paths([settings.transcripts_dir], settings, embedder, chroma_client(settings))
    assert report.transcripts == 1 and not report.skipped
    return settings


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium per session, shared by every folder that drives the UI.

    Playwright's sync API keeps an event loop running while it is open, so a second
    `sync_playwright()` in the same session fails: tests that need a browser take this fixture."""
    from playwright.sync_api import sync_playwright

    from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make browser` (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
