"""The topic explorer (issue 21, item 2), over real committee hearings: a topic typed in the
library's explorer gives a table of speakers × transcripts that is the API's map (POST
/v1/topics), each number opening the best quote inside its transcript; a speaker's track lists
their statements in order; a topic the transcripts do not cover says so. Desktop and phone, light
and dark, each state checked by axe and saved as a screenshot."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from .helpers import DESKTOP, PHONE, Page, axe_violations, shot

TOPIC = "funding for universities"  # discussed in both hearings of the slice
SIZES = {"desktop": DESKTOP, "phone": PHONE}


def explore(page, topic: str) -> None:
    Page(page).open_library()
    page.locator("#explore-open").click()
    expect(page.locator("#explorer")).to_be_visible()
    expect(page.locator("#explorer-topic")).to_be_focused()
    page.locator("#explorer-topic").fill(topic)
    page.keyboard.press("Enter")


def api_map(server, topic: str, track: str | None = None) -> dict:
    r = httpx.post(server.url + "/v1/topics", json={"topic": topic, **({"track": track} if track else {})}, timeout=60)
    r.raise_for_status()
    return r.json()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES)
def test_the_explorer_shows_the_topic_map_and_opens_its_quotes(open_page, hearing_server, size, scheme):
    page = open_page(hearing_server.url + "/", viewport=SIZES[size], color_scheme=scheme)
    explore(page, TOPIC)
    page.wait_for_selector("#explorer-body[data-state=map]")
    want = api_map(hearing_server, TOPIC)
    assert want["found"] and len(want["transcripts"]) >= 2

    # the columns are the transcripts, the rows the speakers, as the API ranks them
    titles = [t["title"] or t["transcript"] for t in want["transcripts"][:8]]
    expect(page.locator(".topic-map thead th .topic-col")).to_have_text(titles)
    speakers = [s["speaker"] for s in want["speakers"] if s["speaker"]][:12]
    expect(page.locator(".topic-map tbody th .topic-speaker")).to_have_text(speakers)
    cells = {(c["transcript"], c["speaker"]): c for c in want["cells"]}
    first = page.locator(".topic-map tbody tr").first.locator("td")
    for td, t in zip(first.all(), want["transcripts"][:8], strict=True):
        c = cells.get((t["transcript"], speakers[0]))
        expect(td).to_have_text(str(c["turns"]) if c else "·none")
    expect(page.locator("#explorer-status")).to_contain_text(f"{want['turns']} turns on “{TOPIC}”")
    assert axe_violations(page) == []
    shot(page, f"explorer-map-{size}-{scheme}")

    # a number opens that speaker's best quote on the topic inside its transcript
    cell = page.locator(".topic-cell").first
    label = cell.get_attribute("aria-label")
    quote = cell.get_attribute("title")
    cell.click()
    Page(page).wait_reader()
    current = page.locator("#reader .turn.current")
    expect(current).to_have_count(1)
    expect(current.locator("mark").first).to_be_visible()
    assert " ".join(quote.split()) in " ".join(current.inner_text().split())
    speaker = label.split(" by ", 1)[1].split(" in ", 1)[0]
    expect(current.locator(".who .speaker")).to_have_text(speaker)
    assert axe_violations(page) == []
    shot(page, f"explorer-quote-{size}-{scheme}")
    page.keyboard.press("Escape")
    expect(page.locator("#reader")).to_be_hidden()
    expect(cell).to_be_focused()  # back where the reader was opened from, the explorer still open

    # a speaker's track: their statements on the topic, in the transcripts' order
    who = speakers[0]
    track = api_map(hearing_server, TOPIC, who)["track"]
    page.locator(".topic-track").first.click()
    view = page.locator(".topic-trackview")
    expect(view.locator("h3")).to_have_text(f"{who} on “{TOPIC}”, in the transcripts’ order")
    expect(view.locator("li blockquote")).to_have_text([q["text"] for q in track])
    expect(view).to_be_focused()
    assert axe_violations(page) == []
    shot(page, f"explorer-track-{size}-{scheme}")


def test_a_topic_not_in_the_transcripts_says_so(open_page, hearing_server):
    page = open_page(hearing_server.url + "/")
    explore(page, "bitcoin mining rigs")
    expect(page.locator("#explorer-status")).to_have_text("The transcripts do not talk about “bitcoin mining rigs”.")
    expect(page.locator(".topic-map")).to_have_count(0)
    page.locator("#explorer-topic").fill("")
    page.keyboard.press("Enter")
    expect(page.locator("#explorer-status")).to_contain_text("Type a topic first")
    shot(page, "explorer-not-found-desktop")
    page.keyboard.press("Escape")
    expect(page.locator("#explore-open")).to_be_focused()
