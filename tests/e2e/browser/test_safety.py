"""Safe rendering: hostile transcript text and model output are shown as text and run nothing."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from .helpers import HOSTILE_TITLE, XSS_IMG, XSS_LINK, XSS_SCRIPT, Chat, ask_and_capture, rendered

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

# Nothing the page builds from answers or passages may be markup or a script-running link.
NO_MARKUP = """() => ({
  injected: document.querySelectorAll('main img, main script, main iframe, main object, main embed, main svg image,'
    + ' dialog img, dialog script, dialog iframe, main b, dialog b, main [onerror], dialog [onerror]').length,
  badLinks: [...document.querySelectorAll('a')].map(a => a.getAttribute('href') || '')
    .filter(h => !/^(https?:|mailto:|#)/i.test(h)),
  xss: window.__xss,
})"""


def test_page_has_a_strict_csp(server, page):
    r = httpx.get(f"{server.url}/")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    # the page's markup has no inline script, inline style or inline event handler
    html = r.text
    assert "<script>" not in html and "<style" not in html and "style=" not in html
    assert not re.search(r"<[^>]*\son\w+\s*=", html), "inline event handler"
    # and it works under its own policy (the fixture fails the test on any CSP violation)
    expect(page.locator("#starters button").first).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="indexed")).to_be_visible()


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "without-csp"])
def test_hostile_transcript_renders_as_text(open_page, bypass_csp):
    """Without the CSP's help too: the rendering alone must keep the payloads inert."""
    page = open_page(bypass_csp=bypass_csp)
    chat = Chat(page)

    msg, body, _ = ask_and_capture(chat, "What is the secret ingredient in your croissants?")
    assert XSS_SCRIPT.replace("<", "&lt;") in body["answer"], body["answer"]  # no raw HTML (docs/api.md)
    expect(msg.locator(".answer-text")).to_have_text(rendered(body["answer"]), use_inner_text=True)
    expect(msg.locator(".answer-text")).to_contain_text(XSS_SCRIPT)

    msg2, body2, _ = ask_and_capture(chat, "How do you keep your sourdough starter alive?")
    assert XSS_IMG.replace("<", "&lt;") in body2["answer"], body2["answer"]
    expect(msg2.locator(".answer-text")).to_contain_text(XSS_IMG)
    expect(msg2.locator(".source-where").first).to_contain_text(HOSTILE_TITLE)

    # the passage dialog shows the payload as text, highlighted where it is quoted
    msg2.locator("button.cite").first.click()
    dialog = page.get_by_role("dialog")
    page.wait_for_selector("#reader-body[data-state=transcript]")
    expect(dialog.get_by_role("heading", level=2)).to_have_text(HOSTILE_TITLE)
    expect(dialog.locator(".turn.current mark").first).to_contain_text(XSS_IMG)
    expect(dialog.locator("#reader-body")).to_contain_text(XSS_SCRIPT)  # the whole transcript, as text
    page.keyboard.press("Escape")

    # a markdown link to javascript: in a quoted sentence stays text (the service keeps its text only)
    msg3, body3, _ = ask_and_capture(chat, "When was the old bakery recipe archive retired?")
    assert XSS_LINK not in body3["answer"] and "archive old recipes was" in body3["answer"], body3["answer"]
    expect(msg3.locator(".answer-text")).to_contain_text("old recipes")
    expect(msg3.locator(".answer-text a")).to_have_count(0)
    msg3.locator(".answer-text").get_by_text("old recipes").click()

    page.wait_for_timeout(300)  # give a payload every chance to fire
    found = page.evaluate(NO_MARKUP)
    assert found == {"injected": 0, "badLinks": [], "xss": None}

    # and again after a reload, rendered from localStorage
    page.reload()
    expect(page.locator(".msg.assistant")).to_have_count(3)
    expect(page.locator(".msg.assistant .answer-text").first).to_contain_text(XSS_SCRIPT)
    page.wait_for_timeout(300)
    assert page.evaluate(NO_MARKUP) == {"injected": 0, "badLinks": [], "xss": None}


HOSTILE_ANSWER = (
    "See https://example.com/interviews/1, [the notes](https://example.com/notes) and "
    "[click me](javascript:window.__xss=1) or [this](JaVaScRiPt:window.__xss=1) or "
    "[data](data:text/html,<script>window.__xss=1</script>) or [vb](vbscript:msgbox) [1].\n\n"
    '<a href="javascript:window.__xss=1">raw link</a> <img src=x onerror="window.__xss=1"> '
    "**bold** and `code` [2] [9]"
)


def mocked_answer(answer: str) -> dict:
    source = {"n": 1, "id": "x#t001p01", "transcript": "x", "title": "T <i>1</i>", "question": "Q?",
              "speaker": "S", "text": "Passage <svg onload=window.__xss=1>.", "score": 1.0, "turn": 1,
              "start": 0, "end": 10, "timestamp": "00:01:02", "quotes": []}
    return {"answer": answer, "abstained": False, "sources": [source, {**source, "n": 2, "id": "x#t002p01"}],
            "citations": [1, 2], "verified": True, "mode": "llm", "standalone_question": None, "timings": {}}


def test_links_in_answers_cannot_run_javascript(page):
    """Model output with links of every kind: only http(s) become links, and they open safely."""
    page.route("**/v1/chat", lambda route: route.fulfill(json=mocked_answer(HOSTILE_ANSWER)))
    msg = Chat(page).ask("Links?")
    links = msg.locator(".answer-text a")
    expect(links).to_have_count(2)
    assert [links.nth(i).get_attribute("href") for i in range(2)] == [
        "https://example.com/interviews/1", "https://example.com/notes"]
    for i in range(2):
        assert links.nth(i).get_attribute("target") == "_blank"
        assert {"noopener", "noreferrer"} <= set(links.nth(i).get_attribute("rel").split())
    text = msg.locator(".answer-text")
    expect(text).to_contain_text("click me")
    expect(text).to_contain_text('<a href="javascript:window.__xss=1">raw link</a>')
    expect(text).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(text.locator("strong")).to_have_text("bold")
    expect(text.locator("code")).to_have_text("code")
    # [1] and [2] are sources, [9] is not: it stays plain text
    expect(text.locator("button.cite")).to_have_count(2)
    expect(text.locator(".cite-missing")).to_have_text("[9]")
    msg.locator("button.cite").first.click()
    # transcript "x" is not in the index: the reader shows the passage as it was quoted
    page.wait_for_selector("#reader-body[data-state=passage]")
    expect(page.get_by_role("dialog")).to_contain_text("Passage <svg onload=window.__xss=1>.")
    expect(page.get_by_role("dialog")).to_contain_text("no longer in the library")
    expect(page.get_by_role("dialog").locator(".turn.current .timestamp")).to_have_text("00:01:02")
    page.wait_for_timeout(300)
    assert page.evaluate(NO_MARKUP) == {"injected": 0, "badLinks": [], "xss": None}
