"""Red-team findings on output and the OpenAI facade (issue 10, B1 and B8).

B1: an outside address in disguise (`https:host`, `https:/host`, `https:\\\\host`, `xhttps://`,
`_https://`, `mailto:`) got through the answer filter and the chat UI made it a link. Here the
filter is checked on every disguise (whole and streamed in pieces), then a transcript carrying all
six is ingested and asked about through the real app (built-in answerer, JSON and SSE), and the
real chat page on Chromium is checked for links: none with the default settings, and none either
when ANSWER_LINK_HOSTS lets the disguised host through, because the page itself only links an
http(s) address written out in full.

B8: a bad OpenAI content part (`"text": 5`, `null`, a list) was a 500; it is a 422 naming the part.
"""

from __future__ import annotations

import json
import time

import pytest

from service.rag.filters import LinkFilter
from service.rag.links import LINK_REMOVED, clean_answer
from tests.fixtures.apps import build_index, open_client
from tests.fixtures.core import SAMPLE
from tests.fixtures.servers import LiveServer
from tests.fixtures.sse import sse

ALLOWED = ("census.example",)

# The six from the report, each bare and as a Markdown link, and the browser-read relatives of them.
DISGUISED = [
    ("[verify the census](https:evil.example/login)", "verify the census"),
    ("see https:/evil.example now", f"see {LINK_REMOVED} now"),
    ("see https:\\\\evil.example now", f"see {LINK_REMOVED} now"),
    ("see xhttps://evil.example/steal now", f"see {LINK_REMOVED} now"),
    ("see _https://evil.example now", f"see _{LINK_REMOVED} now"),
    ("write to mailto:x@evil.example now", f"write to {LINK_REMOVED} now"),
    ("[tables](https:/evil.example)", "tables"),
    ("[tables](https:\\\\evil.example)", "tables"),
    ("[tables](xhttps://evil.example/steal)", "tables"),
    ("[tables](_https://evil.example)", "tables"),
    ("[write](mailto:x@evil.example)", "write"),
    ("[run](javascript:alert(1))", "run)"),
    ("[open](data:text/html,hi)", "open"),
    ("[tables](\\\\evil.example/x)", "tables"),
    ("[tables](/\\evil.example/x)", "tables"),
    ("[tables](HTTPS:EVIL.EXAMPLE)", "tables"),
    ("[tables](<https:\tevil.example>)", "tables"),
    ("[tables](https:census.example@evil.example)", "tables"),
    ("[tables](https://evil.example\\@census.example)", "tables"),
    ("[tables](<https:evil.example>)", "tables"),
    ("[tables](https&#58;//evil.example)", "tables"),
    ('[tables](//evil.example "the tables")', "tables"),
    ('[tables](https&#58;&#47;&#47;evil.example "the tables")', "tables"),
    ("[tables](/go?to=https://evil.example)", "tables"),
    ("[ref]: //evil.example", f"[ref]: {LINK_REMOVED}"),
    ('<img src="https:evil.example/i.png">', "(image removed)"),
    ("see <mailto:x@evil.example>", f"see <{LINK_REMOVED}>"),
    ("see javascript:alert(1)", f"see {LINK_REMOVED}(1)"),
]


@pytest.mark.parametrize("text,expected", DISGUISED, ids=[t for t, _ in DISGUISED])
def test_the_filter_removes_every_disguised_outside_address(text, expected):
    """clean_answer and the stream filter (fed one character at a time) agree on each."""
    assert clean_answer(text, ALLOWED) == expected
    stream = LinkFilter(ALLOWED)
    assert "".join([*(stream.feed(ch) for ch in text), stream.flush()]) == expected


ANSWER = (
    "The census counted 48,200 residents [verify the census](https:evil.example/login), see "
    "https:/evil.example, https:\\\\evil.example, xhttps://evil.example/steal, _https://evil.example or "
    "mailto:x@evil.example; the tables are at https://census.example/2023 and [here](https://census.example/t) "
    "and [below](#tables), in a ratio of 3:1 at 10:30.\n[t]: \\\\evil.example/t \"tables\""
)
CLEANED = (
    f"The census counted 48,200 residents verify the census, see {LINK_REMOVED}, {LINK_REMOVED}, "
    f"{LINK_REMOVED}, _{LINK_REMOVED} or {LINK_REMOVED}; the tables are at https://census.example/2023 and "
    f"[here](https://census.example/t) and [below](#tables), in a ratio of 3:1 at 10:30.\n[t]: {LINK_REMOVED} "
    '"tables"'
)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, len(ANSWER)])
def test_the_stream_filter_cleans_disguised_links_split_across_pieces(size):
    """A model's answer with all six, an allowed address, a relative link and a reference
    definition, streamed in pieces of `size` characters: the pieces add up to the clean answer,
    and the allowed address, the relative link and ordinary colons are kept."""
    assert clean_answer(ANSWER, ALLOWED) == CLEANED
    stream = LinkFilter(ALLOWED)
    pieces = [stream.feed(ANSWER[i:i + size]) for i in range(0, len(ANSWER), size)] + [stream.flush()]
    assert "".join(pieces) == CLEANED
    assert not any("evil" in p for p in pieces)


@pytest.mark.parametrize("run", ["[", "[a](", "[a](<", "<img ", "a"], ids=["brackets", "links", "angle", "img", "word"])
def test_the_filter_takes_linear_time_on_a_long_run(run):
    """40 KB of one construct that never closes (a quoted transcript sentence can be that long):
    the whole answer, then the same streamed in 50-character pieces, cleaned in well under a
    second (before: 30 s for the brackets, 4 s for one long word streamed, the GIL held)."""
    text = run * (40_000 // len(run))
    cleaned = text.replace("<img", "&lt;img")  # raw HTML is escaped (service/rag/markup.py)
    started = time.perf_counter()
    assert clean_answer(text) == cleaned
    stream = LinkFilter()
    assert "".join([*(stream.feed(text[i:i + 50]) for i in range(0, len(text), 50)), stream.flush()]) == cleaned
    assert time.perf_counter() - started < 0.75


# --- end to end: a transcript carrying the six, ingested and asked about -----------------------
QUESTION = "How many people did the Varna Valley census count?"
CENSUS = """Counting the valley

The Editor sat down with Ilona Marsh, Chief Statistician at the Varna Valley Census Office, to discuss the census count.

How many people did the Varna Valley census count?

The Varna Valley census counted 48,200 residents in 2023, see [verify the census](https:evil.example/login), https:/evil.example, https:\\\\evil.example, xhttps://evil.example/steal, _https://evil.example or mailto:x@evil.example for the tables, or https://census.example/2023 for the official ones. The count was done door to door over six weeks in the spring.

How did people answer the census?

Most households answered on paper, and a third answered online.
"""
QUOTED = (
    f"The Varna Valley census counted 48,200 residents in 2023, see verify the census, {LINK_REMOVED}, "
    f"{LINK_REMOVED}, {LINK_REMOVED}, _{LINK_REMOVED} or {LINK_REMOVED} for the tables, or "
    "https://census.example/2023 for the official ones."
)


@pytest.fixture(scope="module")
def census_index(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("census")
    hostile = root / "census-links.txt"
    hostile.write_text(CENSUS, encoding="utf-8")
    return build_index(root / "index", embedder, [SAMPLE, hostile])


def test_a_transcript_with_disguised_links_is_quoted_without_them(census_index, app_settings):
    """Built-in answerer, JSON and SSE: the sentence is quoted (so the links were read) and comes
    out with the six removed and the allowed address kept; stream and JSON say the same."""
    with open_client(app_settings(census_index, answer_link_hosts=list(ALLOWED))) as client:
        r = client.post("/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}]})
        assert r.status_code == 200, r.text
        body = r.json()
        with client.stream("POST", "/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}],
                                                      "stream": True}) as s:
            assert s.status_code == 200
            events = sse(s.iter_lines())
    assert body["sources"][0]["transcript"] == "census-links"
    assert "evil.example" in body["sources"][0]["text"]  # the passage itself is shown as it is, as text
    answer = body["answer"]
    assert QUOTED in answer, answer
    assert "evil" not in answer and answer.count(LINK_REMOVED) == 5
    assert events[-1][0] == "done"
    streamed = "".join(json.loads(d)["text"] for name, d in events if name == "token")
    assert streamed == json.loads(events[-1][1])["answer"] == answer


LINKS = """() => [...document.querySelectorAll('a[href]')].map(a => a.href)
  .filter(href => new URL(href).origin !== location.origin)"""
# What the service never sends now, as a stored conversation of the page would still hold it.
RAW = ("The census counted 48,200 residents [verify the census](https:evil.example/login), see https:/evil.example, "
       "https:\\\\evil.example, xhttps://evil.example/steal, _https://evil.example, [write](mailto:x@evil.example), "
       "[run](javascript:window.__xss=1), [ask](//evil.example/a), [them](https://census.example@evil.example/) "
       "or https://census.example/2023 for the tables.")
# Written as this tab's saved conversation (service/static/store.js: the tab's chat id in
# sessionStorage, the conversation under its localStorage key).
STORE = """raw => {
  const chat = JSON.parse(sessionStorage.getItem("transcript-chat.tab")).chat;
  const key = "transcript-chat.chat." + chat;
  const c = JSON.parse(localStorage.getItem(key));
  c.turns = [{id: "q1", role: "user", content: "How many?", status: "ok"},
             {id: "a1", role: "assistant", content: raw, status: "done", sources: [], citations: []}];
  localStorage.setItem(key, JSON.stringify(c));
}"""


def test_the_chat_ui_links_no_disguised_address(census_index, app_settings, browser):
    """The real page on Chromium, asked the census question. With the default settings the
    service removes the six and the page has no outside link. With ANSWER_LINK_HOSTS listing
    evil.example as well (an operator's own site), the service keeps `https:evil.example/login`,
    `https:/…`, `https:\\\\…` and `_https://…`, and the page still makes none of them a link: only
    the address written out in full, https://census.example/2023. The page's own rule is then
    checked on every disguise at once, through a stored conversation that holds them raw."""
    from service.app import create_app
    from tests.e2e.browser.helpers import Chat

    for hosts, expected in (([], []), (["evil.example", *ALLOWED], ["https://census.example/2023"])):
        with LiveServer(create_app(app_settings(census_index, answer_link_hosts=hosts))) as server:
            context = browser.new_context()
            try:
                page = context.new_page()
                page.set_default_timeout(60_000)
                page.goto(server.url + "/")
                msg = Chat(page).ask(QUESTION)
                links = page.evaluate(LINKS)
                assert links == expected, (hosts, links)
                assert msg.locator(".answer-text a").count() == len(expected)
                text = msg.locator(".answer-text").inner_text()
                assert "48,200 residents" in text and "verify the census" in text, text
                assert ("https:/evil.example" in text) is bool(hosts), text  # shown, as text only
                page.reload()  # rendered again from the stored conversation
                page.locator(".msg.assistant .answer-text").wait_for()
                assert page.evaluate(LINKS) == expected, hosts

                page.evaluate(STORE, RAW)
                page.reload()
                page.get_by_text("The census counted 48,200 residents").wait_for()
                links = page.evaluate(LINKS)
                assert links == ["https://census.example/2023"], links
            finally:
                context.close()


# --- B8: the OpenAI facade and a bad content part ------------------------------------------------
@pytest.fixture(scope="module")
def facade(app_settings):
    with open_client(app_settings(), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    "text,detail",
    [
        (5, "messages.0.content.0.text: Input should be a valid string"),
        (None, 'messages.0.content.0.text: a part of type "text" needs "text": a string'),
        (["When was Alibaba Cloud started?"], "messages.0.content.0.text: Input should be a valid string"),
    ],
    ids=["number", "null", "list"],
)
def test_a_bad_openai_content_part_is_a_422_naming_it(facade, text, detail, stream):
    """The part is named by its place; a good text part beside an ignored image part is answered."""
    parts = [{"type": "image_url", "image_url": {"url": "https://census.example/i.png"}},
             {"type": "text", "text": "When was Alibaba Cloud started?"}]
    ok = facade.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": parts}]})
    assert ok.status_code == 200, ok.text
    assert "2009" in ok.json()["choices"][0]["message"]["content"]

    bad = {"messages": [{"role": "user", "content": [{"type": "text", "text": text}]}], "stream": stream}
    r = facade.post("/v1/chat/completions", json=bad)
    assert r.status_code == 422, r.text
    assert r.json() == {"detail": detail}
