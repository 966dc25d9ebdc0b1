"""Conversations kept in the browser: a list (new, open, rename, delete with undo, search), one per
tab, exported as Markdown with sources, regenerate and edit of the last exchange, copy with
sources, and a question in flight that survives a reload (shown as interrupted, with Retry)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .helpers import PHONE, Page, ask_and_capture, current_chat, shot, stored_chats


def chat_titles(page) -> list[str]:
    return page.locator("#chat-list .chat-title").all_inner_texts()


def test_the_list_of_chats_new_rename_delete_undo_search(open_page, corpus):
    page = open_page(corpus.url)
    ui = Page(page)
    ui.ask(corpus.question)
    page.get_by_role("button", name="New chat").click()
    expect(page.locator("#announcer")).to_have_text("New chat started. Earlier chats are in the chat list.")
    ui.ask(corpus.scope_question)
    # newest first, titled by their first question; the one shown is marked
    expect(page.locator("#chat-list .chat-title")).to_have_text([corpus.scope_question, corpus.question])
    expect(page.locator('#chat-list .chat-item[aria-current="true"] .chat-title')).to_have_text(corpus.scope_question)
    shot(page, f"chats-{corpus.name}-desktop")

    # open the first one again: its turns come back
    page.locator("#chat-list .chat-open", has_text=corpus.question).click()
    expect(page.locator(".msg.user .bubble")).to_have_text([corpus.question])
    expect(page.locator("#announcer")).to_have_text(f"Opened “{corpus.question}”.")

    # rename in place (Enter keeps it; the storage has it)
    page.get_by_role("button", name=f"Rename “{corpus.question}”").click()
    box = page.get_by_label(f"New name for “{corpus.question}”")
    expect(box).to_be_focused()
    box.fill("My first chat")
    box.press("Enter")
    expect(page.locator("#chat-list .chat-title")).to_have_text(["My first chat", corpus.scope_question])
    assert [c["title"] for c in stored_chats(page)] == ["My first chat", corpus.scope_question]
    # Escape leaves the name as it was
    page.get_by_role("button", name="Rename “My first chat”").click()
    page.get_by_label("New name for “My first chat”").fill("Not this")
    page.keyboard.press("Escape")
    expect(page.locator("#chat-list .chat-title").first).to_have_text("My first chat")

    # search by title or by what was said
    search = page.get_by_label("Search chats")
    search.fill(corpus.scope_question.split()[-1].strip("?.").lower())
    expect(page.locator("#chat-list .chat-title")).to_have_text([corpus.scope_question])
    search.fill("zzz nothing")
    expect(page.locator("#chat-list .chat-item")).to_have_count(0)
    expect(page.locator("#chat-list-empty")).to_have_text("No chat matches “zzz nothing”.")
    search.fill("")

    # delete the one shown: a new chat takes its place, and Undo brings it back
    page.get_by_role("button", name="Delete “My first chat”").click()
    expect(page.locator("#chat-list .chat-title")).to_have_text([corpus.scope_question])
    expect(page.locator(".msg")).to_have_count(0)
    assert len(stored_chats(page)) == 1
    toast = page.locator("#toast")
    expect(toast).to_contain_text("Deleted “My first chat”.")
    expect(page.locator("#announcer")).to_contain_text("Deleted “My first chat”.")
    toast.get_by_role("button", name="Undo").click()
    expect(toast).to_be_hidden()
    expect(page.locator("#chat-list .chat-title")).to_have_text(["My first chat", corpus.scope_question])
    expect(page.locator(".msg.user .bubble")).to_have_text([corpus.question])
    expect(page.locator("#announcer")).to_have_text("Restored “My first chat”.")
    assert len(stored_chats(page)) == 2


def test_two_tabs_keep_two_conversations(open_page, corpus):
    one = open_page(corpus.url)
    two = open_page(corpus.url, tab_of=one)
    Page(one).ask(corpus.question)
    Page(two).ask(corpus.scope_question)
    expect(one.locator(".msg.user .bubble")).to_have_text([corpus.question])
    expect(two.locator(".msg.user .bubble")).to_have_text([corpus.scope_question])
    # each tab lists both (the other tab's appears without a reload)
    for tab in (one, two):
        expect(tab.locator("#chat-list .chat-title")).to_have_text([corpus.scope_question, corpus.question])
    # New chat in one tab leaves the other tab's conversation alone
    one.get_by_role("button", name="New chat").click()
    expect(one.locator(".msg")).to_have_count(0)
    expect(two.locator(".msg.user .bubble")).to_have_text([corpus.scope_question])
    Page(two).ask(corpus.follow_up)
    expect(one.locator(".msg")).to_have_count(0)
    # a reload keeps each tab on its own conversation
    one.reload()
    two.reload()
    expect(one.locator(".msg")).to_have_count(0)
    expect(two.locator(".msg.user .bubble")).to_have_text([corpus.scope_question, corpus.follow_up])
    assert sorted(len(c["turns"]) for c in stored_chats(one)) == [2, 4]
    shot(two, f"two-tabs-{corpus.name}-desktop")


def test_export_copy_regenerate_and_edit(open_page, corpus):
    page = open_page(corpus.url, permissions=["clipboard-read", "clipboard-write"])
    ui = Page(page)
    first, body, _ = ask_and_capture(ui, corpus.question)
    expect(page.get_by_role("button", name="Export this chat as Markdown")).to_be_enabled()

    # Copy: the answer and the passages it cites, announced
    first.get_by_role("button", name="Copy the answer with its sources").click()
    expect(page.locator("#announcer")).to_have_text("Copied the answer and its sources.")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    cited = [s for s in body["sources"] if s["n"] in body["citations"]]
    assert copied.startswith(body["answer"].strip()) and "\nSources:\n" in copied
    for s in cited:
        assert f"[{s['n']}] " in copied and s["title"] in copied
        for q in s["quotes"]:
            assert f"> {' '.join(q.split())}" in copied

    second, again, _ = ask_and_capture(ui, corpus.follow_up)
    # Regenerate and Edit only on the last exchange
    expect(first.locator(".regenerate")).to_be_hidden()
    expect(page.locator(".msg.user").first.get_by_role("button", name="Edit the question")).to_be_hidden()
    if again["alternatives"] is False:  # built-in, and the next passages hold no other answer: said so, no button
        expect(second.locator(".no-other")).to_have_text("The transcripts give no other answer to this question.")
        expect(second.get_by_role("button", name="Regenerate the answer")).to_have_count(0)
    else:
        regenerate = second.get_by_role("button", name="Regenerate the answer")
        expect(regenerate).to_be_visible()
        quoted = [s["id"] for s in again["sources"] if s["n"] in again["citations"]]
        with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as sent:
            regenerate.click()
        page.wait_for_selector(".msg.assistant[data-status=done] >> nth=1")
        assert [m["content"] for m in sent.value.post_data_json["messages"]] == [
            corpus.question, body["answer"], corpus.follow_up]
        # a built-in answer is the same each time: another one is asked for, not from its passages
        if again["mode"] == "extractive":
            assert sent.value.post_data_json.get("exclude") == (quoted or None)
        expect(page.locator(".msg.assistant")).to_have_count(2)
        expect(page.locator(".msg.user .bubble")).to_have_text([corpus.question, corpus.follow_up])

    # Edit the last question: it is asked instead, the answer replaced
    edit = page.locator(".msg.user").last.get_by_role("button", name="Edit the question")
    edit.click()
    box = page.get_by_label("Edit your question")
    expect(box).to_be_focused()
    expect(box).to_have_value(corpus.follow_up)
    box.fill(corpus.scope_question)
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as sent:
        box.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.msg.assistant[data-status=done]').length === 2")
    assert sent.value.post_data_json["messages"][-1]["content"] == corpus.scope_question
    expect(page.locator(".msg.user .bubble")).to_have_text([corpus.question, corpus.scope_question])
    assert [t["content"] for t in current_chat(page)["turns"] if t["role"] == "user"] == [
        corpus.question, corpus.scope_question]

    # Export: the whole conversation as Markdown, with its sources
    with page.expect_download() as info:
        page.get_by_role("button", name="Export this chat as Markdown").click()
    download = info.value
    assert re.fullmatch(r"[\w-]+\.md", download.suggested_filename), download.suggested_filename
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith(f"# {corpus.question}\n")
    assert text.count("## Question") == 2 and text.count("## Answer") + text.count("## Not covered") == 2
    assert f"\n{corpus.question}\n" in text and f"\n{corpus.scope_question}\n" in text
    assert body["answer"].strip() in text and "Sources:" in text
    expect(page.locator("#announcer")).to_contain_text("Exported")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_question_in_flight_survives_a_reload(open_page, corpus, size):
    page = open_page(corpus.url, viewport=PHONE if size == "phone" else None)
    ui = Page(page)
    ui.ask(corpus.question)
    page.route("**/v1/chat", lambda route: None)  # the next answer never comes
    ui.ask(corpus.follow_up, expect_answer=False)
    expect(page.locator(".msg.assistant[aria-busy=true]")).to_have_count(1)
    assert current_chat(page)["pending"]["question"] == corpus.follow_up
    # reloaded with the request still held: unrouting first lets it through to the server, and an
    # answer that arrives before the reload is a race the test would lose now and then
    page.reload()
    # after the reload: the question, marked interrupted, with Retry
    notice = page.locator(".msg.notice.interrupted")
    expect(notice).to_contain_text("Interrupted")
    expect(notice).to_contain_text("reloaded or closed before this question was answered")
    expect(page.locator(".msg.user .bubble")).to_have_text([corpus.question, corpus.follow_up])
    expect(page.locator(".msg.assistant")).to_have_count(1)
    expect(notice.get_by_role("button", name="Retry")).to_be_in_viewport()
    shot(page, f"interrupted-{corpus.name}-{size}")
    page.unroute_all(behavior="ignoreErrors")  # the held request belonged to the page before the reload
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as sent:
        notice.get_by_role("button", name="Retry").click()
    assert sent.value.post_data_json["messages"][-1]["content"] == corpus.follow_up
    expect(page.locator(".msg.assistant[data-status=done]")).to_have_count(2)
    expect(notice).to_have_count(0)
    expect(page.locator(".msg.user .bubble")).to_have_text([corpus.question, corpus.follow_up])
    assert current_chat(page)["pending"] is None
    assert len(current_chat(page)["turns"]) == 4


def test_leaving_a_conversation_mid_question_keeps_it_there(page):
    """New chat while an answer is coming: the new chat stays empty, and the question waits in its
    own conversation as interrupted, with Retry."""
    ui = Page(page)
    ui.ask("Where are Alibaba Cloud's offices in Europe?")
    page.route("**/v1/chat", lambda route: None)  # the next answer never comes
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    ui.ask("Which one is the head office?", expect_answer=False)
    expect(page.locator(".msg.assistant[aria-busy=true]")).to_have_count(1)
    page.get_by_role("button", name="New chat").click()
    expect(page.locator(".msg")).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    page.wait_for_function("() => !document.getElementById('stop').checkVisibility()")
    expect(page.locator(".msg")).to_have_count(0)  # no "Stopped" notice, no answer, in the new chat
    assert failed, "the request was not stopped"
    page.unroute("**/v1/chat")
    page.locator("#chat-list .chat-open", has_text="Where are Alibaba").click()
    expect(page.locator(".msg.notice.interrupted")).to_contain_text("Interrupted")
    expect(page.locator(".msg.user .bubble")).to_have_text(["Where are Alibaba Cloud's offices in Europe?",
                                                            "Which one is the head office?"])
