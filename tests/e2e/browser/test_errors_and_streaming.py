"""Errors in plain words with the typed question kept, the stop button, and the SSE reader.

4xx and "service down" use the real service. A 5xx, a stream that fails part-way, a slow
answer and a scripted SSE stream cannot be had from a healthy built-in answerer on demand, so
those responses are played to the page by Playwright's router (the page cannot tell).
"""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import expect

from .helpers import PHONE, Chat, current_chat

OFFICES = "Where are Alibaba Cloud's offices in Europe?"


def stored_turns(page) -> list[dict]:
    chat = current_chat(page)
    return chat["turns"] if chat else []


def sse(*events: tuple[str, dict | str], sep: str = "\r\n") -> str:
    """An SSE body as sse-starlette writes it (CRLF line ends), with a keep-alive comment."""
    out = [f": ping{sep}{sep}"]
    for name, data in events:
        payload = data if isinstance(data, str) else json.dumps(data)
        out.append(f"event: {name}{sep}" + "".join(f"data: {line}{sep}" for line in payload.split("\n")) + sep)
    return "".join(out)


SOURCE = {"n": 1, "id": "alibaba-cloud-xuan-jin#t002p01", "transcript": "alibaba-cloud-xuan-jin",
          "title": "Alibaba’s 100% growth rate to world dominance",
          "question": "What’s been on your agenda for the past few years?", "speaker": "Xuan Jin",
          "text": "We have three offices in Europe: London, Paris and Frankfurt, among which, London is the "
                  "head office. I’ve been busy building and leading the technical team here.",
          "score": 1.3, "turn": 2, "start": 1370, "end": 1530, "timestamp": "",
          "quotes": [("We have three offices in Europe: London, Paris and Frankfurt, among which, London is "
                      "the head office.")]}
ANSWER = "The offices are in London, Paris and Frankfurt; London is the head office [1]."
DONE = {"answer": ANSWER, "abstained": False, "sources": [SOURCE], "citations": [1], "verified": True,
        "mode": "llm", "standalone_question": "Where are Alibaba Cloud's offices in Europe?",
        "timings": {"total_ms": 12.0}}


REWRITE = "Where are the European offices of Alibaba Cloud?"


def test_streamed_answer_is_assembled_and_cited(page):
    pieces = ["The offices are in ", "London, Paris ", "and Frankfurt; ", "London is the head office ", "[", "1].",
              ""]
    body = sse(("sources", {"sources": [SOURCE], "standalone_question": REWRITE}),
               *[("token", {"text": p}) for p in pieces],
               ("done", {**DONE, "standalone_question": REWRITE}))
    page.route("**/v1/chat", lambda route: route.fulfill(status=200, body=body,
                                                         headers={"Content-Type": "text/event-stream; charset=utf-8"}))
    msg = Chat(page).ask(OFFICES)
    expect(msg).to_have_attribute("data-transport", "sse")
    expect(msg).to_have_attribute("data-token-events", str(len([p for p in pieces if p])))
    expect(msg.locator(".answer-text")).to_have_text(ANSWER.replace("[1]", "1"))
    expect(msg.locator("button.cite")).to_have_count(1)
    # the question was searched in other words: they are shown
    expect(msg.locator(".searched")).to_have_text(f"Searched for: {REWRITE}")
    msg.locator("button.cite").click()
    expect(page.get_by_role("dialog").locator(".turn.current mark")).to_have_text(SOURCE["quotes"])
    assert [t["content"] for t in stored_turns(page)] == [OFFICES, ANSWER]


def test_json_answer_is_shown_when_the_service_does_not_stream(page):
    page.route("**/v1/chat", lambda route: route.fulfill(json=DONE))
    msg = Chat(page).ask(OFFICES)
    expect(msg).to_have_attribute("data-transport", "json")
    expect(msg.locator(".answer-text")).to_have_text(ANSWER.replace("[1]", "1"))
    expect(msg.locator(".source-card.cited")).to_have_count(1)
    # the service searched the question as it was asked: no "Searched for"
    assert DONE["standalone_question"] == OFFICES
    expect(msg.locator(".searched")).to_have_count(0)


def test_a_refused_question_is_explained_in_plain_words_and_kept(page, chat):
    """A 4xx the page cannot foresee (here a filter that names nothing): the service's words without
    the request field they name, the question kept, no Try again (it would fail the same way)."""
    page.route("**/v1/chat", lambda route: route.continue_(post_data=json.dumps({
        **route.request.post_data_json, "filters": {"speakers": ["Nobody Atall"]}})))
    chat.ask(OFFICES, expect_answer=False)
    notice = page.locator(".msg.notice.error")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("role", "alert")
    expect(notice).to_contain_text("Nobody Atall")
    expect(notice).to_contain_text("error 422")
    expect(notice).not_to_contain_text("filters.")
    expect(notice).to_contain_text("Your question is still in the box below")
    expect(chat.input).to_have_value(OFFICES)
    expect(page.locator(".msg.user.failed")).to_contain_text("Not answered")
    expect(page.locator(".msg.assistant")).to_have_count(0)
    expect(notice.get_by_role("button", name="Try again")).to_have_count(0)  # the same question would fail again
    assert stored_turns(page) == []

    # sent again without the bad filter: the failed attempt makes way for the answer
    page.unroute("**/v1/chat")
    chat.input.press("Enter")
    expect(page.locator(".msg.assistant[data-status=done]")).to_have_count(1)
    expect(page.locator(".msg.notice")).to_have_count(0)
    expect(page.locator(".msg.user.failed")).to_have_count(0)


def test_server_error_is_explained_and_the_question_kept(page, chat):
    page.route("**/v1/chat", lambda route: route.fulfill(status=500, body="Internal Server Error",
                                                         content_type="text/plain"))
    chat.ask(OFFICES, expect_answer=False)
    notice = page.locator(".msg.notice.error")
    expect(notice).to_contain_text("The service ran into a problem")
    expect(notice).to_contain_text("error 500")
    expect(chat.input).to_have_value(OFFICES)

    # once the service is well again, Enter sends the kept question
    page.unroute("**/v1/chat")
    chat.input.press("Enter")
    expect(page.locator(".msg.assistant[data-status=done] .answer-text")).to_contain_text("London")
    expect(notice).to_have_count(0)
    expect(chat.input).to_have_value("")


def test_try_again_button_resends_the_question(page, chat):
    page.route("**/v1/chat", lambda route: route.fulfill(status=503, json={"detail": "The index is being rebuilt"}))
    chat.ask(OFFICES, expect_answer=False)
    notice = page.locator(".msg.notice.error")
    expect(notice).to_contain_text("error 503")
    expect(notice).to_contain_text("The index is being rebuilt.")
    page.unroute("**/v1/chat")
    notice.get_by_role("button", name="Try again").click()
    expect(page.locator(".msg.assistant[data-status=done] .answer-text")).to_contain_text("London")
    expect(page.locator(".msg.user .bubble")).to_have_text([OFFICES])
    expect(chat.input).to_have_value("")


def test_degraded_service_is_shown_in_the_status_line(open_page, server):
    health = httpx.get(f"{server.url}/health").json()
    page = open_page()
    page.route("**/health", lambda route: route.fulfill(json={**health, "status": "degraded",
                                                              "chroma": "unreachable: connection refused"}))
    page.reload()
    status = page.get_by_role("status").filter(has_text="indexed")
    expect(status).to_contain_text("not answering right now")
    expect(status).to_have_attribute("data-state", "degraded")


def test_stream_error_is_explained_and_nothing_half_written_is_kept(page, chat):
    body = sse(("sources", {"sources": [SOURCE], "standalone_question": None}),
               ("token", {"text": "The offices are "}),
               ("error", {"detail": "The language model stopped responding"}))
    page.route("**/v1/chat", lambda route: route.fulfill(status=200, body=body,
                                                         headers={"Content-Type": "text/event-stream"}))
    chat.ask(OFFICES, expect_answer=False)
    notice = page.locator(".msg.notice.error")
    expect(notice).to_contain_text("The answer stopped part-way")
    expect(notice).to_contain_text("The language model stopped responding.")
    expect(chat.input).to_have_value(OFFICES)
    expect(page.locator(".msg.assistant")).to_have_count(0)
    assert stored_turns(page) == []


def test_stream_cut_off_without_done_is_an_error(page, chat):
    body = sse(("sources", {"sources": [SOURCE], "standalone_question": None}), ("token", {"text": "The "}))
    page.route("**/v1/chat", lambda route: route.fulfill(status=200, body=body,
                                                         headers={"Content-Type": "text/event-stream"}))
    chat.ask(OFFICES, expect_answer=False)
    expect(page.locator(".msg.notice.error")).to_contain_text("The answer was cut off")
    expect(chat.input).to_have_value(OFFICES)


def test_stop_cancels_the_request_and_gives_the_question_back(page, chat, artifacts):
    held = []
    page.route("**/v1/chat", lambda route: held.append(route))  # an answer that never comes
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.failure))
    chat.ask(OFFICES, expect_answer=False)
    msg = page.locator(".msg.assistant")
    expect(msg).to_have_attribute("aria-busy", "true")
    expect(msg).to_contain_text("Searching the transcripts…")
    stop = page.get_by_role("button", name="Stop answering")
    expect(stop).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_hidden()
    expect(chat.input).to_have_value("")
    page.screenshot(path=artifacts / "searching-desktop.png")

    stop.click()
    expect(page.locator(".msg.notice")).to_contain_text("Stopped")
    expect(chat.input).to_have_value(OFFICES)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(stop).to_be_hidden()
    expect(page.locator(".msg.user")).to_have_count(0)
    expect(page.locator(".msg.assistant")).to_have_count(0)
    page.wait_for_timeout(200)
    assert failed, "the request was not aborted"

    # Escape in the question box stops too
    chat.input.press("Enter")
    expect(stop).to_be_visible()
    chat.input.press("Escape")
    expect(stop).to_be_hidden()
    expect(chat.input).to_have_value(OFFICES)


def test_service_down_is_explained_and_the_question_kept(open_page, own_server, artifacts):
    page = open_page(own_server.url + "/", viewport=PHONE)
    chat = Chat(page)
    chat.ask(OFFICES)
    own_server.stop()

    follow_up = "Which one is the head office?"
    chat.ask(follow_up, expect_answer=False)
    notice = page.locator(".msg.notice.error")
    expect(notice).to_contain_text("Can’t reach the service")
    expect(notice).to_contain_text("it may be stopped or restarting")
    expect(chat.input).to_have_value(follow_up)
    expect(page.get_by_role("status").filter(has_text="reach")).to_contain_text("Can’t reach the service")
    # the conversation so far is untouched
    expect(page.locator(".msg.assistant[data-status=done]")).to_have_count(1)
    assert [t["role"] for t in stored_turns(page)] == ["user", "assistant"]
    page.screenshot(path=artifacts / "service-down-phone.png")
