"""Reading a long transcript (issue 21, item 5), over a real committee hearing: find within the
transcript (every match counted, Enter to the next, each in view), one speaker's turns only, turn
numbers, and a link to each turn that opens the reader there. Desktop and phone, light and dark,
axe-checked, with screenshots."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from .helpers import DESKTOP, PHONE, Page, axe_violations, shot

HEARING = "education_17"
WORD = "qualification"
SIZES = {"desktop": DESKTOP, "phone": PHONE}


def turns(server) -> list[dict]:
    return httpx.get(f"{server.url}/v1/transcripts/{HEARING}", timeout=60).json()["turns"]


def in_view(page, locator) -> bool:
    return page.evaluate("""el => { const r = el.getBoundingClientRect(), b = document.getElementById('reader-body')
        .getBoundingClientRect(); return r.bottom > b.top && r.top < b.bottom; }""", locator.element_handle())


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES)
def test_find_a_speakers_turns_and_a_link_to_each_turn(open_page, hearing_server, size, scheme):
    page = open_page(hearing_server.url + "/", viewport=SIZES[size], color_scheme=scheme)
    ui = Page(page)
    ui.open_library()
    ui.transcript_item(HEARING).locator(".t-read").click()
    reader = ui.wait_reader()
    every = turns(hearing_server)
    expect(reader.locator(".turn[data-turn]")).to_have_count(len(every))
    # each turn is numbered, with a link to it
    first = reader.locator(".turn[data-turn]").first
    expect(first.locator(".turn-link")).to_have_text(f"Turn {every[0]['number']}")
    expect(first.locator(".turn-link")).to_have_attribute("href", f"#read={HEARING}&turn={every[0]['number']}")
    expect(first).to_have_attribute("id", f"read={HEARING}&turn={every[0]['number']}")  # the link's target

    # find: every match in the turns, counted; Enter goes to the next, in view
    want = sum(len(re.findall(re.escape(WORD), t["text"].lower())) for t in every)
    assert want >= 3
    find = reader.get_by_label("Find in this transcript")
    find.fill(WORD)
    count = reader.locator(".find-count")
    expect(count).to_have_text(f"1 of {want}")
    find.press("Enter")
    expect(count).to_have_text(f"2 of {want}")
    find.press("Shift+Enter")
    find.press("Shift+Enter")
    expect(count).to_have_text(f"{want} of {want}")
    current = page.evaluate("() => CSS.highlights.get('find-current').values().next().value.startContainer.parentElement.closest('.turn').dataset.turn")
    turn = reader.locator(f'.turn[data-turn="{current}"]')
    assert WORD in turn.locator(".said").inner_text().lower() and in_view(page, turn)
    assert page.evaluate("() => CSS.highlights.get('find').size") == want
    assert axe_violations(page) == []
    shot(page, f"reader-find-{size}-{scheme}")

    # one speaker's turns: the others are hidden, and find looks in what is shown
    by = {}
    for t in every:
        by.setdefault(t["speaker"], []).append(t)
    who = sorted((s for s in by if s), key=lambda s: -len(by[s]))[1]
    reader.get_by_label("Show the turns of").select_option(who)
    expect(reader.locator(".turn[data-turn]:not([hidden])")).to_have_count(len(by[who]))
    expect(reader.locator(".turn[data-turn]:not([hidden]) .who .speaker")).to_have_text([who] * len(by[who]))
    mine = sum(len(re.findall(re.escape(WORD), t["text"].lower())) for t in by[who])
    expect(count).to_have_text(f"1 of {mine}" if mine else "No match")
    assert axe_violations(page) == []
    shot(page, f"reader-speaker-{size}-{scheme}")


def test_a_turn_link_opens_the_reader_at_that_turn(open_page, hearing_server):
    number = turns(hearing_server)[40]["number"]
    page = open_page(f"{hearing_server.url}/#read={HEARING}&turn={number}")
    reader = Page(page).wait_reader()
    current = reader.locator(".turn.current")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("data-turn", str(number))
    assert in_view(page, current)
    # a turn's link, followed from inside the reader, moves to that turn
    other = reader.locator(".turn[data-turn]").nth(10)
    target = other.get_attribute("data-turn")
    other.locator(".turn-link").click()
    expect(reader.locator(".turn.current")).to_have_attribute("data-turn", target)
    shot(page, "reader-turn-link-desktop")
