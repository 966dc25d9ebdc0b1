"""The library: every transcript named with its speakers, length and date, searchable; a transcript
read as a conversation; questions asked about some transcripts or speakers only (chips above the
box, sent as `filters`). On the sample interview and on real committee hearings, desktop and phone."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from .helpers import DESKTOP, PHONE, Page, ask_and_capture, shot

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


def overview(body: dict) -> str:
    """What the folder holds, as the page says it (library.js `overview`)."""
    n, speakers, turns, hours = body["transcript_count"], body["speaker_count"], body["turn_count"], body["timed_hours"]
    parts = [f"{n} transcript{'s' if n != 1 else ''}", f"{speakers} speaker{'s' if speakers != 1 else ''}",
             f"{turns:,} turn{'s' if turns != 1 else ''}"]
    if hours:
        parts.append(f"{round(hours, 1):g} hours recorded")
    return " · ".join(parts)


def listing(corpus) -> list[dict]:
    return httpx.get(f"{corpus.url}v1/transcripts").json()["transcripts"]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_library_lists_searches_and_reads_the_transcripts(open_page, corpus, size):
    page = open_page(corpus.url, viewport=VIEWPORTS[size])
    ui = Page(page)
    transcripts = listing(corpus)
    library = ui.open_library()
    expect(page.locator("#library-toggle")).to_have_attribute("aria-expanded", "true")
    items = page.locator("#transcript-list .transcript")
    expect(items).to_have_count(len(transcripts))
    expect(page.locator("#library-count")).to_have_text(overview(httpx.get(f"{corpus.url}v1/transcripts").json()))
    for i, t in enumerate(transcripts):
        item = items.nth(i)
        expect(item.locator(".t-title")).to_have_text(t["title"])
        date = page.evaluate("iso => new Date(iso).toLocaleDateString(undefined, {day: 'numeric', month: 'short', year: 'numeric'})",
                             t["ingested_at"])
        n = len(t["speakers"])
        expect(item.locator(".t-meta")).to_have_text(
            f"{t['kind'].capitalize()} · {n} speaker{'s' if n != 1 else ''} · {t['turns']} turns · added {date}")
        expect(item.locator(".speaker-toggle")).to_have_count(n)
        expect(item.locator(".speaker-name")).to_have_text([s["name"] for s in t["speakers"]])
        # what it is about: its most distinctive terms; each speaker's role where it is known
        assert t["topics"], t["id"]
        expect(item.locator(".t-topics")).to_have_text("About: " + " · ".join(t["topics"]))
        roles = [s["role"] for s in t["speakers"] if s["role"]]
        expect(item.locator(".speaker-role")).to_have_text(roles)
    if size == "phone":  # a drawer over the page: the rest cannot be reached until it closes
        box = library.bounding_box()
        assert box["x"] <= 1 and box["width"] >= PHONE["width"] - 1
        assert page.evaluate("document.querySelector('.center').inert") is True
    # the title of each transcript wraps: nothing is cut off or wider than the panel
    clipped = page.evaluate("""() => [...document.querySelectorAll('.t-title')]
        .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent)""")
    assert clipped == []
    shot(page, f"library-{corpus.name}-{size}")

    # search by a speaker: only the transcripts they speak in, with their speakers opened
    search = page.get_by_label("Search transcripts and speakers")
    query = corpus.speaker.split()[-1].lower()
    search.fill(query)
    having = [t for t in transcripts if any(query in s["name"].lower() for s in t["speakers"])]
    assert having and len(having) < len(transcripts)
    expect(items).to_have_count(len(having))
    expect(items.locator("details[open]")).to_have_count(len(having))
    expect(items.locator("details[open] .speaker-name", has_text=corpus.speaker)).to_have_count(
        sum(1 for t in having if corpus.speaker in [s["name"] for s in t["speakers"]]))
    search.fill("no such transcript zzz")
    expect(items).to_have_count(0)
    expect(page.locator("#library-count")).to_have_text("No transcript or speaker matches “no such transcript zzz”.")
    search.fill("")
    expect(items).to_have_count(len(transcripts))

    # read one: every turn, by speaker, in order, with timestamps where the format has them
    chosen = corpus.timed_id or corpus.scope_id
    detail = httpx.get(f"{corpus.url}v1/transcripts/{chosen}").json()
    ui.transcript_item(chosen).get_by_role("button", name=re.compile("^Read")).click()
    reader = ui.wait_reader()
    expect(reader.get_by_role("heading", level=2)).to_have_text(detail["title"])
    expect(reader.locator("#reader-kicker")).to_have_text("Transcript")
    expect(reader.locator(".turns > .turn")).to_have_count(len(detail["turns"]))
    expect(reader.locator(".turns > .turn > .who .speaker")).to_have_text([t["speaker"] for t in detail["turns"]])
    expect(reader.locator(".turns > .turn").first.locator(".said").last).to_have_text(detail["turns"][0]["text"])
    stamps = [t["timestamp"] for t in detail["turns"] if t["timestamp"]]
    if corpus.timed_id:
        assert len(stamps) == len(detail["turns"])
        expect(reader.locator(".turns .who .media-link")).to_have_text(stamps)
    else:
        expect(reader.locator(".turns .who .media-link, .turns .who .timestamp")).to_have_count(0)
    if detail["intro"]:
        expect(reader.locator(".turn.intro .said")).to_have_text(detail["intro"])
    expect(reader.get_by_role("button", name="Close the transcript")).to_be_focused()
    shot(page, f"transcript-{corpus.name}-{size}")
    page.keyboard.press("Escape")
    expect(reader).to_be_hidden()


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_question_about_one_transcript_is_answered_from_it_alone(open_page, corpus, size):
    # unscoped, the passages of this question come from more than the chosen transcript
    everywhere = httpx.post(f"{corpus.url}v1/chat", json={"messages": [{"role": "user", "content": corpus.scope_question}]},
                            timeout=60).json()
    assert {s["transcript"] for s in everywhere["sources"]} - {corpus.scope_id}, "the test question needs other transcripts"

    page = open_page(corpus.url, viewport=VIEWPORTS[size])
    ui = Page(page)
    title = next(t["title"] for t in listing(corpus) if t["id"] == corpus.scope_id)
    ui.open_library()
    toggle = ui.transcript_item(corpus.scope_id).locator(".scope-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#announcer")).to_have_text(f"Questions now ask only about “{title}”.")
    if size == "phone":
        page.keyboard.press("Escape")
        expect(page.locator("#library")).to_be_hidden()
        expect(page.locator("#library-toggle")).to_be_focused()
    chips = page.locator("#scope-chips .chip")
    expect(chips).to_have_text([title])
    expect(page.locator("#scope-label")).to_have_text("Asking only about this transcript:")

    msg, body, response = ask_and_capture(ui, corpus.scope_question)
    assert response.request.post_data_json["filters"] == {"transcripts": [corpus.scope_id]}
    assert body["sources"] and {s["transcript"] for s in body["sources"]} == {corpus.scope_id}
    cards = msg.locator(".source-card")
    expect(cards).to_have_count(len(body["sources"]) if body["abstained"] or not body["citations"]
                                else len(set(body["citations"])))
    assert set(cards.evaluate_all("els => els.map(e => e.dataset.transcript)")) == {corpus.scope_id}
    expect(page.locator(".msg.user .msg-scope")).to_have_text(f"Asked only about {title}")
    shot(page, f"scoped-{corpus.name}-{size}")

    # the chip is removed: the next question asks every transcript again
    page.get_by_role("button", name=f"Remove {title} from what questions ask about").click()
    expect(chips).to_have_count(0)
    expect(page.locator("#scope")).to_be_hidden()
    expect(ui.input).to_be_focused()
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as sent:
        ui.ask(corpus.question)
    assert "filters" not in sent.value.post_data_json


def test_questions_about_one_speaker_and_the_scope_kept_with_the_chat(open_page, corpus):
    page = open_page(corpus.url)
    ui = Page(page)
    ui.open_library()
    speaker = page.locator(f'.speaker-toggle[data-speaker="{corpus.speaker}"]').first
    if not speaker.is_visible():
        speaker.locator("xpath=ancestor::details").locator("summary").click()
    speaker.click()
    expect(page.locator(f'.speaker-toggle[data-speaker="{corpus.speaker}"][aria-pressed="true"]')).not_to_have_count(0)
    msg, body, response = ask_and_capture(ui, corpus.scope_question)
    assert response.request.post_data_json["filters"] == {"speakers": [corpus.speaker]}
    assert body["sources"] and {s["speaker"] for s in body["sources"]} == {corpus.speaker}
    expect(msg.locator(".source-who")).to_have_text([corpus.speaker] * msg.locator(".source-who").count())

    # both kinds together (a transcript the speaker speaks in), kept with the conversation through a reload
    theirs = next(t["id"] for t in listing(corpus) if corpus.speaker in [s["name"] for s in t["speakers"]])
    ui.transcript_item(theirs).locator(".scope-toggle").click()
    page.reload()
    expect(page.locator("#scope-chips .chip")).to_have_count(2)
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as sent:
        Page(page).ask(corpus.scope_question)
    assert sent.value.post_data_json["filters"] == {"transcripts": [theirs], "speakers": [corpus.speaker]}
    expect(page.locator(".msg.assistant").last.locator(".source-card")).not_to_have_count(0)
    # Clear empties the scope
    page.get_by_role("button", name="Clear: ask about every transcript").click()
    expect(page.locator("#scope")).to_be_hidden()
    expect(page.locator("#announcer")).to_have_text("Questions now ask about every transcript.")


def test_the_first_screen_says_what_the_folder_holds(open_page, corpus):
    page = open_page(corpus.url)
    body = httpx.get(f"{corpus.url}v1/transcripts").json()
    n = body["transcript_count"]
    expect(page.locator("#folder-overview")).to_have_text(f"This folder holds {overview(body)}.")
    # the starters ask about the folder's topics, each of another kind, and none is declined
    starters = httpx.get(f"{corpus.url}v1/starters", params={"n": 4}).json()["questions"]
    topics = {t for tr in body["transcripts"] for t in tr["topics"]}
    assert starters and all(any(q.rstrip("?.").endswith(f"about {t}") for t in topics) for q in starters), starters
    if n > 1:
        assert starters[0].startswith("Which transcripts talk about ")
    expect(page.locator("#starters button")).to_have_text(starters)
    shot(page, f"welcome-{corpus.name}-desktop")
