"""Answers: the top of a finished answer in view on every screen size, digests as a list by
speaker, "Searched for" only for a real rewrite, the elapsed time of a slow request, a too-long
question stopped in the browser with a counter, Enter while busy explained, and words that fit any
transcript. On both corpora."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from service.rag.starters import FORMS

from .helpers import DESKTOP, PHONE, Page, ask_and_capture, shot

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


def top_in_view(page, msg) -> bool:
    """The answer's top edge lies inside the scrolled conversation's visible part."""
    return page.evaluate("""el => {
        const m = document.getElementById('main').getBoundingClientRect();
        const top = el.getBoundingClientRect().top;
        return top >= m.top - 1 && top <= m.bottom - 40;
    }""", msg.element_handle())


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_finished_answer_shows_its_top(open_page, corpus, size):
    page = open_page(corpus.url, viewport=VIEWPORTS[size])
    ui = Page(page)
    for question in (corpus.question, corpus.follow_up, corpus.digest):
        msg = ui.ask(question)
        assert top_in_view(page, msg), f"{size}: the top of the answer to {question!r} is out of view"
        # and the conversation does scroll: a long answer's sources go on below the fold
    assert page.evaluate("document.getElementById('main').scrollHeight > document.getElementById('main').clientHeight")
    shot(page, f"answer-{corpus.name}-{size}")


SPEAKER_LINE = r"([^\s:“”\"][^:\n“”\"]{0,79}):\s+“"


def test_digests_are_laid_out_by_transcript_then_speaker(open_page, corpus):
    page = open_page(corpus.url)
    msg, body, _ = ask_and_capture(Page(page), corpus.digest)
    assert not body["abstained"], body["answer"]
    blocks = body["answer"].split("\n\n")
    heads, groups = blocks[0::2], [b.split("\n") for b in blocks[1::2]]
    assert heads and len(heads) == len(groups) and all(h.startswith("From **") for h in heads), body["answer"]
    # each transcript's title, in bold, above its speakers' lines
    expect(msg.locator(".answer-text > p > strong")).to_have_text([h[len("From **"):-len("**:")] for h in heads])
    # a block of two or more lines is a list by speaker; one line is a paragraph
    lists = msg.locator(".answer-text .by-speaker")
    several = [lines for lines in groups if len(lines) > 1]
    expect(lists).to_have_count(len(several))
    for ul, lines in zip(lists.all(), several, strict=True):
        speakers = [m.group(1) for line in lines if (m := re.match(SPEAKER_LINE, line))]
        items = ul.locator(":scope > li")
        expect(items).to_have_count(len(lines))
        expect(items.locator(".by-speaker-name")).to_have_text(speakers)
        for item, line in zip(items.all(), lines, strict=True):
            expect(item.locator(".by-speaker-quotes > li")).to_have_count(len(re.findall(r"“[^”]*”", line)))
            expect(item.locator("button.cite")).to_have_count(len(re.findall(r"\[\d+\]", line)))
    expect(msg.locator(".answer-text button.cite")).to_have_count(len(re.findall(r"\[\d+\]", body["answer"])))
    shot(page, f"digest-{corpus.name}-desktop")


def words(text: str | None) -> str:
    return " ".join(re.findall(r"\w+", (text or "").lower()))


def test_searched_for_appears_only_for_a_real_rewrite(open_page, corpus):
    page = open_page(corpus.url)
    ui = Page(page)
    for question in (corpus.question, corpus.follow_up, "And before that?"):
        msg, body, _ = ask_and_capture(ui, question)
        rewrite = body["standalone_question"]
        if rewrite and words(rewrite) != words(question):
            expect(msg.locator(".searched")).to_have_text(f"Searched for: {rewrite}")
        else:
            expect(msg.locator(".searched")).to_have_count(0)
    # the first question is searched as asked: nothing is shown for it
    expect(page.locator(".msg.assistant").first.locator(".searched")).to_have_count(0)


def test_a_slow_answer_shows_its_elapsed_time_and_enter_while_busy_says_why(open_page, corpus):
    page = open_page(corpus.url)
    ui = Page(page)
    held = []
    page.route("**/v1/chat", lambda route: held.append(route))
    requests = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/v1/chat") else None)
    sent_at = time.monotonic()
    ui.ask(corpus.question, expect_answer=False)
    elapsed = page.locator(".msg.assistant .elapsed")
    expect(elapsed).to_have_text(re.compile(r"^ \d+ s$"))
    shown = int(elapsed.inner_text().split()[0])
    assert 2 <= shown <= time.monotonic() - sent_at + 1
    expect(page.locator(".msg.assistant .typing-label")).to_contain_text("Searching the transcripts…")
    shot(page, f"slow-{corpus.name}-desktop")

    # Enter while the answer is being written: said, not silently dropped, and nothing sent
    ui.input.fill(corpus.follow_up)
    ui.input.press("Enter")
    hint = page.locator("#composer-hint")
    expect(hint).to_have_text("An answer is still being written. Press Escape or Stop to stop it, then send your question.")
    expect(page.locator("#announcer")).to_have_text(hint.inner_text())
    expect(ui.input).to_have_value(corpus.follow_up)
    assert len(requests) == 1

    held[0].continue_()
    page.unroute("**/v1/chat")
    expect(page.locator(".msg.assistant[data-status=done]")).to_have_count(1)
    expect(page.locator(".msg.assistant .elapsed")).to_have_count(0)
    expect(hint).to_have_text(re.compile("^Enter sends"))
    ui.input.press("Enter")
    expect(page.locator(".msg.assistant[data-status=done]")).to_have_count(2)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_too_long_question_is_stopped_in_the_browser_with_a_counter(open_page, corpus, size):
    limit = httpx.get(f"{corpus.url}health").json()["max_question_chars"]
    page = open_page(corpus.url, viewport=VIEWPORTS[size])
    ui = Page(page)
    requests = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/v1/chat") else None)
    counter = page.locator("#counter")
    ui.input.fill(corpus.question)
    expect(counter).to_be_hidden()  # a short question has no counter
    near = "Tell me more about this. " * (limit // 25)
    near = near[: limit - 100].strip()
    ui.input.fill(near)
    expect(counter).to_have_text(f"{len(near):,} / {limit:,} characters")
    over = near + " And also" + " about that" * 20 + "?"
    ui.input.fill(over)
    extra = len(over) - limit
    expect(counter).to_have_text(f"{len(over):,} / {limit:,} characters: {extra:,} too many")
    expect(ui.input).to_have_attribute("aria-invalid", "true")
    ui.input.press("Enter")
    message = (f"This question is {len(over):,} characters long; the limit is {limit:,}. "
               f"Shorten it by {extra:,} to send it.")
    expect(page.locator("#composer-hint")).to_have_text(message)
    expect(page.locator("#announcer")).to_have_text(message)
    expect(ui.input).to_have_value(over)
    assert requests == [] and page.locator(".msg").count() == 0
    shot(page, f"too-long-{corpus.name}-{size}")
    # shortened to the limit: the counter says so and the question goes
    ui.input.fill(corpus.question)
    expect(ui.input).to_have_attribute("aria-invalid", "false")
    expect(page.locator("#composer-hint")).not_to_have_text(message)
    ui.input.press("Enter")
    expect(page.locator(".msg.assistant[data-status=done]")).to_have_count(1)


def test_the_limits_are_the_services_own(open_page, corpus):
    """The page counts against what /health says, not numbers of its own: the question's length,
    and how many turns of the conversation a request carries (the oldest are left out)."""
    page = open_page(corpus.url)
    health = httpx.get(f"{corpus.url}health").json()
    page.route("**/health", lambda route: route.fulfill(json={**health, "max_question_chars": 60, "max_turns": 3}))
    page.reload()
    ui = Page(page)
    question = "What did the committee say about the budget for all the schools?"
    ui.input.fill(question)
    expect(page.locator("#counter")).to_have_text(f"{len(question)} / 60 characters: {len(question) - 60} too many")
    ui.ask(corpus.question)
    ui.ask(corpus.follow_up)
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as sent:
        ui.ask(corpus.scope_question)
    messages = sent.value.post_data_json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == corpus.follow_up and messages[2]["content"] == corpus.scope_question



def test_words_fit_any_transcript_and_starters_are_whole_questions(open_page, corpus):
    page = open_page(corpus.url)
    starters = httpx.get(f"{corpus.url}v1/starters", params={"n": 4}).json()["questions"]
    assert starters
    buttons = page.locator("#starters button")
    expect(buttons).to_have_text(starters)
    for q in starters:  # one of the forms, about one of the folder's topics
        assert any(q.startswith(form.split("{term}")[0]) and q.endswith(form.split("{term}")[1]) for form in FORMS), q
    expect(page.get_by_role("heading", name="Ask the transcripts")).to_be_visible()
    expect(page.get_by_role("heading", name="Try asking about the folder’s topics")).to_be_visible()
    expect(page.get_by_label("Your question")).to_have_attribute("placeholder", "Ask about the transcripts…")
    # the page's own words never assume interviews or an interviewer (a transcript's own kind, title
    # and topics in the library are its data)
    Page(page).ask(corpus.question)
    own = page.evaluate("""() => {
        const skip = '.answer-text, .source-snippet, .source-who, .source-where, .bubble, #starters, .t-title, .t-meta, .t-topics';
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const out = [];
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (!n.parentElement.closest(skip)) out.push(n.textContent);
        }
        return out.join(' ') + ' ' + [...document.querySelectorAll('[aria-label], [placeholder], [title]')]
            .map(el => [el.getAttribute('aria-label'), el.getAttribute('placeholder'), el.getAttribute('title')].join(' ')).join(' ');
    }""")
    assert not re.search(r"interview", own, re.IGNORECASE), re.findall(r".{40}interview.{40}", own, re.IGNORECASE)
    # a starter is sent as it is written
    page.get_by_role("button", name="New chat").click()
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as sent:
        page.locator("#starters button").first.click()
    assert json.loads(sent.value.post_data)["messages"] == [{"role": "user", "content": starters[0]}]
