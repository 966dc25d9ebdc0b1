"""Second red-team, items 9 and 10 (issue 19): the Markdown export, and framing by another site.

Item 9: the exported conversation carried the transcript's raw HTML and Markdown (`<script>`,
`<img onerror>`, `[click here](javascript:…)`, `![pixel](https://evil…)`) from quotes and
answers; only titles were escaped. Here the real page on Chromium asks the real service about a
transcript that holds them, a stored turn holds them raw (as a conversation saved before this fix,
or an answer of another client, would), Export is clicked, and the downloaded file is rendered as
CommonMark with raw HTML allowed: no element or attribute beyond Markdown's own, no javascript:
link, no image; the hostile text is still there to read, as text.

Item 10: `/static/index.html` (the chat page as a file) was served without the page's CSP, so a
page on another port framed it. Every HTML response now has the page headers and every response
`nosniff`; a page on another loopback port cannot frame the chat page at any of its addresses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.hardening.test_redteam2_output import ORCHARD, QUESTION, RENDER, rendered
from tests.fixtures.apps import build_index, open_client
from tests.fixtures.core import SAMPLE
from tests.fixtures.servers import LiveServer

RECORDS = "Where are the old harvest records kept?"
QUOTED = ("The old harvest records are kept [click here](javascript:alert(4)) and "
          "![pixel](https://evil.example/pixel.gif) in the barn archive since 1990.")
XSS = "window.__xss=1"
# A saved turn that holds what the service never sends now, each way Markdown or HTML makes a link,
# an image or markup; and a source whose every field is hostile.
OLD_ANSWER = (
    f"Saved before the fix: <script>{XSS}</script> <img src=x onerror={XSS}> [click here](javascript:{XSS}) "
    "![pixel](https://evil.example/pixel.gif) [ref][r] ![img][r] [a](<javascript:alert(1)>) "
    "[b](jav&#x61;script:alert(1)) [c](https://census.example/ok) <https://evil.example/auto> "
    "\\<b>escaped\\</b> \\\\[d](javascript:alert(1)) [1](javascript:alert(1)) <!-- c --> [1]\n\n"
    "[r]: javascript:alert(1)\n\n<div onclick=alert(1)>\n<b>block</b>\n</div>"
)
OLD_SOURCE = {"n": 1, "id": "x#t001p01", "transcript": "x", "title": "Title <b>x</b> ![t](https://evil.example/t.png)",
              "question": "Q?", "speaker": "<i>S</i>", "text": f"Passage <svg onload={XSS}> [l](javascript:alert(1))",
              "score": 1.0, "turn": 1, "start": 0, "end": 10, "timestamp": "", "media_url": "javascript:alert(1)",
              "quotes": [f"Passage <svg onload={XSS}> ![p](https://evil.example/p.png) [l](javascript:alert(1))"]}
ADD_TURNS = """([question, answer, source]) => {
  const chat = JSON.parse(sessionStorage.getItem("transcript-chat.tab")).chat;
  const key = "transcript-chat.chat." + chat;
  const c = JSON.parse(localStorage.getItem(key));
  c.turns.push({id: "q9", role: "user", content: question, status: "ok"},
               {id: "a9", role: "assistant", content: answer, status: "done", sources: [source], citations: [1]});
  localStorage.setItem(key, JSON.stringify(c));
}"""


@pytest.fixture(scope="module")
def orchard_index(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("orchard-ui")
    (root / "orchard-html.txt").write_text(ORCHARD, encoding="utf-8")
    return build_index(root / "index", embedder, [SAMPLE, root / "orchard-html.txt"])


def test_the_markdown_export_is_inert(orchard_index, app_settings, browser):
    """Two questions answered from the hostile transcript and one saved hostile turn, exported
    from the page: rendered with HTML allowed, the file makes no active element, attribute or
    link, and still reads the transcript's text as written."""
    from service.app import create_app
    from tests.e2e.browser.helpers import Chat

    with LiveServer(create_app(app_settings(orchard_index))) as server:
        context = browser.new_context(accept_downloads=True)
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(server.url + "/")
            chat = Chat(page)
            chat.ask(QUESTION)
            chat.ask(RECORDS)
            page.evaluate(ADD_TURNS, [f"Q <img src=x onerror={XSS}> [q](javascript:alert(1))", OLD_ANSWER,
                                      OLD_SOURCE])
            page.reload()
            page.get_by_text("Saved before the fix").wait_for()
            with page.expect_download() as info:
                page.get_by_role("button", name="Export this chat as Markdown").click()
            text = Path(info.value.path()).read_text(encoding="utf-8")
            assert page.evaluate("window.__xss") is None
        finally:
            context.close()

    assert text.count("## Question") == 3, text
    assert re.findall(r"<(?!https?://)[A-Za-z/!?]", text) == [], text  # no raw tag; http(s) autolinks only
    found, shown = rendered(text)
    assert found == [], (found, text)
    links = re.findall(r'<a href="([^"]*)"', RENDER.render(text))
    assert all(href.startswith("https://census.example/") for href in links), links
    shown = " ".join(shown.split())
    assert QUOTED in shown, shown  # the passage as written, as text
    assert f"<script>{XSS}</script>" in shown and f"<svg onload={XSS}>" in shown
    assert "Title <b>x</b>" in shown and "[click here](javascript:" in shown


# --- item 10: the page headers on every HTML response, and framing from another origin ----------
HTML_PATHS = ["/", "/static/index.html", "/docs"]
OTHER_PATHS = ["/static/main.js", "/static/style.css", "/static/favicon.svg", "/health", "/v1/transcripts",
               "/openapi.json", "/no-such-page", "/static/no-such-file.js"]


def test_every_html_response_has_the_page_headers(app_settings):
    """Each address of an HTML page has a CSP with `frame-ancestors 'none'` (and the rest of the
    chat page's policy), `nosniff` and no referrer; every other response has `nosniff` (a 404
    and a 422 too). Before: /static/index.html had none of them, JSON and static files no nosniff."""
    with open_client(app_settings()) as client:
        for path in HTML_PATHS:
            r = client.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
            csp = r.headers.get("content-security-policy", "")
            assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, (path, csp)
            assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, (path, csp)
            assert r.headers.get("x-content-type-options") == "nosniff", path
            assert r.headers.get("referrer-policy") == "no-referrer", path
        for path in OTHER_PATHS:
            r = client.get(path)
            assert r.headers.get("x-content-type-options") == "nosniff", (path, r.status_code)
        r = client.post("/v1/chat", json={"messages": []})
        assert r.status_code == 422 and r.headers.get("x-content-type-options") == "nosniff"


def attacker_app(target: str):
    """Another site (another loopback port) that frames the chat page at each of its addresses."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    frames = "".join(f'<iframe name="f{i}" src="{target}{path}"></iframe>' for i, path in enumerate(HTML_PATHS))

    async def page(request):
        return HTMLResponse(f"<!doctype html><title>Cute cats</title><h1>Cute cats</h1>{frames}")

    return Starlette(routes=[Route("/", page)])


def test_another_site_cannot_frame_the_chat_page(app_settings, browser):
    """Chromium loads a page on another loopback port that frames `/`, `/static/index.html` and
    `/docs`: each frame is refused (Chromium reports the `frame-ancestors` refusal), none shows
    the page. Before: /static/index.html loaded in the frame, with its chat box."""
    from service.app import create_app

    with LiveServer(create_app(app_settings())) as server, LiveServer(attacker_app(server.url)) as attacker:
        assert attacker.url != server.url
        context = browser.new_context()
        try:
            page = context.new_page()
            messages = []
            page.on("console", lambda m: messages.append(m.text))
            page.goto(attacker.url + "/", wait_until="load")
            page.wait_for_timeout(1500)  # give every frame the time to load, or to be refused
            for i, path in enumerate(HTML_PATHS):
                frame = page.frame(name=f"f{i}")
                assert frame is not None, path
                assert not frame.url.startswith(server.url), (path, frame.url)
            refused = [m for m in messages if "frame-ancestors" in m]
            assert len(refused) == len(HTML_PATHS), messages
        finally:
            context.close()
