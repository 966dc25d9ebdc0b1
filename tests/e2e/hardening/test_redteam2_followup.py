"""Second red-team, follow-ups and the default chat rate limit (issue 19, items 3 and 6).

Item 3: with `filters.transcripts=["covid_0"]`, an earlier assistant turn quoting education_0 and
"What did he say next?", source 1 was education_0's next turn: the follow-up found the quote in
every transcript and pinned the next turn without the request's scope. The same with
`filters.speakers`, streaming, and the OpenAI facade. Here two real hearings of the QMSum corpus
(their opening turns) are ingested into a real Chroma store and the real app answers the attack on
each path: every source is in the request's scope, and the follow-up still works inside it.

Item 6: an assistant turn of 19,000 opening quotation marks and no closing one cost 0.68 s of
regex per request, with the GIL held; and with rate limits off by default, ordinary chats from one
address could take every chat slot. Here the hostile history costs what a harmless one of the same
length does, and the default settings refuse a burst of MAX_CONCURRENT_CHATS chats from one
address past CHAT_RATE_LIMIT's burst (429 + Retry-After) while another address is answered.
"""

from __future__ import annotations

import json
import shutil
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ServiceSettings
from tests.fixtures.apps import build_index
from tests.fixtures.core import ROOT
from tests.fixtures.servers import LiveServer
from tests.fixtures.sse import sse

CORPUS = ROOT.parent / "shared" / "corpora" / "qmsum-committee"
HEARINGS = {"covid_0": 40, "education_0": 40}  # transcript id -> paragraphs kept (its opening turns)
pytestmark = pytest.mark.skipif(
    not all((CORPUS / f"{t}.txt").is_file() for t in HEARINGS),
    reason="the QMSum committee hearings are not in ../shared/corpora/qmsum-committee/",
)

# A sentence of Vaughan Gething's first answer in education_0, quoted as the built-in answerer quotes.
QUOTED = ("It's still the case that children and young people are less likely to be affected significantly "
          "by COVID-19 than people with a range of healthcare conditions")
FIRST = "What did the minister say about children and the virus?"
CONVERSATION = [
    {"role": "user", "content": FIRST},
    {"role": "assistant", "content": f"Vaughan Gething said: “{QUOTED}” [1]."},
    {"role": "user", "content": "What did he say next?"},
]
GETHING_NEXT = "with apologies to the Member, my translation stopped"  # his next turn in education_0


@pytest.fixture(scope="module")
def hearings(tmp_path_factory, embedder):
    """The opening turns of covid_0 and education_0, as they are in the corpus, ingested once."""
    source = tmp_path_factory.mktemp("hearings-src")
    files = []
    for tid, paragraphs in HEARINGS.items():
        text = (CORPUS / f"{tid}.txt").read_text(encoding="utf-8")
        kept = [p for p in text.split("\n\n") if p.strip()][:paragraphs]
        (source / f"{tid}.txt").write_text("\n\n".join(kept) + "\n", encoding="utf-8")
        files.append(source / f"{tid}.txt")
    return build_index(tmp_path_factory.mktemp("hearings"), embedder, files)


def settings_over(index, tmp_path_factory, **overrides) -> ServiceSettings:
    """Settings for an app (extractive) over its own copy of `index` (a service owns its store)."""
    chroma = tmp_path_factory.mktemp("hearings-app") / "chroma"
    shutil.copytree(index / "chroma", chroma, ignore=shutil.ignore_patterns("owner.lock"))
    return ServiceSettings(_env_file=None, chroma_path=chroma, transcripts_dir=index / "transcripts",
                    answer_mode="extractive", **overrides)


@pytest.fixture(scope="module")
def client(hearings, tmp_path_factory):
    with TestClient(create_app(settings_over(hearings, tmp_path_factory))) as c:
        yield c


# --- item 3: a follow-up stays in the request's scope ----------------------------------------
def sources_of(client, path: str, stream: bool, filters: dict) -> list[dict]:
    """The sources of the conversation's answer, read the way a client of `path` reads them."""
    body = {"messages": CONVERSATION, "filters": filters, "stream": stream}
    if not stream:
        r = client.post(path, json=body)
        assert r.status_code == 200, r.text
        return r.json()["sources"]
    with client.stream("POST", path, json=body) as r:
        assert r.status_code == 200
        events = sse(r.iter_lines())
    if path == "/v1/chat":
        (sources,) = [json.loads(data)["sources"] for name, data in events if name == "sources"]
        (done,) = [json.loads(data) for name, data in events if name == "done"]
        assert done["sources"] == sources
        return sources
    chunks = [json.loads(data) for _, data in events if data != "[DONE]"]
    return chunks[-1]["sources"]  # the last chunk carries the grounding


PATHS = [("/v1/chat", False), ("/v1/chat", True), ("/v1/chat/completions", False),
         ("/v1/chat/completions", True)]


@pytest.mark.parametrize("path,stream", PATHS, ids=["json", "stream", "openai", "openai-stream"])
def test_a_follow_up_never_leaves_the_transcript_filter(client, path, stream):
    """On 5a7ec9d source 1 was Gething's next turn in education_0 on every path."""
    sources = sources_of(client, path, stream, {"transcripts": ["covid_0"]})
    assert sources
    assert [s["transcript"] for s in sources] == ["covid_0"] * len(sources)
    assert not any(GETHING_NEXT in s["text"] or QUOTED in s["text"] for s in sources)


@pytest.mark.parametrize("path,stream", PATHS, ids=["json", "stream", "openai", "openai-stream"])
def test_a_follow_up_never_leaves_the_speaker_filter(client, path, stream):
    """A covid_0 member as the filter: his turns only, never the quoted minister's next one."""
    sources = sources_of(client, path, stream, {"speakers": ["Genuis"]})
    assert sources
    assert {s["speaker"] for s in sources} == {"Garnett Genuis"}
    assert {s["transcript"] for s in sources} == {"covid_0"}


def test_inside_the_filter_the_follow_up_still_finds_the_next_turn(client):
    """The fix narrows, it does not switch the follow-up off: scoped to education_0, or to the
    quoted speaker, "What did he say next?" is Gething's next turn there, pinned first. And
    scoped to a speaker the quote is not from, the quote anchors nothing (no other turn of the
    quoted transcript is pinned in its place)."""
    for filters in ({"transcripts": ["education_0"]}, {"speakers": ["Vaughan Gething"]}):
        sources = sources_of(client, "/v1/chat", False, filters)
        assert sources[0]["transcript"] == "education_0" and sources[0]["speaker"] == "Vaughan Gething"
        assert GETHING_NEXT in sources[0]["text"]
    sources = sources_of(client, "/v1/chat", False, {"speakers": ["Sian Gwenllian"]})
    assert {s["speaker"] for s in sources} == {"Sian Gwenllian"}


# --- item 6: history is read in linear time ---------------------------------------------------
def best_of(client, history: str, runs: int = 3) -> float:
    """The fastest of `runs` answers to "What did he say next?" after `history` (seconds)."""
    body = {"messages": [{"role": "user", "content": FIRST}, {"role": "assistant", "content": history},
                         {"role": "user", "content": "What did he say next?"}]}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        r = client.post("/v1/chat", json=body)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return min(times)


def test_an_unclosed_quotation_mark_flood_costs_no_more_than_harmless_history(client):
    """19,000 “ with no ” (inside MAX_CONVERSATION_CHARS) against 19,000 ” (no quote either): on
    5a7ec9d the first cost 0.68 s of regex more than the second; now they cost the same (a bound
    of twice the harmless cost plus 0.25 s, several times the noise of a shared machine)."""
    harmless = best_of(client, "”" * 19_000)
    hostile = best_of(client, "“" * 19_000)
    assert hostile < 2 * harmless + 0.25, (hostile, harmless)


# --- item 6: one client cannot take every chat slot by default -------------------------------
def from_address(url: str, address: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address=address))


def test_by_default_one_address_cannot_take_every_chat_slot(hearings, tmp_path_factory, monkeypatch):
    """MAX_CONCURRENT_CHATS ordinary chats at once from one address, with the default settings: at
    most CHAT_RATE_BURST (and what refills meanwhile) are answered, the rest are 429 with
    Retry-After, none is a 503, and another address is answered meanwhile. On 5a7ec9d (no limit
    by default) all were answered."""
    monkeypatch.delenv("CHAT_RATE_LIMIT", raising=False)  # the test harness turns it off (tests/fixtures/core.py)
    settings = settings_over(hearings, tmp_path_factory)
    body = {"messages": [{"role": "user", "content": "What did the committee discuss about vaccines?"}]}
    codes: list[int] = []
    waits: list[int] = []
    with LiveServer(create_app(settings)) as live, from_address(live.url, "127.0.0.41") as flood, \
            from_address(live.url, "127.0.0.42") as person:
        go = threading.Barrier(settings.max_concurrent_chats)

        def ask() -> None:
            go.wait()
            r = flood.post("/v1/chat", json=body)
            codes.append(r.status_code)
            if r.status_code == 429:
                waits.append(int(r.headers["retry-after"]))

        started = time.monotonic()
        threads = [threading.Thread(target=ask) for _ in range(settings.max_concurrent_chats)]
        for t in threads:
            t.start()
        assert person.post("/v1/chat", json=body).status_code == 200
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - started
    refilled = int(elapsed * settings.chat_rate_limit / 60) + 1
    assert len(codes) == settings.max_concurrent_chats and set(codes) <= {200, 429}, codes
    assert settings.chat_rate_burst <= codes.count(200) <= settings.chat_rate_burst + refilled, codes
    assert waits and all(1 <= w <= 60 for w in waits), waits
    assert settings.chat_rate_burst < settings.max_concurrent_chats
