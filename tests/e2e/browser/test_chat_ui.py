"""The chat page against the real service: ask, cite, follow up, reload, abstain, keyboard, phone."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from .helpers import DESKTOP, PHONE, Chat, ask_and_capture, current_chat, rendered, stored_chats

OFFICES = "Where are Alibaba Cloud's offices in Europe?"
HEAD_OFFICE = "Which one is the head office?"
UNCOVERED = "What does an ECS instance cost per hour in Frankfurt?"


def assert_streamed_if_server_streams(msg, response):
    """With a streaming service, the answer came as several token events; else as one JSON body."""
    streamed = "text/event-stream" in response.headers.get("content-type", "")
    expect(msg).to_have_attribute("data-transport", "sse" if streamed else "json")
    if streamed:
        assert int(msg.get_attribute("data-token-events") or 0) >= 2, "the stream sent the answer in one piece"


def test_status_line_and_starter_questions(page, server):
    health = httpx.get(f"{server.url}/health").json()
    status = page.get_by_role("status").filter(has_text="indexed")
    expect(status).to_contain_text(f"{health['transcripts']} transcripts")
    expect(status).to_contain_text(f"{health['chunks']} passages indexed")
    expect(status).to_contain_text("built-in answers")

    questions = httpx.get(f"{server.url}/v1/starters", params={"n": 4}).json()["questions"]
    assert questions, "the index has interviewer questions"
    starters = page.locator("#starters button")
    expect(starters).to_have_text(questions)
    expect(page.get_by_role("heading", name="Ask the transcripts")).to_be_visible()
    expect(page.get_by_role("heading", name="Try asking about the folder’s topics")).to_be_visible()

    starters.first.click()
    chat = Chat(page)
    page.wait_for_selector(".msg.assistant[data-status=done]")
    expect(page.locator(".msg.user .bubble")).to_have_text([questions[0]])
    expect(page.locator("#welcome")).to_be_hidden()
    expect(chat.assistants()).to_have_count(1)


def test_answer_with_citations_opens_the_passage(page, chat):
    msg, body, response = ask_and_capture(chat, OFFICES)
    assert not body["abstained"] and body["citations"], body
    assert_streamed_if_server_streams(msg, response)
    expect(msg).not_to_have_class(re.compile("abstained"))
    expect(msg.locator(".answer-text")).to_have_text(rendered(body["answer"]), use_inner_text=True)
    assert "London" in body["answer"]

    cites = msg.locator(".answer-text button.cite")
    expect(cites).to_have_count(len(re.findall(r"\[\d+\]", body["answer"])))
    expect(msg.locator(".source-card.cited")).to_have_count(len(set(body["citations"])))
    expect(msg.get_by_role("heading", name="Sources")).to_be_visible()
    # the screen-reader announcement carries the answer once it is complete
    expect(page.locator("#announcer")).to_have_text(body["answer"])

    first = cites.first
    n = int(first.inner_text())
    source = next(s for s in body["sources"] if s["n"] == n)
    first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    page.wait_for_selector("#reader-body[data-state=transcript]")
    expect(dialog.locator("#reader-kicker")).to_contain_text(f"Source {n} of {len(body['sources'])}")
    expect(dialog.get_by_role("heading", level=2)).to_have_text(source["title"])
    expect(dialog.locator(".turn.current")).to_contain_text(source["question"])
    expect(dialog.locator("#reader-meta")).to_contain_text(source["speaker"])
    assert source["quotes"], "a cited source carries the sentences quoted from it"
    expect(dialog.locator(".turn.current mark")).to_have_text(source["quotes"])
    expect(dialog.locator(".turn.current .passage-hit")).to_have_text(source["text"])
    expect(page.get_by_role("button", name="Close the transcript")).to_be_focused()

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(first).to_be_focused()

    # the sources list opens passages too, and the dialog steps through them
    msg.locator(".source-card").first.click()
    expect(dialog).to_be_visible()
    if len(body["sources"]) > 1:
        page.wait_for_selector("#reader-body[data-state=transcript]")
        before = dialog.locator(".passage-hit").inner_text()
        dialog.get_by_role("button", name="Next source").click()
        expect(dialog.locator(".passage-hit")).not_to_have_text(before)
    dialog.get_by_role("button", name="Close the transcript").click()
    expect(dialog).to_be_hidden()


def test_follow_up_sends_every_turn_and_history_survives_reload(page, chat):
    _, body1, _ = ask_and_capture(chat, OFFICES)
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as info:
        second = chat.ask(HEAD_OFFICE)
    sent = info.value.post_data_json
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert [m["content"] for m in sent["messages"]] == [OFFICES, body1["answer"], HEAD_OFFICE]
    assert sent["stream"] is True and sent["top_k"] == 5
    expect(second.locator(".answer-text")).to_contain_text("London")

    before = [page.locator(".msg.user .bubble").all_inner_texts(),
              page.locator(".msg.assistant .answer-text").all_inner_texts()]
    stored = current_chat(page)
    assert [t["role"] for t in stored["turns"]] == ["user", "assistant", "user", "assistant"]
    assert stored["title"] == OFFICES and stored["pending"] is None

    page.reload()
    expect(page.locator(".msg.assistant")).to_have_count(2)
    after = [page.locator(".msg.user .bubble").all_inner_texts(),
             page.locator(".msg.assistant .answer-text").all_inner_texts()]
    assert after == before
    expect(page.locator("#welcome")).to_be_hidden()
    # citations still open their passage after the reload
    page.locator(".msg.assistant").first.locator("button.cite").first.click()
    expect(page.get_by_role("dialog").locator(".turn.current mark").first).to_be_visible()
    page.keyboard.press("Escape")

    # a follow-up after the reload still carries the whole conversation
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as info:
        Chat(page).ask("When did it expand overseas?")
    assert len(info.value.post_data_json["messages"]) == 5

    # New chat starts an empty one and keeps this one in the list
    page.get_by_role("button", name="New chat").click()
    expect(page.locator(".msg")).to_have_count(0)
    expect(page.locator("#starters button").first).to_be_visible()
    expect(page.get_by_label("Your question")).to_be_focused()
    assert current_chat(page) is None
    assert [len(c["turns"]) for c in stored_chats(page)] == [6]
    expect(page.locator("#chat-list .chat-item")).to_have_count(1)
    page.reload()
    expect(page.locator("#starters button").first).to_be_visible()
    expect(page.locator(".msg")).to_have_count(0)


def test_abstention_looks_different_and_shows_closest_passages(page, chat, artifacts):
    answered = chat.ask(OFFICES)
    msg, body, _ = ask_and_capture(chat, UNCOVERED)
    assert body["abstained"] is True and body["sources"]
    expect(msg).to_have_class(re.compile(r"\babstained\b"))
    expect(answered).not_to_have_class(re.compile(r"\babstained\b"))
    expect(msg.locator(".abstain-label")).to_have_text("Not covered by the transcripts")
    expect(msg.get_by_role("heading", name="Not covered by the transcripts")).to_be_attached()
    expect(msg.get_by_role("heading", name="Closest passages")).to_be_visible()
    expect(msg.locator(".source-card")).to_have_count(len(body["sources"]))
    expect(msg.locator("button.cite")).to_have_count(0)
    # an abstention looks different: another background and border than an answer
    look = "el => { const s = getComputedStyle(el); return [s.backgroundColor, s.borderLeftColor]; }"
    assert msg.evaluate(look) != answered.evaluate(look)
    expect(page.locator("#announcer")).to_contain_text("Not covered by the transcripts")
    msg.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "abstention-desktop.png")

    msg.locator(".source-card").first.click()
    dialog = page.get_by_role("dialog")
    page.wait_for_selector("#reader-body[data-state=transcript]")
    expect(dialog.locator(".turn.current .passage-hit")).to_have_text(body["sources"][0]["text"])
    expect(dialog.locator("#reader-kicker")).not_to_contain_text("cited")


def test_keyboard_only(page, chat):
    box = page.get_by_label("Your question")
    expect(box).to_be_focused()
    height = box.bounding_box()["height"]
    page.keyboard.type("first line")
    for i in range(4):
        page.keyboard.press("Shift+Enter")
        page.keyboard.type(f"line {i + 2}")
    expect(box).to_have_value("first line\nline 2\nline 3\nline 4\nline 5")
    expect(page.locator(".msg")).to_have_count(0)
    assert box.bounding_box()["height"] > height * 2, "the input grows with its text"

    box.fill(OFFICES)
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.assistant[data-status=done]")
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    assert box.bounding_box()["height"] < height * 1.5, "the input shrinks back once sent"

    # from the input, Shift+Tab reaches the answer's citations
    for _ in range(40):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('cite')"):
            break
    else:
        raise AssertionError("no citation is reachable with the keyboard")
    opener = page.evaluate("document.activeElement.dataset.n")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    for _ in range(6):  # focus stays inside the open dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('reader').contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.dataset.n") == opener

    # the skip link is the first tab stop, shows itself when focused, and lands in the question box
    skip = page.get_by_role("link", name="Skip to the question box")
    assert page.evaluate("document.querySelector('a[href], button, textarea').classList.contains('skip-link')")
    skip.focus()
    assert skip.bounding_box()["y"] >= 0
    page.keyboard.press("Enter")
    expect(box).to_be_focused()


def test_every_control_is_labelled(page, chat):
    chat.ask(OFFICES)
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, a[href], textarea, input, select')]
        .filter(el => el.getClientRects().length)
        .filter(el => !(el.getAttribute('aria-label') || el.textContent.trim() || (el.labels && el.labels.length)))
        .map(el => el.outerHTML.slice(0, 80))""")
    assert unnamed == []
    expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")
    expect(page.locator("html")).to_have_attribute("lang", "en")


CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  const selectors = ['.topbar h1', '#status-text', '.hint', '.answer-text', '.cite-n', '.source-who', '.source-where',
    '.source-snippet', '.sources-title', '.abstain-label', '.msg.user .bubble', '#send span', '#new-chat span', '.searched',
    '.more-sources summary', '.msg-tools .btn', '.notice-text', '.notice-title', '.msg-note', '.chat-title', '.chat-when',
    '#library-toggle span'];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.getClientRects().length) continue;
      const fg = rgb(getComputedStyle(el).color).slice(0, 3);
      const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
      out.push({sel, ratio: Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100});
    }
  }
  return out;
}"""


def test_text_contrast_meets_wcag_aa(open_page):
    for scheme in ("light", "dark"):
        page = open_page(color_scheme=scheme)
        chat = Chat(page)
        chat.ask(OFFICES)
        chat.ask(UNCOVERED)
        page.route("**/v1/chat", lambda route: route.fulfill(status=503, json={"detail": "Busy."}))
        chat.ask("Anything else?", expect_answer=False)
        expect(page.locator(".msg.notice.error")).to_be_visible()
        checked = page.evaluate(CONTRAST)
        assert len({c["sel"] for c in checked}) >= 16, checked
        low = [c for c in checked if c["ratio"] < 4.5]
        assert low == [], f"{scheme}: text below 4.5:1 contrast: {low}"


def test_screenshots_desktop_and_phone(open_page, artifacts):
    """A conversation at 1280x800 and 390x844, saved under test-artifacts/ for a person to look at."""
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = open_page(viewport=viewport)
        if name == "phone":
            expect(page.locator("#starters button").first).to_be_visible()
            page.screenshot(path=artifacts / "empty-phone.png")
        chat = Chat(page)
        chat.ask(OFFICES)
        last = chat.ask(HEAD_OFFICE)
        last.scroll_into_view_if_needed()
        page.screenshot(path=artifacts / f"conversation-{name}.png")
        # nothing sticks out sideways, on a phone least of all
        overflow = page.evaluate("""w => [...document.querySelectorAll('.app *')]
            .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > w + 1)
            .map(el => el.className || el.tagName)""", viewport["width"])
        assert overflow == [], f"{name}: elements wider than the screen: {overflow[:10]}"
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

        last.locator("button.cite").first.click()
        dialog = page.get_by_role("dialog")
        page.wait_for_selector("#reader-body[data-state=transcript]")
        expect(dialog.locator(".turn.current mark").first).to_be_in_viewport()
        box = dialog.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1
        page.screenshot(path=artifacts / f"passage-{name}.png")

    dark = open_page(color_scheme="dark")
    Chat(dark).ask(OFFICES)
    Chat(dark).ask(UNCOVERED)
    dark.screenshot(path=artifacts / "conversation-desktop-dark.png")
    for png in ("conversation-desktop", "conversation-phone", "passage-desktop", "passage-phone", "empty-phone"):
        assert (artifacts / f"{png}.png").stat().st_size > 10_000
