"""Red-team findings on the ingest API (issue 10: B6, B7, B9, W1, W3, W4, W7, W8): a page on
another site uploading through a no-cors form post, uploads that were not all-or-nothing, rebuilds
failing on duplicate transcripts, bodies read before the key check, silent replacements, uploads
racing a rebuild, unlimited key guessing, server paths in replies.

Real parts: the app through its lifespan (in-process, or under uvicorn on 127.0.0.1), Chroma under
tmp_path, the real embedding model, Chromium for the cross-site page.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from tests.fixtures.servers import serving, wait_until

KEY = "redteam-ingest-key-0123456789"
LOCAL = ("127.0.0.1", 50000)  # TestClient's peer address: a loopback client


def interview(who: str, animal: str) -> bytes:
    """A small plain-text interview (one question, one answer)."""
    return (f"{animal.title()} care at the zoo\n\nThe Host spoke with {who}, Head Keeper at the City Zoo, "
            f"about {animal}s.\n\nWhat do you feed the {animal}s?\n\nWe feed the {animal}s fresh hay every "
            f"morning. Each {animal} eats about nine kilos a day.\n").encode()


ZEBRA_MD = b"""# Zebra care at the zoo

The Host spoke with Zed Stripes, Head Keeper at the City Zoo, about zebras.

## What do you feed the zebras?

We feed the zebras fresh grass every evening. Each zebra eats about seven kilos a day.
"""
ZEBRA_VTT = b"""WEBVTT

00:00:01.000 --> 00:00:04.000
<v Host>Welcome! Today we speak with Zed Stripes, the Head Keeper at the City Zoo, about zebras.

00:00:04.500 --> 00:00:06.000
<v Host>What do you feed the zebras?

00:00:06.500 --> 00:00:09.000
<v Zed Stripes>We feed the zebras fresh grass every evening.
"""


@pytest.fixture
def make_app(app_settings, transcripts):
    """An app over a copy of the sample index whose transcripts folder is this test's own."""

    def make(**overrides):
        return create_app(app_settings(transcripts_dir=transcripts, rebuild_grace_seconds=0, **overrides))

    return make


def listing(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart body written by hand: file names go out byte for byte (httpx would escape a NUL)."""
    boundary = b"redteam-boundary-7f3a"
    body = b"".join(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="'
                    + name.encode() + b'"\r\nContent-Type: text/plain\r\n\r\n' + data + b"\r\n"
                    for name, data in files)
    return body + b"--" + boundary + b"--\r\n", {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}


def client_from(url: str, address: str) -> httpx.Client:
    """An HTTP client whose requests come from `address` (any 127.x.y.z is this machine)."""
    return httpx.Client(base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address=address))


# --- B6: a page on another site uploads with a no-cors form post --------------------------------
ATTACK_PAGE = """<!doctype html><title>Cute cats</title><script>
const form = new FormData();
form.append("files", new File([%(text)r], "phish.txt", {type: "text/plain"}));
window.sent = fetch("%(target)s/v1/transcripts", {method: "POST", mode: "no-cors", body: form})
  .then(() => "sent", (error) => "failed: " + error);
</script>"""

OWN_ORIGIN_UPLOAD = """async (text) => {
  const form = new FormData();
  form.append("files", new File([text], "own-page.txt", {type: "text/plain"}));
  const r = await fetch("/v1/transcripts", {method: "POST", body: form});
  return [r.status, await r.json()];
}"""


@contextmanager
def page_server(host: str, html: str):
    """A second web site: one page, served by http.server on `host` (another loopback origin)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def recording(app, path: str):
    """The app as it is, plus a record of each request to `path`: its headers, status and reply."""
    exchanges: list[dict] = []

    async def recorded(scope, receive, send):
        if scope["type"] != "http" or scope["path"] != path:
            return await app(scope, receive, send)
        seen = {"headers": {k.decode(): v.decode() for k, v in scope["headers"]}, "body": b""}
        exchanges.append(seen)

        async def capture(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                seen["body"] += message.get("body", b"")
            await send(message)

        await app(scope, receive, capture)

    return recorded, exchanges


@pytest.mark.parametrize("page_host,fetch_site", [("127.0.0.2", "cross-site"), ("127.0.0.1", "same-site")])
def test_a_page_on_another_site_cannot_upload_without_a_key(browser, make_app, transcripts, page_host, fetch_site):
    """No API_KEY (loopback trusted). Chromium opens a page on another origin (another address, or
    another port of this one) whose script posts a transcript with fetch(…, {mode: "no-cors"})."""
    before = listing(transcripts)
    phishing = interview("Mallory Phish", "llama").decode() + "Log in at https://evil.example/login.\n"
    app, exchanges = recording(make_app(), "/v1/transcripts")
    with serving(app) as url:
        html = ATTACK_PAGE % {"text": phishing, "target": url}
        context = browser.new_context()
        try:
            page = context.new_page()
            with page_server(page_host, html) as page_url:
                with page.expect_response(f"{url}/v1/transcripts") as caught:
                    page.goto(page_url)
                assert page.evaluate("window.sent") == "sent"
            assert caught.value.status == 403
            [seen] = exchanges  # what Chromium sent, and the reply it got (opaque to the page)
            assert (seen["headers"]["origin"], seen["headers"]["sec-fetch-site"]) == (page_url.rstrip("/"), fetch_site)
            assert json.loads(seen["body"])["detail"] == (
                f"ingest requests sent by a page on another site are refused (Origin: {page_url.rstrip('/')}, "
                f"Sec-Fetch-Site: {fetch_site}): upload through this service's own address, from a script or "
                "curl, or list the page's origin in CORS_ORIGINS")
            assert listing(transcripts) == before, "the cross-site upload was stored"
            later = httpx.post(f"{url}/v1/ingest", timeout=120)  # a script on this machine: allowed
            assert later.status_code == 200
            assert (later.json()["transcripts"], later.json()["added"]) == (1, 0), "the upload was indexed"
            # The service's own page (same origin, a loopback address) still may upload.
            page.goto(f"{url}/")
            status, body = page.evaluate(OWN_ORIGIN_UPLOAD, interview("Olive Own", "okapi").decode())
            assert status == 200, body
            assert body["files"] == [{"file": "own-page.txt", "status": "stored"}]
        finally:
            context.close()


def test_ingest_origin_rules(make_app):
    """The same rules for what browsers send, case by case (no key set; one origin listed in CORS_ORIGINS)."""
    own = {"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    cases = [
        ({}, 200, None),  # curl, scripts, rag-ingest: no Origin, no Sec-Fetch-Site
        (own, 200, None),  # the service's own page on a loopback address
        ({**own, "Host": "localhost:8000", "Origin": "http://localhost:8000"}, 200, None),
        ({"Origin": "http://evil.example"}, 403, "another site"),
        ({"Sec-Fetch-Site": "cross-site"}, 403, "another site"),
        ({"Origin": "null", "Sec-Fetch-Site": "cross-site"}, 403, "another site"),  # sandboxed frame, file://
        ({**own, "Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}, 403, "another site"),
        ({**own, "Origin": "https://anything.example"}, 403, "another site"),  # "*" does not open ingest
        # DNS rebinding: a page on rebind.example, its name now pointing at 127.0.0.1, is "same-origin"
        ({"Host": "rebind.example:8000", "Origin": "http://rebind.example:8000", "Sec-Fetch-Site": "same-origin"},
         403, "loopback address"),
        ({"Origin": "https://admin.example.org", "Sec-Fetch-Site": "cross-site"}, 200, None),  # listed by name
    ]
    with TestClient(make_app(cors_origins=["https://admin.example.org", "*"]), client=LOCAL) as api:
        for headers, status, fragment in cases:
            r = api.post("/v1/ingest", headers=headers)
            assert r.status_code == status, (headers, r.text)
            if fragment:
                assert fragment in r.json()["detail"], (headers, r.text)


# --- W1: the key is checked before the body is read ----------------------------------------------
@pytest.mark.parametrize("key_header,fragment", [(b"", b"missing API key"), (b"X-API-Key: wrong-key-1234\r\n",
                                                                             b"wrong API key")])
def test_an_upload_without_the_key_is_refused_before_its_body_is_read(make_app, transcripts, key_header,
                                                                       fragment):
    """Declare a 19 MB multipart body (under MAX_UPLOAD_REQUEST_BYTES), send 64 KB: the 401 comes back at once."""
    size = 19_000_000
    with serving(make_app(api_key=SecretStr(KEY))) as url:
        port = int(url.rsplit(":", 1)[1])
        head = (b"POST /v1/transcripts HTTP/1.1\r\nHost: 127.0.0.1\r\n" + key_header +
                b"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: " + str(size).encode() +
                b"\r\n\r\n--xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n\r\n")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + b"x" * (65_536 - len(head)))
            started, reply = time.monotonic(), b""
            try:
                while b"}" not in reply:
                    data = sock.recv(65_536)
                    if not data:
                        break
                    reply += data
            except TimeoutError:
                pytest.fail("no answer within 10 s: the server waits for the whole body before the key check")
    assert reply.startswith(b"HTTP/1.1 401"), reply[:300]
    assert fragment in reply
    assert time.monotonic() - started < 5
    assert listing(transcripts) == ["alibaba-cloud-xuan-jin.txt"]


# --- B7: all or nothing ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad_name,status,fragment",
    [
        ("bad\x00name.txt", 422, "files[1] 'bad\\x00name.txt': the file name contains the control character U+0000"),
        ("a" * 296 + ".txt", 422, "the file name is 300 bytes long (UTF-8); the limit is 255"),
        ("in-the-way.txt", 500, "'in-the-way.txt' could not be stored in the transcripts folder (Is a directory)"),
    ],
)
def test_an_upload_with_one_bad_file_stores_nothing(make_app, transcripts, bad_name, status, fragment):
    """`partial1.txt` is fine; the second file's name is bad, or a folder of that name is in the way
    (the move into place fails after partial1.txt was moved: it is undone)."""
    (transcripts / "in-the-way.txt").mkdir()
    before = listing(transcripts)
    body, headers = multipart([("partial1.txt", interview("Pat Partial", "tapir")),
                               (bad_name, interview("Bea Bad", "bison"))])
    with TestClient(make_app(), client=LOCAL) as api:
        r = api.post("/v1/transcripts", content=body, headers=headers)
        assert r.status_code == status, r.text
        assert fragment in r.json()["detail"] and "othing was stored" in r.json()["detail"]
        assert listing(transcripts) == before
        later = api.post("/v1/ingest")
        assert later.status_code == 200
        assert (later.json()["transcripts"], later.json()["added"]) == (1, 0), "partial1.txt was indexed"


# --- B9: rebuilds with duplicate transcripts ----------------------------------------------------------
def test_a_rebuild_with_many_copies_of_one_transcript_succeeds(app_settings, tmp_path):
    """The same file uploaded under 15 names, then rebuilt 12 times: their chunks tie at the best
    distance, and the probe query returns only 10 of them."""
    folder = tmp_path / "copies"
    folder.mkdir()
    settings = app_settings(transcripts_dir=folder, rebuild_grace_seconds=0)
    with TestClient(create_app(settings), client=LOCAL) as api:
        copies = [("files", (f"copy-{i:02d}.txt", interview("Dee Dupe", "dromedary"), "text/plain"))
                  for i in range(15)]
        r = api.post("/v1/transcripts", files=copies)
        assert r.status_code == 200 and r.json()["transcripts"] == 15, r.text
        replies = [api.post("/v1/ingest", params={"rebuild": "true"}) for _ in range(12)]
        # 15 copies of an intro (turn 0) and one answer
        assert [(x.status_code, x.json().get("added")) for x in replies] == [(200, 30)] * 12, \
            [x.json() for x in replies if x.status_code != 200]


def test_a_failed_rebuild_is_named(app_settings, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with TestClient(create_app(app_settings(transcripts_dir=empty, rebuild_grace_seconds=0)), client=LOCAL) as api:
        r = api.post("/v1/ingest", params={"rebuild": "true"})
        assert r.status_code == 500
        assert r.json()["detail"] == (
            "the rebuild failed its check: there are no transcripts to rebuild from (none found, or every "
            "file was skipped); the live index was left as it was")
        assert api.get("/health").json()["transcripts"] == 1  # still answering from the old generation


# --- W3: say what happened to every file; never replace another file silently -----------------------
def test_an_upload_never_replaces_another_file_silently(make_app, transcripts):
    with TestClient(make_app(), client=LOCAL) as api:
        def upload(name: str, data: bytes, **params):
            return api.post("/v1/transcripts", files={"files": (name, data, "text/plain")}, params=params)

        first = upload("zebra.txt", interview("Zed Stripes", "zebra"))
        assert first.status_code == 200
        for other, data in (("zebra.md", ZEBRA_MD), ("zebra.vtt", ZEBRA_VTT)):
            r = upload(other, data)
            assert r.status_code == 409, r.text
            assert r.json()["detail"] == (
                f"'{other}' would replace 'zebra.txt', which is already in the folder: both are the transcript "
                "'zebra' (ids come from the file name without its extension). Nothing was stored. Rename the "
                "file, or upload it with ?replace=true to replace 'zebra.txt'.")
            assert listing(transcripts) == ["alibaba-cloud-xuan-jin.txt", "zebra.txt"]
        assert first.json()["files"] == [{"file": "zebra.txt", "status": "stored"}]
        newer = interview("Zed Stripes", "zebra") + b"\nDo zebras bite?\n\nRarely. They kick.\n"
        r = upload("zebra.txt", newer)  # the same name again: 409 too (issue 19, item 15)
        assert r.status_code == 409, r.text
        assert r.json()["detail"] == ("'zebra.txt' is already in the folder. Nothing was stored. Rename the "
                                      "file, or upload it with ?replace=true to replace 'zebra.txt'.")
        assert (transcripts / "zebra.txt").read_bytes() == interview("Zed Stripes", "zebra")
        r = upload("zebra.txt", newer, replace="true")
        assert r.status_code == 200 and r.json()["added"] == 1
        assert r.json()["files"] == [{"file": "zebra.txt", "status": "replaced", "replaces": ["zebra.txt"]}]
        r = upload("zebra.md", ZEBRA_MD, replace="true")
        assert r.status_code == 200, r.text
        assert r.json()["files"] == [{"file": "zebra.md", "status": "replaced", "replaces": ["zebra.txt"]}]
        assert listing(transcripts) == ["alibaba-cloud-xuan-jin.txt", "zebra.md"]
        assert (r.json()["transcripts"], r.json()["skipped"]) == (2, [])
        answer = api.post("/v1/chat", json={"messages": [{"role": "user", "content": "What do the zebras eat?"}]})
        assert "fresh grass every evening" in answer.json()["answer"]
        r = api.post("/v1/transcripts", files=[("files", ("okapi.txt", interview("Olga", "okapi"), "text/plain")),
                                               ("files", ("okapi.md", ZEBRA_MD, "text/markdown"))])
        assert r.status_code == 422 and "would both be the transcript 'okapi'" in r.json()["detail"]


# --- W4: an upload refused because an ingest is running stores nothing -------------------------------
def test_an_upload_racing_a_rebuild_stores_nothing_when_refused(make_app, transcripts, monkeypatch):
    """The timing hook: a spy on the upload's store step asks for a rebuild at that moment and waits
    until the rebuild runs or is refused; everything else is real (uvicorn, httpx, Chroma)."""
    import service.api.routes.ingest as routes

    app = make_app()
    real_store = routes.store_uploads
    rebuild: dict[str, httpx.Response] = {}
    with serving(app) as url:
        racer = threading.Thread(target=lambda: rebuild.setdefault(
            "reply", httpx.post(f"{url}/v1/ingest", params={"rebuild": "true"}, timeout=300)))

        def store_while_a_rebuild_starts(*args, **kw):
            racer.start()
            manager = app.state.ingest
            wait_until(lambda: "reply" in rebuild or (manager.current and manager.current.kind == "rebuild"),
                       30, "the rebuild to start or be refused")
            return real_store(*args, **kw)

        monkeypatch.setattr(routes, "store_uploads", store_while_a_rebuild_starts)
        r = httpx.post(f"{url}/v1/transcripts", files={"files": ("tapir.txt", interview("Tia", "tapir"))},
                       timeout=300)
        racer.join(300)
        stored = (transcripts / "tapir.txt").exists()
        assert not (r.status_code == 409 and stored), "the upload was refused (409) but its file was stored"
        assert r.status_code == 200 and stored, r.text
        # its intro (turn 0) and its one answer
        assert r.json()["files"] == [{"file": "tapir.txt", "status": "stored"}] and r.json()["added"] == 2
        assert rebuild["reply"].status_code == 409
        assert "another ingest is running" in rebuild["reply"].json()["detail"]
        assert ", upload, requested by 127.0.0.1" in rebuild["reply"].json()["detail"]


# --- W7: wrong keys are limited per client by default -------------------------------------------------
def test_wrong_keys_are_limited_per_client_by_default(make_app):
    """Defaults: KEY_FAILURE_BURST 10, then KEY_FAILURE_LIMIT 6 a minute (a wait of 10 s). Issue 19,
    item 13: the right key is never refused for wrong keys sent from its address (behind a reverse
    proxy every client shares one); it was 429 for the whole wait, again after each round of guesses."""
    burst = 10
    app = make_app(api_key=SecretStr(KEY))
    right = {"X-API-Key": KEY}
    with serving(app) as url, client_from(url, "127.0.0.31") as guesser, client_from(url, "127.0.0.32") as other:
        # a correct key never counts as a failure (404: no such job, but the key was accepted)
        assert {guesser.get("/v1/ingest/nope", headers=right).status_code for _ in range(3 * burst)} == {404}
        for attempt in (1, 2):  # blocked, and again: the key holder on the same address is never refused
            codes = [guesser.post("/v1/ingest", headers={"X-API-Key": f"guess-{i:04d}"}).status_code
                     for i in range(burst + 20)]
            if attempt == 1:
                assert codes == [401] * burst + [429] * 20
            else:  # still blocked (a token may have come back meanwhile: 6 a minute)
                assert codes[1:] == [429] * (burst + 19) and codes[0] in (401, 429), codes
            r = guesser.post("/v1/ingest", headers={"X-API-Key": "guess-y"})
            assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 10
            assert r.json()["detail"].startswith("too many wrong API keys from this client")
            r = guesser.get("/v1/ingest/nope", headers={"X-API-Key": "guess-x"})  # the job view is the same door
            assert r.status_code == 429
            assert guesser.get("/v1/ingest/nope", headers=right).status_code == 404
            r = guesser.post("/v1/ingest", headers=right)  # the sync runs, from the blocked address
            assert r.status_code == 200 and r.json()["transcripts"] == 1, r.text
        assert other.post("/v1/ingest", headers={"X-API-Key": "guess-other"}).status_code == 401  # per client
        assert other.get("/v1/ingest/nope", headers=right).status_code == 404
    settings = app.state.settings
    assert (settings.key_failure_burst, settings.key_failure_limit) == (burst, 6.0)


# --- W8 (last bullet): no server paths in ingest replies ----------------------------------------------
def test_ingest_replies_name_skipped_files_relative_to_the_folder(make_app, transcripts, tmp_path):
    (transcripts / "notes.pdf").write_bytes(b"%PDF-1.4")
    (transcripts / "drafts").mkdir()
    (transcripts / "drafts" / "empty.txt").write_text("  \n", encoding="utf-8")
    shutil.copy(transcripts / "notes.pdf", transcripts / "drafts" / "slides.pdf")
    with TestClient(make_app(), client=LOCAL) as api:
        r = api.post("/v1/ingest")
        assert r.status_code == 200
        assert [s["file"] for s in r.json()["skipped"]] == ["drafts/slides.pdf", "notes.pdf", "drafts/empty.txt"]
        job = api.get(f"/v1/ingest/{r.json()['job']}")
        upload = api.post("/v1/transcripts", files={"files": ("yak.txt", interview("Yara", "yak"), "text/plain")})
        assert upload.status_code == 200
        assert [s["file"] for s in upload.json()["skipped"]] == ["drafts/slides.pdf", "notes.pdf", "drafts/empty.txt"]
    for text in (r.text, job.text, upload.text):
        assert str(tmp_path) not in text
