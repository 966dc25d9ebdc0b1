"""The fixtures layer: every shared fixture lives in tests/fixtures/ and is loaded here, once.

core: isolation under tmp_path, the real embedding model, the sample transcript, one Chromium;
servers: (helpers, no fixtures) in-thread uvicorn, rag-serve processes; llm: a llama.cpp server
with SmolLM2; chroma: a `chroma run` server; apps: app settings over shared indexes, a misbehaving
OpenAI-compatible server; hearing: a committee hearing beside the sample interview, and an app over both.
"""

pytest_plugins = ["tests.fixtures.core", "tests.fixtures.llm", "tests.fixtures.chroma", "tests.fixtures.apps",
                  "tests.fixtures.hearing"]


def pytest_collection_modifyitems(items):
    """Tests that drive Chromium run last. The one session browser keeps Playwright's event loop
    running in the main thread from its first use to the end of the session, and `asyncio.run`
    (the async answer path's tests) refuses to start inside a running loop."""
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))
