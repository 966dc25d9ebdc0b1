"""Accessibility: axe-core (tests/e2e/browser/package.json, `make browser`) finds no violation on
the empty page, a conversation, an open source, the library and an open transcript, in light and
dark, on both corpora and both sizes; touch targets are at least 44 by 44 px on a phone; the
dark / light toggle; drawers on a phone."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .helpers import ARTIFACTS, DESKTOP, PHONE, Page, axe_violations, shot

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
RESULTS = ARTIFACTS / "axe-results.jsonl"  # one line per state checked, for the closing note


@pytest.fixture(scope="module", autouse=True)
def _fresh_results():
    ARTIFACTS.mkdir(exist_ok=True)
    RESULTS.unlink(missing_ok=True)


def check(page, state: str, corpus, size: str, scheme: str) -> None:
    found = axe_violations(page)
    shot(page, f"a11y-{state}-{corpus.name}-{size}-{scheme}")
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"state": state, "corpus": corpus.name, "size": size, "scheme": scheme,
                              "violations": len(found), "ids": [v["id"] for v in found]}) + "\n")
    assert found == [], f"{state} ({corpus.name}, {size}, {scheme}): {json.dumps(found, indent=1)}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", VIEWPORTS)
def test_axe_finds_no_violations(open_page, corpus, size, scheme):
    page = open_page(corpus.url, viewport=VIEWPORTS[size], color_scheme=scheme)
    ui = Page(page)
    expect(page.locator("#starters button").first).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="indexed")).to_be_visible()
    check(page, "empty", corpus, size, scheme)

    msg = ui.ask(corpus.question)
    ui.ask(corpus.digest)
    check(page, "conversation", corpus, size, scheme)

    msg.locator(".answer-text button.cite").first.click()
    ui.wait_reader()
    check(page, "source", corpus, size, scheme)
    page.keyboard.press("Escape")

    ui.open_library()
    ui.transcript_item(corpus.scope_id).locator(".scope-toggle").click()
    page.locator("#transcript-list details").first.locator("summary").click()
    check(page, "library", corpus, size, scheme)

    ui.transcript_item(corpus.timed_id or corpus.scope_id).locator(".t-read").click()
    ui.wait_reader()
    check(page, "transcript", corpus, size, scheme)


def test_axe_is_really_checking(page):
    """The canary: a page with a known fault is reported, so zero above means zero."""
    page.wait_for_selector("#starters button")
    page.evaluate("""() => { const b = document.createElement('button'); document.querySelector('main').append(b); }""")
    assert "button-name" in [v["id"] for v in axe_violations(page)]


TARGETS = """() => [...document.querySelectorAll('button, a[href], input, textarea, select, summary')]
    .filter(el => el.getClientRects().length && !el.closest('[hidden], .visually-hidden') && !el.classList.contains('skip-link'))
    .filter(el => getComputedStyle(el).visibility !== 'hidden')
    .map(el => { const r = el.getBoundingClientRect();
                 return {what: (el.getAttribute('aria-label') || el.textContent || el.id || el.tagName).trim().slice(0, 40),
                         cls: el.className, w: Math.round(r.width), h: Math.round(r.height)}; })
    .filter(t => t.w < 44 || t.h < 44)"""


def test_touch_targets_are_44_px_on_a_phone(open_page, corpus):
    page = open_page(corpus.url, viewport=PHONE)
    ui = Page(page)
    expect(page.locator("#starters button").first).to_be_visible()
    assert page.evaluate(TARGETS) == []
    ui.ask(corpus.question)
    ui.ask(corpus.digest)
    ui.open_library()
    ui.transcript_item(corpus.scope_id).locator(".scope-toggle").click()
    page.locator("#transcript-list details").first.locator("summary").click()
    assert page.evaluate(TARGETS) == [], "the library"
    page.keyboard.press("Escape")
    assert page.evaluate(TARGETS) == [], "a conversation with its sources and the scope chips"
    page.locator(".msg.assistant").first.locator("button.cite").first.click()
    ui.wait_reader()
    assert page.evaluate(TARGETS) == [], "the reader"
    page.keyboard.press("Escape")
    ui.open_chats()
    assert page.evaluate(TARGETS) == [], "the chat list"


def test_the_dark_light_toggle(open_page, corpus):
    page = open_page(corpus.url, color_scheme="light")
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    background = "() => getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#announcer")).to_have_text("Dark theme on.")
    dark = page.evaluate(background)
    assert dark != light
    # kept across a reload, and over the system's own choice
    page.reload()
    expect(page.get_by_role("button", name="Dark theme")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(background) == dark
    Page(page).ask(corpus.question)
    assert axe_violations(page) == []
    shot(page, f"dark-toggle-{corpus.name}-desktop")
    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(page.locator("#announcer")).to_have_text("Light theme on.")
    assert page.evaluate(background) == light


def test_drawers_on_a_phone(open_page, corpus):
    page = open_page(corpus.url, viewport=PHONE)
    # at start on a phone both panels are closed
    expect(page.locator("#chats")).to_be_hidden()
    expect(page.locator("#library")).to_be_hidden()
    toggle = page.get_by_role("button", name="Chats")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("button", name="Close the chat list")).to_be_focused()
    assert page.evaluate("document.querySelector('.center').inert") is True
    for _ in range(8):  # Tab stays in the drawer
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('chats').contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(page.locator("#chats")).to_be_hidden()
    expect(toggle).to_be_focused()
    assert page.evaluate("document.querySelector('.center').inert") is False
    # the library drawer covers the page; its close button hands focus back
    library = page.get_by_role("button", name="Library")
    library.click()
    expect(page.locator("#backdrop")).to_be_visible()
    box = page.locator("#library").bounding_box()
    assert box["x"] <= 1 and box["width"] >= PHONE["width"] - 1
    page.get_by_role("button", name="Close the library").click()
    expect(page.locator("#library")).to_be_hidden()
    expect(page.locator("#backdrop")).to_be_hidden()
    expect(library).to_be_focused()
