"""Real servers for tests: a free loopback port and the app served by uvicorn in a thread."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from contextlib import contextmanager

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app, port: int | None = None, timeout: float = 60.0):
    """Serve `app` on 127.0.0.1 (lifespan included) until the block ends; yields the base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline or not thread.is_alive():
                raise RuntimeError(f"the app did not come up on {url}")
            time.sleep(0.2)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def stop_process(proc, grace: float = 15.0) -> None:
    """SIGTERM, wait `grace` seconds, then SIGKILL: no test leaves a server behind."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
