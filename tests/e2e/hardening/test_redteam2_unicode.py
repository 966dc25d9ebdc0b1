"""Second red-team, Unicode (issue 19, items 1 and 2): a body of combining marks that froze the
service (quadratic NFC on the event loop, before the caps), and a lone surrogate that failed the
chats of everyone whose question was encoded in the same batch. The real `rag-serve` process on a
loopback port (so a blocked event loop is really blocked), over a copy of the sample index.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.hardening.test_faults import copy_index
from tests.fixtures.apps import ask
from tests.fixtures.servers import ServiceProcess
from tests.fixtures.sse import sse

QUESTION = "When was Alibaba Cloud started?"
PATHS = ["/v1/chat", "/v1/chat/completions"]
MAX_CONVERSATION_CHARS = 60_000  # raised, as a self-hosting user may: the text within it is Zalgo too
SETTINGS = {"chat_rate_limit": 0, "max_concurrent_chats": 64, "max_conversation_chars": MAX_CONVERSATION_CHARS}
ZALGO = "\u0301\u0316"  # COMBINING ACUTE ACCENT (class 230), COMBINING GRAVE ACCENT BELOW (220)
FAST = 3.0  # seconds: a 4xx for a body the size limit lets in (linear work: milliseconds)
HEALTH_FAST = 1.0  # seconds: a /health probe while the attack runs (normally a few ms)


@pytest.fixture(scope="module")
def service(llm_index, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unicode")
    service = ServiceProcess(tmp, chroma_path=copy_index(llm_index, tmp / "chroma"),
                             transcripts_dir=llm_index / "transcripts", answer_mode="extractive", **SETTINGS).start()
    try:
        with client(service.url, "127.0.0.80") as http:  # the first answer loads what is lazy
            assert ask(http, QUESTION).status_code == 200
        yield service
    finally:
        service.stop()


def client(url: str, address: str) -> httpx.Client:
    """An HTTP client whose connections come from `address` (any 127.x.y.z is this machine)."""
    return httpx.Client(base_url=url, timeout=120, transport=httpx.HTTPTransport(local_address=address))


def post_json(http: httpx.Client, path: str, payload: dict, ascii_only: bool = True) -> httpx.Response:
    """POST `payload` as JSON text exactly as `json.dumps` writes it: `\\ud800` escapes stay lone
    surrogates (httpx's own encoder would refuse them), marks go as UTF-8 when not `ascii_only`."""
    body = json.dumps(payload, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    return http.post(path, content=body, headers={"content-type": "application/json"})


def attack_while_probing(url: str, path: str, payload: dict, rounds: int = 8):
    """Send `payload` `rounds` times (stopping after a slow one) while another client probes
    /health every 50 ms. Returns ([(status, seconds)] of the attacks, [seconds] of the probes)."""
    probes: list[float] = []
    stop = threading.Event()

    def probe():
        with client(url, "127.0.0.81") as http:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    http.get("/health", timeout=60).raise_for_status()
                except httpx.TimeoutException:
                    pass
                probes.append(time.monotonic() - started)
                time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    attacks = []
    try:
        time.sleep(0.3)
        with client(url, "127.0.0.82") as http:
            for _ in range(rounds):
                started = time.monotonic()
                r = post_json(http, path, payload, ascii_only=False)
                attacks.append((r.status_code, time.monotonic() - started))
                if attacks[-1][1] > FAST:
                    break
    finally:
        stop.set()
        prober.join(120)
    return attacks, probes


# --- item 1: combining marks -----------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "where,status,fragment",
    [("question", 422, "messages[-1].content: the question is 100,000 characters long"),
     ("history", 413, "messages: the conversation is 100,")],
    ids=["question", "history"],
)
def test_a_body_of_combining_marks_is_refused_fast_and_health_stays_fast(service, path, where, status, fragment):
    """50,000 U+0301 U+0316 pairs (200 KB as UTF-8; the red-team sent 100,000: 37 s, /health
    blocked as long): refused by the caps in milliseconds, with /health answering throughout."""
    marks = ZALGO * 50_000
    messages = [{"role": "user", "content": marks}] if where == "question" else \
        [{"role": "assistant", "content": marks}, {"role": "user", "content": QUESTION}]
    attacks, probes = attack_while_probing(service.url, path, {"messages": messages})
    assert [s for s, _ in attacks] == [status] * 8, attacks
    assert max(t for _, t in attacks) < FAST, attacks
    assert probes and max(probes) < HEALTH_FAST, f"/health took up to {max(probes):.2f} s"
    with client(service.url, "127.0.0.83") as http:
        assert fragment in post_json(http, path, {"messages": messages}, ascii_only=False).json()["detail"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", PATHS)
def test_combining_marks_within_the_caps_are_answered_in_linear_time(service, path, stream):
    """An earlier turn of 59,000 combining marks, within MAX_CONVERSATION_CHARS here, and a Zalgo
    question: runs of 40 marks on each letter of 'Cloud' and 600 after the '?' (a CGJ goes in
    after every 30th). The text is normalised after the caps, in linear time, and the question
    gets the plain question's answer."""
    question = QUESTION.replace("Cloud", "".join(c + ZALGO * 20 for c in "Cloud")) + ZALGO * 300
    messages = [{"role": "assistant", "content": ZALGO * 29_500}, {"role": "user", "content": question}]
    with client(service.url, "127.0.0.84") as http:
        started = time.monotonic()
        r = post_json(http, path, {"messages": messages, "stream": stream}, ascii_only=False)
        took = time.monotonic() - started
    assert r.status_code == 200, r.text[:300]
    assert "2009" in answer_of(r, path, stream)
    assert took < FAST, f"{took:.2f} s"


def answer_of(r: httpx.Response, path: str, stream: bool) -> str:
    if not stream:
        body = r.json()
        return body["answer"] if path == "/v1/chat" else body["choices"][0]["message"]["content"]
    events = sse(r.text.splitlines())
    if path == "/v1/chat":
        return json.loads(next(data for name, data in events if name == "done"))["answer"]
    chunks = [json.loads(data) for _, data in events if data != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


# --- item 2: lone surrogates -----------------------------------------------------------------
def chat(*contents: str) -> list[dict]:
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": c} for i, c in enumerate(contents)]


SURROGATES = {
    "lone-question": ({"messages": chat("\ud800")}, "messages.0.content"),
    "low-in-question": ({"messages": chat("When was Alibaba \udfff Cloud started?")}, "messages.0.content"),
    "earlier-turn": ({"messages": chat("Who is Xuan Jin?", "He said \udc00 this.", QUESTION)}, "messages.1.content"),
    "speaker-filter": ({"messages": chat(QUESTION), "filters": {"speakers": ["Xuan \ud83d"]}}, "filters.speakers.0"),
}
OPENAI_SURROGATES = {
    "content-part": ({"messages": [{"role": "user", "content": [{"type": "text", "text": "\ud800?"}]}]},
                     "messages.0.content.0.text"),
    "model-name": ({"model": "gpt-\ud800", "messages": chat(QUESTION)}, "model"),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "path,case", [(p, c) for p in PATHS for c in SURROGATES] + [(PATHS[1], c) for c in OPENAI_SURROGATES])
def test_a_lone_surrogate_is_a_422_naming_the_field(service, path, case, stream):
    payload, field = (SURROGATES | OPENAI_SURROGATES)[case]
    with client(service.url, "127.0.0.86") as http:
        r = post_json(http, path, {**payload, "stream": stream})
    assert r.status_code == 422, r.text[:300]
    detail = r.json()["detail"]
    assert f"{field}" in detail and "a lone surrogate, which is not Unicode text" in detail, detail


def test_surrogate_chats_never_fail_anyone_elses_chat(service):
    """12 clients ask 10 questions each while 4 others send lone surrogates without pause (the
    red-team: 30 clients, 468 of 1,200 chats were a 500). Every legitimate chat is a 200 with its
    answer; every surrogate chat a 422."""
    stop = threading.Event()
    bad_payloads = [{"messages": chat("\ud800")}, {"messages": chat(f"{QUESTION} \udbff")}]

    def legit(n: int) -> list[tuple[int, bool]]:
        with client(service.url, f"127.0.1.{n + 1}") as http:
            out = []
            for _ in range(10):
                r = ask(http, QUESTION)
                out.append((r.status_code, r.status_code == 200 and "2009" in r.json()["answer"]))
            return out

    def bad(n: int) -> list[int]:
        statuses = []
        with client(service.url, f"127.0.2.{n + 1}") as http:
            while not stop.is_set():
                statuses.append(post_json(http, "/v1/chat", bad_payloads[n % 2]).status_code)
        return statuses

    with ThreadPoolExecutor(16) as pool:
        attackers = [pool.submit(bad, n) for n in range(4)]
        try:
            results = [r for f in [pool.submit(legit, n) for n in range(12)] for r in f.result(600)]
        finally:
            stop.set()
        bad_statuses = [s for f in attackers for s in f.result(120)]
    assert len(results) == 120
    failed = [s for s, ok in results if not ok]
    assert not failed, f"{len(failed)} of 120 legitimate chats failed: {sorted(set(failed))}"
    assert bad_statuses and set(bad_statuses) == {422}
