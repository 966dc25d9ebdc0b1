"""Second red team (issue 19), items 11 and 14: a transcript with 20,000 speakers must not slow
anyone down, and a speaker filter that names no one is a 422.

The crowd: a generated town meeting where 20,000 distinct residents speak once, ingested beside
the sample interview and a committee hearing. Two real `rag-serve` processes answer over real
Chroma stores with the real embedding model: one over the crowd, one over the normal corpus (the
interview and the hearing). Costs are compared with the normal corpus, not with a clock: what
costs 0.05 s there may cost at most ten times as much beside 20,000 speakers (on 5a7ec9d it was a
hundred times and more). The library is also searched in real Chromium.
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.hardening.test_faults import copy_index
from tests.fixtures.core import SAMPLE
from tests.fixtures.hearing import HEARING, HEARING_FILE
from tests.fixtures.servers import ServiceProcess

CROWD = 20_000
CROWD_ID = "town-meeting"
SYLLABLES = ["ka", "lo", "mi", "ra", "ven", "dor", "sel", "tor", "ban", "ish", "ul", "ne", "qua", "zi", "fen", "gar"]
FIRST_NAMES = ["Anna", "Bela", "Cyril", "Dora", "Emil", "Fay", "Gus", "Hana"]
SLOWER = 10  # beside the crowd a request may cost this many times what it costs on the normal corpus


def crowd(n: int) -> tuple[list[str], str]:
    """`n` distinct residents ("Dora Venkatorzi") and a transcript where each speaks once."""
    rng = random.Random(19)
    names: set[str] = set()
    while len(names) < n:
        names.add(f"{rng.choice(FIRST_NAMES)} {''.join(rng.choices(SYLLABLES, k=4)).capitalize()}")
    lines = ["Town meeting of the twenty thousand", "", "Every resident of the town spoke once."]
    for i, name in enumerate(sorted(names)):
        lines += ["", f"{name}: I support item {i % 97} of the harbour plan."]
    return sorted(names), "\n".join(lines) + "\n"


def build(root: Path, embedder, extra: dict[str, str]) -> Path:
    """The sample interview, the hearing and `extra` (file name -> text) ingested into root/chroma."""
    from chromadb.api.client import SharedSystemClient

    from ingest.settings import IngestSettings
    from ingest.store import chroma_client
    from ingest.sync import sync_paths

    folder = root / "transcripts"
    (folder / "committees").mkdir(parents=True)
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    (folder / "committees" / HEARING_FILE).write_text(HEARING, encoding="utf-8")
    for name, text in extra.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = IngestSettings(_env_file=None, chroma_path=root / "chroma", transcripts_dir=folder)
    report = sync_paths([folder], settings, embedder, chroma_client(settings))
    assert report.transcripts == 2 + len(extra) and not report.skipped, report.skipped
    SharedSystemClient.clear_system_cache()  # the service process owns the store from here
    return root


def serve(root: Path, tmp: Path) -> ServiceProcess:
    return ServiceProcess(tmp, chroma_path=copy_index(root, tmp / "chroma"), transcripts_dir=root / "transcripts",
                          answer_mode="extractive", chat_rate_limit=0).start()


@pytest.fixture(scope="module")
def services(tmp_path_factory, embedder):
    """(crowd service, normal service, the residents' names), both warmed up by a first answer."""
    names, text = crowd(CROWD)
    crowd_root = build(tmp_path_factory.mktemp("crowd"), embedder, {f"{CROWD_ID}.txt": text})
    normal_root = build(tmp_path_factory.mktemp("normal"), embedder, {})
    running = []
    try:
        for root in (crowd_root, normal_root):
            running.append(serve(root, tmp_path_factory.mktemp("serve")))
        for service in running:
            assert chat(service, [{"role": "user", "content": "What about the dairy farmers?"}]).status_code == 200
            assert httpx.get(f"{service.url}/v1/transcripts", timeout=120).status_code == 200
        yield running[0], running[1], names
    finally:
        for service in running:
            service.stop()


def chat(service, messages, filters=None, timeout: float = 300):
    body = {"messages": messages, **({"filters": filters} if filters else {})}
    return httpx.post(f"{service.url}/v1/chat", json=body, timeout=timeout)


def timed(call) -> float:
    """The median of three runs of `call()` (each must answer 200), in seconds."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        r = call()
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text[:500]
    return statistics.median(times)


QUESTION = [{"role": "user", "content": "What did they say about the dairy farmers and the plan?"}]


def test_a_chat_filtered_to_100_speakers_costs_what_it_costs_on_a_normal_corpus(services):
    """100 speaker filters: 5.63 s beside 20,000 speakers on 5a7ec9d, 0.03 s on a normal corpus."""
    big, normal, names = services
    residents = random.Random(11).sample(names, 100)
    # 100 ways of writing Bill Morneau, with a title as people write one: the same 100 look-ups
    morneau = sorted({"".join(c.upper() if (k >> i) & 1 else c for i, c in enumerate("bill morneau"))
                      for k in range(4096)})[:100]
    assert len(set(morneau)) == 100
    crowd_cost = timed(lambda: chat(big, QUESTION, {"speakers": [f"Mx. {n}" for n in residents]}))
    normal_cost = timed(lambda: chat(normal, QUESTION, {"speakers": [f"Mx. {n}" for n in morneau]}))
    r = chat(big, QUESTION, {"speakers": [f"Mx. {n}" for n in residents]})
    assert {s["speaker"] for s in r.json()["sources"]} <= set(residents)
    assert crowd_cost < SLOWER * normal_cost + 0.5, (crowd_cost, normal_cost)


def follow_up_conversation() -> list[dict]:
    """48 messages about the hearing (questions naming its speakers, answers quoting them), then a
    follow-up: 49 messages."""
    asked = [  # long questions full of capitalised words: each was matched against every name
        "What did Mr. Ste-Marie, the Member for Joliette of the Bloc Québécois, tell the Standing Committee "
        + "on Finance about the Dairy Farmers of Quebec, Supply Management and the Trade Agreements with "
        + "Europe, Mexico and the Pacific?",
        "What did the Minister of Finance, Bill Morneau, say to the Committee about the Canada Emergency "
        + "Wage Subsidy, the Canada Revenue Agency, the Parliamentary Budget Officer and the Fiscal "
        + "Snapshot in July?",
        "What did Mr. Poilievre, the Member for Carleton of the Conservative Party, ask the Minister about "
        + "the Deficit, the Fiscal Anchor, the Bank of Canada, Investors and the Credit Rating Agencies in "
        + "New York?",
        "What did The Chair, Jane Roe, the Member for Somewhere of the Liberal Party, say to open the "
        + "Meeting of the Standing Committee on Finance on the Pandemic Support Programs in Ottawa?",
    ]
    quoted = [
        "Farmers in my riding of Joliette cannot wait another season.",
        "The wage subsidy now covers seventy-five percent of wages for eligible employers",
        "What is the fiscal anchor of the government now?",
        "I call this meeting to order.",
    ]
    messages = []
    for i in range(24):
        messages.append({"role": "user", "content": asked[i % 4]})
        messages.append({"role": "assistant", "content": f"The hearing says: “{quoted[i % 4]}” [1]"})
    messages.append({"role": "user", "content": "What did he say next?"})
    assert len(messages) == 49
    return messages


def test_a_49_message_follow_up_costs_what_it_costs_on_a_normal_corpus(services):
    """8.58 s beside 20,000 speakers on 5a7ec9d (4 at once: 34.9 s), 0.11 s on a normal corpus."""
    big, normal, _ = services
    messages = follow_up_conversation()
    crowd_cost = timed(lambda: chat(big, messages))
    normal_cost = timed(lambda: chat(normal, messages))
    assert crowd_cost < SLOWER * normal_cost + 0.5, (crowd_cost, normal_cost)

    def four_at_once(service) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            assert all(r.status_code == 200 for r in pool.map(lambda _: chat(service, messages), range(4)))
        return time.perf_counter() - started

    crowd_cost, normal_cost = four_at_once(big), four_at_once(normal)
    assert crowd_cost < SLOWER * normal_cost + 1.0, (crowd_cost, normal_cost)


def test_the_transcript_list_and_a_transcript_come_in_bounded_pages(services):
    big, _, names = services
    base = big.url
    r = httpx.get(f"{base}/v1/transcripts", timeout=60)
    assert r.status_code == 200 and len(r.content) < 50_000  # 20,000 speakers are not all listed
    body = r.json()
    assert (body["total"], body["transcript_count"], body["offset"]) == (3, 3, 0)
    assert body["speaker_count"] == CROWD + 5  # the residents, Xuan Jin and the hearing's four
    town = next(t for t in body["transcripts"] if t["id"] == CROWD_ID)
    assert town["speaker_count"] == CROWD and len(town["speakers"]) == 50

    # a search finds a resident deep in the list, with that resident listed
    someone = names[CROWD // 2]
    found = httpx.get(f"{base}/v1/transcripts", params={"q": someone.upper()}, timeout=60).json()
    assert [t["id"] for t in found["transcripts"]] == [CROWD_ID] and found["total"] == 1
    assert [s["name"] for s in found["transcripts"][0]["speakers"]] == [someone]

    r = httpx.get(f"{base}/v1/transcripts/{CROWD_ID}", timeout=60)
    assert r.status_code == 200 and len(r.content) < 400_000  # the whole one is 4.6 MB
    detail = r.json()
    assert (detail["total_turns"], detail["offset"], len(detail["turns"])) == (CROWD, 0, 1000)
    assert detail["speaker_count"] == CROWD and len(detail["speakers"]) == 100

    # the page that holds turn 15,000, and the speakers after the first 19,990
    page = httpx.get(f"{base}/v1/transcripts/{CROWD_ID}",
                     params={"turn": 15_000, "limit": 100, "speakers_offset": CROWD - 10}, timeout=60).json()
    assert page["offset"] == 14_900 and [t["number"] for t in page["turns"]] == list(range(14_901, 15_001))
    assert len(page["speakers"]) == 10

    for path, limit in (("/v1/transcripts", 1001), (f"/v1/transcripts/{CROWD_ID}", 5001)):
        r = httpx.get(f"{base}{path}", params={"limit": limit}, timeout=60)
        assert r.status_code == 422 and "limit" in r.json()["detail"]


def test_health_stays_fast_while_24_clients_read_the_big_transcript(services):
    """24 GETs of the 4.6 MB transcript at once pushed /health p50 to 2.2 s on 5a7ec9d."""
    big, _, _ = services
    stop = threading.Event()
    read = []

    def reader(n: int) -> None:
        address = f"127.0.1.{n + 1}"
        with httpx.Client(base_url=big.url, timeout=120, transport=httpx.HTTPTransport(local_address=address)) as http:
            while not stop.is_set():
                r = http.get(f"/v1/transcripts/{CROWD_ID}")
                assert r.status_code == 200
                read.append(len(r.content))

    def health(http) -> float:
        started = time.perf_counter()
        assert http.get("/health").status_code == 200
        return time.perf_counter() - started

    with httpx.Client(base_url=big.url, timeout=60) as http:
        idle = statistics.median(health(http) for _ in range(10))
    threads = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(24)]
    for t in threads:
        t.start()
    took = []
    try:
        with httpx.Client(base_url=big.url, timeout=60) as http:
            time.sleep(1.0)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                took.append(health(http))
                time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert len(read) >= 24  # the readers were reading all along
    assert statistics.median(took) < 0.5 + 2 * idle, (idle, sorted(took))


def test_the_library_search_stays_responsive_beside_20000_speakers(services, browser):
    """One keystroke in the library search took 1.85 s on 5a7ec9d (every speaker drawn and searched)."""
    from playwright.sync_api import expect

    from tests.e2e.browser.helpers import DESKTOP, Page

    big, _, names = services
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(big.url)
        ui = Page(page)
        ui.open_library()
        items = page.locator("#transcript-list .transcript")
        expect(items).to_have_count(3)
        town = ui.transcript_item(CROWD_ID)
        expect(town.locator(".t-meta")).to_contain_text(f"{CROWD:,} speakers")
        assert town.locator(".speaker-toggle").count() <= 50  # not 20,000 buttons
        expect(page.locator("#library-count")).to_have_text(re.compile(rf"^3 transcripts · {CROWD + 5:,} speakers · [\d,]+ turns$"))

        # "Show more speakers" adds the next ones, and focus goes to the first of them
        town.locator("summary").click()
        town.get_by_role("button", name="Show more speakers").click()
        expect(town.locator(".speaker-toggle")).to_have_count(250)
        expect(town.locator(".speaker-toggle").nth(50)).to_be_focused()

        # typing in the search: the page keeps answering, and the resident is found
        search = page.get_by_label("Search transcripts and speakers")
        someone = names[CROWD // 3]
        search.press_sequentially(someone.split()[1][:6], delay=20)
        started = time.perf_counter()
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")  # a frame is drawn
        assert time.perf_counter() - started < 0.5
        search.fill(someone)
        expect(items).to_have_count(1)
        expect(town.locator(".speaker-name")).to_have_text([someone])
        expect(page.locator("#library-count")).to_have_text(f"1 of 3 transcripts match “{someone}”")

        # the reader shows a page of turns, and the next page on request
        search.fill("")
        expect(items).to_have_count(3)
        town.get_by_role("button", name="Read").click()
        reader = ui.wait_reader()
        expect(reader.locator("#reader-meta")).to_have_text(f"Conversation · {CROWD:,} speakers · {CROWD:,} turns")
        expect(reader.locator(".turns > .turn")).to_have_count(1000)
        reader.get_by_role("button", name="Show later turns").click()
        expect(reader.locator(".turns > .turn")).to_have_count(2000)
    finally:
        context.close()


# --- item 14: a speaker filter that names no one -------------------------------------------------
@pytest.mark.parametrize(
    "written",
    ["Ste-Marie Ste-Marie … 0", "Morneau Morneau", "Poilievre 0", "Mr. Ste-Marie 2024", "Bill Bill Morneau",
     "Ste-Marie Morneau", "Gabriel", "Ste-Marie junk"],
)
def test_a_speaker_filter_that_names_no_one_is_a_422(library_client, written):
    """'Gething Gething … 0' was a 200 on 5a7ec9d: its surname named Vaughan Gething, the rest nothing."""
    r = library_client.post("/v1/chat", json={**_ask("What about the dairy farmers?"), "filters": {"speakers": [written]}})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["detail"].startswith(f"filters.speakers: no speaker in the index is called '{written}'")


@pytest.mark.parametrize(
    "written,speaker",
    [("Ste-Marie", "Gabriel Ste-Marie"), ("Mr. Ste-Marie", "Gabriel Ste-Marie"),
     ("Mr. Gabriel Ste-Marie (Joliette, BQ)", "Gabriel Ste-Marie"), ("gabriel ste-marie", "Gabriel Ste-Marie"),
     ("G. Ste-Marie", "Gabriel Ste-Marie"), ("Ste-Marie, Gabriel", "Gabriel Ste-Marie"),
     ("Hon. Bill Morneau (Minister of Finance)", "Bill Morneau"), ("Morneu", "Bill Morneau"),
     ("The Chair", "Jane Roe")],
)
def test_the_ways_people_write_a_speaker_still_name_them(library_client, written, speaker):
    r = library_client.post("/v1/chat", json={**_ask("What did they say?"), "filters": {"speakers": [written]},
                                              "top_k": 10})
    assert r.status_code == 200, r.text[:300]
    assert {s["speaker"] for s in r.json()["sources"]} == {speaker}


def _ask(question: str) -> dict:
    return {"messages": [{"role": "user", "content": question}]}
