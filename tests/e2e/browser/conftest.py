"""Browser tests of the chat UI: the real service on a free loopback port, Debian's Chromium.

The index is built once per session with the project's own ingest code from the real sample
interview plus a hostile transcript whose answers carry HTML/script payloads. The service runs
in a subprocess (so a test can stop it), and Playwright drives /usr/bin/chromium headless.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .helpers import (
    ARTIFACTS,
    DESKTOP,
    HOSTILE,
    SAMPLE,
    WATCH,
    Chat,
    ui_service,
)

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def browser_index(tmp_path_factory) -> dict:
    """The sample interview and the hostile transcript, ingested with the project's ingest code."""
    from chromadb.api.client import SharedSystemClient

    from ingest.embed import load_embedder
    from ingest.settings import Settings
    from ingest.store import chroma_client
    from ingest.sync import sync_paths

    base = tmp_path_factory.mktemp("browser")
    transcripts = base / "transcripts"
    transcripts.mkdir()
    shutil.copy(SAMPLE, transcripts / SAMPLE.name)
    (transcripts / "hostile-bakery.txt").write_text(HOSTILE, encoding="utf-8")
    settings = Settings(_env_file=None, chroma_path=base / "chroma", transcripts_dir=transcripts)
    client = chroma_client(settings)
    report = sync_paths([transcripts], settings, load_embedder(settings), client)
    assert report.transcripts == 2 and not report.skipped, report.summary()
    del client
    SharedSystemClient.clear_system_cache()  # let the server process own the store
    # A running service locks its store, so a second service needs a copy of its own.
    spare = base / "chroma-spare"
    shutil.copytree(settings.chroma_path, spare)
    return {"base": base, "chroma": settings.chroma_path, "spare": spare, "transcripts": transcripts}


@pytest.fixture(scope="session")
def server(browser_index):
    live = ui_service(browser_index["chroma"], browser_index["transcripts"], browser_index["base"])
    live.start()
    yield live
    live.stop()


@pytest.fixture
def own_server(browser_index, tmp_path):
    """A service of this test's own (on a copy of the index), for tests that stop it."""
    live = ui_service(browser_index["spare"], browser_index["transcripts"], tmp_path).start()
    yield live
    live.stop()


@pytest.fixture
def open_page(browser, server):
    """Factory: a fresh browser context (empty localStorage) on the service; checks hygiene after."""
    contexts = []

    def make(url: str | None = None, viewport: dict | None = None, **context_args):
        ctx = browser.new_context(viewport=viewport or DESKTOP, **context_args)
        ctx.set_default_timeout(30_000)
        page = ctx.new_page()
        page.add_init_script(WATCH)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        contexts.append((ctx, page, context_args.get("bypass_csp", False)))
        page.goto(url or server.url + "/")
        return page

    yield make
    for ctx, page, bypass in contexts:
        try:
            if not page.is_closed():
                assert page.errors == [], f"uncaught errors in the page: {page.errors}"
                if not bypass:
                    assert page.evaluate("window.__cspViolations") == [], "the page broke its own CSP"
        finally:
            ctx.close()


@pytest.fixture
def page(open_page):
    return open_page()


@pytest.fixture
def chat(page):
    return Chat(page)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
