"""Passages in context: every citation and source card opens the passage inside its transcript,
scrolled to the quoted sentences (in view on a phone too), highlighted, with the turns around it;
cards named by speaker and transcript; a timestamp and a link to the recording where the
transcript has them. On both corpora, desktop and phone."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.fixtures.town_hall import MEDIA_URL, TOWN_HALL_TITLE

from .helpers import DESKTOP, PHONE, Page, ask_and_capture, shot

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


def in_view(page, locator) -> bool:
    """The element's box lies inside the window (what the person sees without scrolling)."""
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= size["height"]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_source_opens_in_its_transcript_at_the_quoted_sentences(open_page, corpus, size):
    page = open_page(corpus.url, viewport=VIEWPORTS[size])
    ui = Page(page)
    msg, body, _ = ask_and_capture(ui, corpus.question)
    assert not body["abstained"] and body["citations"] and corpus.answer_has in body["answer"], body
    cited = [s for s in body["sources"] if s["n"] in body["citations"]]

    # cards: speaker, then transcript title (and time); no two alike
    cards = msg.locator(".sources > .source-list .source-card")
    expect(cards).to_have_count(len(cited))
    for card, s in zip(cards.all(), cited, strict=True):
        expect(card.locator(".source-who")).to_have_text("Introduction" if s["turn"] == 0 else s["speaker"])
        expect(card.locator(".source-where")).to_have_text(" · ".join(filter(None, [s["title"], s["timestamp"]])))
    names = cards.evaluate_all("els => els.map(e => e.textContent)")
    assert len(set(names)) == len(names), names

    # a citation: the transcript, its passage marked, the quoted sentences highlighted and in view
    n = int(msg.locator(".answer-text button.cite").first.inner_text())
    source = next(s for s in body["sources"] if s["n"] == n)
    detail = httpx.get(f"{corpus.url}v1/transcripts/{source['transcript']}").json()
    msg.locator(".answer-text button.cite").first.click()
    reader = ui.wait_reader()
    expect(reader.locator("#reader-kicker")).to_have_text(f"Source {n} of {len(body['sources'])} · cited in the answer")
    expect(reader.get_by_role("heading", level=2)).to_have_text(source["title"])
    current = reader.locator(".turn.current")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("data-turn", str(source["turn"]))
    # a conversation's passage is several turns, one line each ("Speaker: words"): every one of them
    # is marked as the passage, the quoted turn is the current one, and its own line is highlighted
    first, last = source["first_turn"], source["last_turn"]
    assert first <= source["turn"] <= last, source
    lines = source["text"].split("\n") if last > first else [source["text"]]
    window = reader.locator(".turn.in-passage")
    expect(window).to_have_count(last - first + 1)
    expect(window.first).to_have_attribute("data-turn", str(first))
    said = lines[source["turn"] - first].removeprefix(f"{source['speaker']}: ") if last > first else source["text"]
    expect(current.locator(".passage-hit")).to_have_text(said)
    expect(reader.locator(".turn.in-passage mark")).to_have_text(source["quotes"])
    # the turns around it are there: the whole transcript, in order
    expect(reader.locator(".turns > .turn")).to_have_count(len(detail["turns"]))
    assert in_view(page, current.locator("mark").first), "the highlighted sentence is out of view"
    shot(page, f"source-{corpus.name}-{size}")

    # Next: the next source, in its own transcript, in view too
    if len(body["sources"]) > n:
        reader.get_by_role("button", name="Next source").click()
        nxt = body["sources"][n]
        expect(reader.locator("#reader-kicker")).to_contain_text(f"Source {n + 1} of")
        ui.wait_reader()
        expect(reader.locator(".turn.current")).to_have_attribute("data-turn", str(nxt["turn"]))
        expect(reader.get_by_role("heading", level=2)).to_have_text(nxt["title"])
        assert in_view(page, reader.locator(".turn.current .passage-hit").first)
    page.keyboard.press("Escape")
    expect(reader).to_be_hidden()
    expect(msg.locator(".answer-text button.cite").first).to_be_focused()

    # a source card opens its passage the same way
    last = cards.last
    opened = cited[-1]
    last.click()
    ui.wait_reader()
    expect(reader.locator(".turn.current")).to_have_attribute("data-turn", str(opened["turn"]))
    assert in_view(page, reader.locator(".turn.current mark, .turn.current .passage-hit").first)
    reader.get_by_role("button", name="Close the transcript").click()
    expect(last).to_be_focused()


def test_timestamps_and_links_to_the_recording(open_page, corpus):
    page = open_page(corpus.url)
    ui = Page(page)
    msg, body, _ = ask_and_capture(ui, corpus.question)
    links = msg.locator(".sources > .source-list .media-link")  # on the cards of the cited sources
    if not corpus.timed_id:  # the interview names no recording and has no times
        assert all(not s["timestamp"] and s["media_url"] is None for s in body["sources"])
        expect(links).to_have_count(0)
        return
    cited = [s for s in body["sources"] if s["n"] in body["citations"]]
    timed = [s for s in cited if s["timestamp"]]
    assert timed and all(s["media_url"] == MEDIA_URL + "#t=102" for s in timed)  # 00:01:42
    expect(links).to_have_count(len(cited))
    for link, s in zip(links.all(), cited, strict=True):
        expect(link).to_have_text(s["timestamp"] or "Recording")
        expect(link).to_have_attribute("href", s["media_url"])
        expect(link).to_have_attribute("target", "_blank")
        assert {"noopener", "noreferrer"} <= set(link.get_attribute("rel").split())
        if s["timestamp"]:
            expect(link).to_have_accessible_name(f"Play the recording at {s['timestamp']} ({s['speaker']})")
    expect(msg.locator(".source-card .source-where").first).to_contain_text(f"{TOWN_HALL_TITLE} · {timed[0]['timestamp']}")
    # in the reader: the recording, and each turn's time linking into it
    msg.locator(".source-card").first.click()
    reader = ui.wait_reader()
    expect(reader.locator("#reader-tools .media-link")).to_have_attribute("href", MEDIA_URL)
    current = reader.locator(".turn.current .who .media-link")
    expect(current).to_have_attribute("href", body["sources"][0]["media_url"])


def test_focus_stays_in_the_reader_while_its_transcript_arrives(open_page, corpus):
    """A keyboard user tabs onto a tool of the reader before the transcript has arrived; when it
    arrives the tools are rebuilt, and focus moves to the same tool, never out of the dialog."""
    page = open_page(corpus.url)
    ui = Page(page)
    msg, _, _ = ask_and_capture(ui, corpus.question)
    release = []
    page.route("**/v1/transcripts/**", lambda route: release.append(route))  # held until released
    msg.locator(".answer-text button.cite").first.click()
    page.wait_for_selector("#reader-body[data-state=loading]")
    page.keyboard.press("Tab")  # from the close button to the first tool
    label = page.evaluate("document.activeElement.textContent")
    assert page.evaluate("document.getElementById('reader').contains(document.activeElement)")
    for _ in range(100):
        if release:
            break
        page.wait_for_timeout(50)
    release[0].continue_()
    page.unroute("**/v1/transcripts/**")
    ui.wait_reader()
    assert page.evaluate("document.getElementById('reader').contains(document.activeElement)")
    assert page.evaluate("document.activeElement.textContent") == label
    for _ in range(4):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('reader').contains(document.activeElement)")
