"""Scope chips that cannot lie (issue 21, item 6), over real committee hearings: how the chips
combine is stated; a speaker who speaks in none of the chosen transcripts, or a transcript in
which none of the chosen speakers speaks, is greyed out and cannot be chosen; the service's
refusals read in plain words; on a phone the chips stay on one line. axe-checked, screenshots."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from .helpers import HEARINGS, PHONE, Page, axe_violations, shot


def speakers(server, tid: str) -> set[str]:
    body = httpx.get(f"{server.url}/v1/transcripts/{tid}", params={"limit": 0, "speakers_limit": 1000}, timeout=60).json()
    return {s["name"] for s in body["speakers"]}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_choice_that_would_match_nothing_is_greyed_and_the_combination_is_stated(open_page, hearing_server, scheme):
    first, second = HEARINGS
    only_second = sorted(speakers(hearing_server, second) - speakers(hearing_server, first))
    in_first = sorted(speakers(hearing_server, first))
    assert only_second and in_first
    page = open_page(hearing_server.url + "/", color_scheme=scheme)
    ui = Page(page)
    ui.open_library()
    ui.transcript_item(first).locator(".scope-toggle").click()
    expect(page.locator("#scope-label")).to_have_text("Asking only about this transcript:")

    other = ui.transcript_item(second)
    other.locator("details summary").click()
    stranger = other.locator(f'.speaker-toggle[data-speaker="{only_second[0]}"]')
    expect(stranger).to_have_attribute("aria-disabled", "true")
    expect(stranger).to_have_attribute("title", "Speaks in none of the chosen transcripts")
    stranger.click(force=True)  # greyed (aria-disabled): a click does nothing but say why
    expect(page.locator("#scope-chips .chip")).to_have_count(1)  # nothing added
    expect(page.locator("#announcer")).to_contain_text("choosing it would match nothing")
    assert axe_violations(page) == []
    shot(page, f"scope-greyed-{scheme}")

    # a speaker of the chosen transcript: the label says how the chips combine
    mine = ui.transcript_item(first)
    mine.locator("details summary").click()
    mine.locator(f'.speaker-toggle[data-speaker="{in_first[0]}"]').click()
    expect(page.locator("#scope-label")).to_have_text("Asking only about what this speaker said, in this transcript:")
    # now a transcript in which that speaker never speaks is greyed
    if in_first[0] not in speakers(hearing_server, second):
        expect(other.locator(".scope-toggle")).to_have_attribute("aria-disabled", "true")
    # removing the transcript chip frees the choices again
    page.locator("#scope-chips .chip-transcript .chip-remove").click()
    expect(stranger).not_to_have_attribute("aria-disabled", "true")
    expect(page.locator("#scope-label")).to_have_text("Asking only about what this speaker said:")


def test_refusals_read_in_plain_words(open_page):
    page = open_page()
    text = page.evaluate("""async () => (await import('/static/api.js')).plainDetail(
        "filters.transcripts: no transcript in the index has the id 'covid_99' (did you mean 'covid_9'?). "
        + "GET /v1/transcripts lists every transcript id with its speakers.")""")
    assert text == ("No transcript in the index has the id 'covid_99' (did you mean 'covid_9'?). The library lists "
                    "the transcripts and their speakers; change the choice above the question box.")
    assert "GET /v1" not in text


def test_on_a_phone_the_chips_stay_on_one_line(open_page, hearing_server):
    page = open_page(hearing_server.url + "/", viewport=PHONE)
    ui = Page(page)
    ui.open_library()
    first = ui.transcript_item(HEARINGS[0])
    first.locator(".scope-toggle").click()
    first.locator("details summary").click()
    for button in first.locator(".speaker-toggle").all()[:4]:
        button.click()
    page.keyboard.press("Escape")
    chips = page.locator("#scope-chips .chip")
    expect(chips).to_have_count(5)
    tops = {round(b["y"]) for b in (c.bounding_box() for c in chips.all()) if b}
    assert len(tops) == 1, tops  # one row, scrolled sideways
    height = page.locator("#scope").bounding_box()["height"]
    assert height < 0.12 * PHONE["height"], height
    assert axe_violations(page) == []
    shot(page, "scope-phone")
