"""Browser tests of the chat UI: the real service on a free loopback port, Debian's Chromium.

Two indexes are built once per session with the project's own ingest code: the real sample
interview plus a hostile transcript whose answers carry HTML/script payloads ("interview"), and
a slice of the real committee hearings of ../shared/corpora/qmsum-committee/ plus a short council
meeting with timestamps and a video ("hearings"). Tests that take `corpus` run on both. Each
service runs in a subprocess (so a test can stop it), and Playwright drives /usr/bin/chromium
headless.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.town_hall import TOWN_HALL, TOWN_HALL_FILE, TOWN_HALL_ID

from .helpers import (
    ARTIFACTS,
    CORPUS,
    DESKTOP,
    HEARINGS,
    HOSTILE,
    SAMPLE,
    WATCH,
    Chat,
    ui_service,
)

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def ingest_folder(base: Path, transcripts: Path) -> Path:
    """`transcripts` ingested into base/chroma with the project's ingest code; returns the store."""
    from chromadb.api.client import SharedSystemClient

    from ingest.embed import load_embedder
    from ingest.settings import IngestSettings
    from ingest.store import chroma_client
    from ingest.sync import sync_paths

    settings = IngestSettings(_env_file=None, chroma_path=base / "chroma", transcripts_dir=transcripts)
    client = chroma_client(settings)
    report = sync_paths([transcripts], settings, load_embedder(settings), client)
    files = len(list(transcripts.iterdir()))
    assert report.transcripts == files and not report.skipped, report.summary()
    del client
    SharedSystemClient.clear_system_cache()  # let the server process own the store
    return settings.chroma_path


@pytest.fixture(scope="session")
def browser_index(tmp_path_factory) -> dict:
    """The sample interview and the hostile transcript, ingested with the project's ingest code."""
    base = tmp_path_factory.mktemp("browser")
    transcripts = base / "transcripts"
    transcripts.mkdir()
    shutil.copy(SAMPLE, transcripts / SAMPLE.name)
    (transcripts / "hostile-bakery.txt").write_text(HOSTILE, encoding="utf-8")
    chroma = ingest_folder(base, transcripts)
    # A running service locks its store, so a second service needs a copy of its own.
    spare = base / "chroma-spare"
    shutil.copytree(chroma, spare)
    return {"base": base, "chroma": chroma, "spare": spare, "transcripts": transcripts}


@pytest.fixture(scope="session")
def hearing_server(tmp_path_factory):
    """The service over a slice of the real committee hearings and the timestamped council meeting."""
    missing = [CORPUS / f"{name}.txt" for name in HEARINGS if not (CORPUS / f"{name}.txt").exists()]
    if missing:
        pytest.skip(f"the committee hearings are not present (need ../shared/corpora/qmsum-committee/): {missing[0]}")
    base = tmp_path_factory.mktemp("hearings")
    transcripts = base / "transcripts"
    transcripts.mkdir()
    for name in HEARINGS:
        shutil.copy(CORPUS / f"{name}.txt", transcripts / f"{name}.txt")
    (transcripts / TOWN_HALL_FILE).write_text(TOWN_HALL, encoding="utf-8")
    live = ui_service(ingest_folder(base, transcripts), transcripts, base)
    live.start()
    yield live
    live.stop()


@dataclass(frozen=True)
class Corpus:
    """One of the two indexes the page is tested on, and what to ask it."""

    name: str  # "interview" | "hearings"
    url: str
    question: str  # answered with citations
    answer_has: str  # words the answer to `question` contains
    scope_id: str  # a transcript to ask about alone
    scope_question: str  # a question whose passages come from more than `scope_id` when not scoped
    speaker: str  # a speaker to ask about alone (with `scope_question`)
    follow_up: str  # a follow-up to `question`
    digest: str  # "Summarize …"
    timed_id: str | None = None  # a transcript with timestamps and a recording


CORPORA = {
    "interview": {
        "question": "Where are Alibaba Cloud's offices in Europe?", "answer_has": "London",
        "scope_id": "alibaba-cloud-xuan-jin", "scope_question": "What is the secret of good baking?",
        "speaker": "Xuan Jin", "follow_up": "Which one is the head office?",
        "digest": "Summarize what was said about the cloud in Europe.",
    },
    "hearings": {
        "question": "When will the river park open?", "answer_has": "first of May",
        "scope_id": "education_17", "scope_question": "What was said about universities?",
        "speaker": "Kirsty Williams", "follow_up": "Who is repairing it?",
        "digest": "Summarize the discussion about the Welsh baccalaureate.", "timed_id": TOWN_HALL_ID,
    },
}


@pytest.fixture(params=sorted(CORPORA))
def corpus(request) -> Corpus:
    """Each test that takes it runs on the interview corpus and on the hearings."""
    live = request.getfixturevalue("server" if request.param == "interview" else "hearing_server")
    return Corpus(name=request.param, url=live.url + "/", **CORPORA[request.param])


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

    def make(url: str | None = None, viewport: dict | None = None, tab_of=None, **context_args):
        """A page in a new context, or (`tab_of=page`) another tab beside `page`, sharing its storage."""
        if tab_of is not None:
            ctx = None
            page = tab_of.context.new_page()
        else:
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
    try:
        for _, page, bypass in contexts:
            if not page.is_closed():
                assert page.errors == [], f"uncaught errors in the page: {page.errors}"
                if not bypass:
                    assert page.evaluate("window.__cspViolations") == [], "the page broke its own CSP"
    finally:
        for ctx, _, _ in contexts:
            if ctx is not None:
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
