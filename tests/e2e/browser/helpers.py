"""Shared pieces of the browser tests: paths, the hostile transcript, the live server, chat helpers,
what the page keeps in localStorage, axe-core, screenshots."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx

from tests.fixtures.servers import ServiceProcess

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "transcripts" / "alibaba-cloud-xuan-jin.txt"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# The real committee hearings (../shared/corpora/qmsum-committee/): a slice of them is ingested for the
# tests that run on both corpora (the whole folder takes minutes).
CORPUS = ROOT.parent / "shared" / "corpora" / "qmsum-committee"
HEARINGS = ("education_17", "education_19")
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
CHAT_PREFIX = "transcript-chat.chat."  # + conversation id: one saved conversation (store.js)

XSS_IMG = "<img src=x onerror=window.__xss=1>"
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_LINK = "[old recipes](javascript:window.__xss=1)"
HOSTILE_TITLE = "Pastry <b>engineering</b> at Hostile Bakery"
HOSTILE = f"""{HOSTILE_TITLE}

The Leadership Network sat down with Mallory Payload, Head Baker at Hostile Bakery, to discuss sourdough starters, croissants and recipes.

Mallory Payload, Head Baker at Hostile Bakery

How do you keep your sourdough starter alive?

I feed the sourdough starter twice a day with rye flour and water {XSS_IMG} and keep it at room temperature. A healthy sourdough starter doubles within six hours of feeding.

What is the secret ingredient in your croissants?

The secret ingredient in our croissants is cultured butter {XSS_SCRIPT} folded in twenty-seven layers. We laminate the croissant dough three times and rest it overnight in the fridge.

Where do you publish your bakery recipes?

We publish every bakery recipe for free on our own website. The old bakery recipe archive {XSS_LINK} was retired in 2020.
"""

def ui_service(chroma: Path, transcripts: Path, log_dir: Path) -> ServiceProcess:
    """`rag-serve` on the test index with the built-in answerer, not yet started (`.start()`)."""
    return ServiceProcess(log_dir, chroma_path=chroma, transcripts_dir=transcripts, answer_mode="extractive")


# Injected before the page's own scripts (Playwright's init scripts are not subject to the CSP).
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
window.__answerSnapshots = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll(".msg.assistant")) {
    const text = el.querySelector(".answer-text");
    window.__answerSnapshots.push({turn: el.dataset.turn, status: el.dataset.status,
                                   length: text ? text.textContent.length : 0});
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


class Chat:
    """What a person does with the chat page, as helper calls."""

    def __init__(self, page):
        self.page = page
        self.input = page.get_by_label("Your question")

    def assistants(self):
        return self.page.locator(".msg.assistant")

    def ask(self, question: str, *, expect_answer: bool = True, timeout: float = 60_000):
        """Type the question, press Enter and wait for the answer to be complete; returns its locator."""
        before = self.assistants().count()
        self.input.fill(question)
        self.input.press("Enter")
        if not expect_answer:
            return None
        self.page.wait_for_function(
            "n => document.querySelectorAll('.msg.assistant[data-status=done]').length > n",
            arg=before, timeout=timeout)
        return self.assistants().nth(before)


SPEAKER_LINE = re.compile(r"^([^\s:“”\"][^:\n“”\"]{0,79}):\s+(“.*)$")  # as static/richtext.js
QUOTES_LINE = re.compile(r"^“.*”")


def rendered(answer: str) -> str:
    """What the answer's text looks like on the page (compare with the element's inner text):
    [n] markers become buttons labelled n, the `&lt;` of escaped raw HTML is shown as `<`, and two
    or more lines of speakers' quotes are a list by speaker (the name above its quotes, no colon)."""
    blocks = []
    for block in answer.split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if (len(lines) > 1 and any(SPEAKER_LINE.match(line) for line in lines)
                and all(SPEAKER_LINE.match(line) or QUOTES_LINE.match(line) for line in lines)):
            lines = [SPEAKER_LINE.sub(r"\1 \2", line) for line in lines]
        blocks.append("\n".join(lines))
    return re.sub(r"\[(\d+)\]", r"\1", "\n\n".join(blocks)).replace("&lt;", "<")


def ask_and_capture(chat: Chat, question: str):
    """Ask through the page; returns (message locator, the service's response body, the response).

    The body is fetched again as plain JSON with the request the page sent (the built-in answerer
    is deterministic): a streamed response's body cannot be read back from the browser.
    """
    with chat.page.expect_response(lambda r: r.url.endswith("/v1/chat") and r.request.method == "POST") as info:
        msg = chat.ask(question)
    response = info.value
    sent = response.request.post_data_json
    replay = httpx.post(response.url, json={**sent, "stream": False}, timeout=60)
    replay.raise_for_status()
    return msg, replay.json(), response


class Page(Chat):
    """The rest of the page: panels, the reader, the scope chips."""

    @property
    def reader(self):
        return self.page.locator("#reader")

    def wait_reader(self, state: str = "transcript"):
        """Wait until the reader shows the whole transcript (`state`: what #reader-body says it shows)."""
        self.page.wait_for_selector(f"#reader-body[data-state={state}]")
        return self.reader

    def open_library(self):
        toggle = self.page.locator("#library-toggle")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        self.page.wait_for_selector("#transcript-list .transcript")
        return self.page.locator("#library")

    def open_chats(self):
        toggle = self.page.locator("#chats-toggle")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        return self.page.locator("#chats")

    def transcript_item(self, transcript_id: str):
        return self.page.locator(f'#transcript-list .transcript[data-id="{transcript_id}"]')


def stored_chats(page) -> list[dict]:
    """Every conversation the page saved in localStorage, newest first."""
    raw = page.evaluate(f"""() => Object.keys(localStorage).filter(k => k.startsWith('{CHAT_PREFIX}'))
        .map(k => localStorage.getItem(k))""")
    return sorted((json.loads(r) for r in raw), key=lambda c: -c["updated"])


def current_chat(page) -> dict | None:
    """The conversation this tab shows, as saved (None before its first question)."""
    tab = page.evaluate("() => sessionStorage.getItem('transcript-chat.tab')")
    chat_id = json.loads(tab)["chat"] if tab else None
    raw = page.evaluate(f"id => localStorage.getItem('{CHAT_PREFIX}' + id)", chat_id) if chat_id else None
    return json.loads(raw) if raw else None


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is ({id, impact, help, targets}). The checker is
    evaluated into the page by the test driver, so the page's own CSP stays in force."""
    if not AXE.exists():
        raise AssertionError(f"axe-core is not installed at {AXE}: run `make browser` (npm ci)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")


def shot(page, name: str) -> Path:
    """A screenshot of the page as it is, test-artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path)
    return path
