"""The quote board (issue 21, item 8): a quote saved from an answer's source and one from the
reader, each with its speaker, transcript, turn and time; listed, opened at its turn, removed;
exported as Markdown and CSV (a formula-looking quote defused); kept across a reload beside the
conversations. Light and dark, axe-checked, with screenshots."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .helpers import Page, ask_and_capture, axe_violations, shot


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_quotes_are_saved_listed_exported_and_kept(open_page, corpus, scheme):
    page = open_page(corpus.url, color_scheme=scheme)
    ui = Page(page)
    msg, body, _ = ask_and_capture(ui, corpus.question)
    cited = [s for s in body["sources"] if s["n"] in body["citations"] and s["quotes"]]
    assert cited, body
    first = cited[0]
    msg.get_by_role("button", name=f"Save quote of source {first['n']} to the quote board").click()
    expect(page.locator("#announcer")).to_contain_text("Saved to the quote board (1 quote)")
    msg.get_by_role("button", name=f"Save quote of source {first['n']} to the quote board").click()
    expect(page.locator("#announcer")).to_contain_text("already on the quote board")

    # the same passage opened in the reader: its quote is already there; another source's is not
    other = next((s for s in body["sources"] if s["quotes"] and s["quotes"][0] != first["quotes"][0]), None)
    if other is not None:
        msg.locator(f'.source-card[data-n="{other["n"]}"]').first.click()
        ui.wait_reader()
        page.locator("#reader-tools").get_by_role("button", name="Save quote").click()
        expect(page.locator("#announcer")).to_contain_text("Saved to the quote board (2 quotes)")
        page.keyboard.press("Escape")
    saved = [first] + ([other] if other is not None else [])

    ui.open_chats()
    page.locator("#board-open").click()
    board = page.locator("#board")
    expect(board).to_be_visible()
    items = board.locator(".board-item")
    expect(items).to_have_count(len(saved))
    for item, s in zip(items.all(), saved, strict=True):
        text = " ".join(s["quotes"][0].split())
        expect(item.locator("blockquote")).to_have_text(f"“{text}”")
        where = [s["speaker"], s["title"], f"turn {s['turn']}" if s["turn"] else "", s["timestamp"]]
        expect(item.locator(".board-where")).to_have_text(" · ".join(w for w in where if w))
    assert axe_violations(page) == []
    shot(page, f"board-{corpus.name}-{scheme}")

    with page.expect_download() as md:
        board.get_by_role("button", name="Export as Markdown").click()
    markdown = Path(md.value.path()).read_text(encoding="utf-8")
    assert markdown.startswith("# Quote board") and f"— {saved[0]['speaker']}" in markdown
    with page.expect_download() as got:
        board.get_by_role("button", name="Export as CSV").click()
    rows = list(csv.reader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["quote", "speaker", "transcript", "title", "turn", "timestamp", "saved"]
    assert [(r[0], r[1], r[2], r[4]) for r in rows[1:]] == [
        (" ".join(s["quotes"][0].split()), s["speaker"], s["transcript"], str(s["turn"] or "")) for s in saved]

    # Open goes to the quote's turn in the reader
    items.first.get_by_role("button", name="Open quote 1 in its transcript").click()
    reader = ui.wait_reader()
    if saved[0]["turn"]:
        expect(reader.locator(".turn.current")).to_have_attribute("data-turn", str(saved[0]["turn"]))
    page.keyboard.press("Escape")

    # kept across a reload; Remove takes one off
    page.reload()
    ui.open_chats()
    page.locator("#board-open").click()
    expect(page.locator("#board .board-item")).to_have_count(len(saved))
    page.locator("#board .board-item").first.get_by_role("button", name="Remove quote 1 from the board").click()
    expect(page.locator("#board .board-item")).to_have_count(len(saved) - 1)
    expect(page.locator("#board-open")).to_have_text(f"Quote board ({len(saved) - 1})")


def test_a_formula_in_a_quote_is_defused_in_the_csv(open_page):
    page = open_page()
    page.evaluate("""() => localStorage.setItem('transcript-chat.board', JSON.stringify([{text: '=HYPERLINK("http://x")',
        speaker: '@Ann', transcript: 't', title: 'T', turn: 3, timestamp: '', saved: '2026-12-07T00:00:00Z'}]))""")
    page.reload()
    Page(page).open_chats()
    page.locator("#board-open").click()
    with page.expect_download() as got:
        page.get_by_role("button", name="Export as CSV").click()
    rows = list(csv.reader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8"))))
    assert rows[1][:2] == ["'=HYPERLINK(\"http://x\")", "'@Ann"]
