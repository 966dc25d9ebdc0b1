"""A time limit on every call to a Chroma server.

chromadb's HttpClient has no request timeout: it builds its httpx session with `timeout=None`,
and none of its settings reaches that session (chromadb 1.5). A server that accepts connections
but never answers (hung, stopped with SIGSTOP, a stuck proxy) would block the calling thread for
ever. `bounded` wraps the client so that each method call, on the client and on every collection
it hands out, runs on a helper thread the caller waits for at most `seconds`. Then the caller gets
`ChromaTimeout`, an httpx timeout, so the service answers 503 as for any other lost connection.
The abandoned call ends on its own thread when the server answers or drops the connection; at
most `SLOTS` such threads exist at once, so a hung server cannot pile them up.
"""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import Future, wait
from typing import Any

import httpx
from chromadb.api.models.Collection import Collection

# Calls to one server in flight at once. A chat makes two at a time and the service runs at most
# its thread pool's 40 requests; calls beyond this wait for a slot (within their own deadline).
SLOTS = 64


class ChromaTimeout(httpx.TimeoutException):
    """A call to the Chroma server did not finish within CHROMA_REQUEST_TIMEOUT."""


class Deadline:
    """Runs calls on daemon helper threads and gives up waiting for one after `seconds`."""

    def __init__(self, seconds: float, where: str, slots: int = SLOTS):
        self.seconds, self.where = seconds, where
        self._slots = threading.BoundedSemaphore(slots)

    def call(self, fn, /, *args, **kwargs):
        start = time.monotonic()
        name = getattr(fn, "__name__", "call")
        if not self._slots.acquire(timeout=self.seconds):
            raise self._expired(name)
        done: Future = Future()

        def run() -> None:
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                done.set_exception(exc)
            finally:
                self._slots.release()

        # A daemon thread: one stuck on a hung server must not keep the process from exiting.
        threading.Thread(target=run, name=f"chroma-{name}", daemon=True).start()
        wait([done], timeout=max(0.0, self.seconds - (time.monotonic() - start)))
        if not done.done():
            raise self._expired(name)
        return done.result()

    def _expired(self, name: str) -> ChromaTimeout:
        return ChromaTimeout(
            f"the {self.where} did not answer {name}() within {self.seconds:g} s "
            "(CHROMA_REQUEST_TIMEOUT)"
        )


class Bounded:
    """A Chroma client or collection whose every method call runs under a `Deadline`."""

    def __init__(self, target: Any, deadline: Deadline):
        self._target, self._deadline = target, deadline

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args, **kwargs):
            return self._wrap(self._deadline.call(attr, *args, **kwargs))

        return call

    def _wrap(self, value: Any) -> Any:
        """Collections the call handed out are bounded too (list_collections gives a list)."""
        if isinstance(value, Collection):
            return Bounded(value, self._deadline)
        if isinstance(value, list) and any(isinstance(v, Collection) for v in value):
            return [self._wrap(v) for v in value]
        return value

    def __repr__(self) -> str:
        return f"Bounded({self._target!r}, {self._deadline.seconds:g} s)"


def bounded(seconds: float, where: str, connect, /, *args, **kwargs) -> Any:
    """`connect(*args, **kwargs)` (which already talks to the server) and the client it returns,
    bounded by one `Deadline`."""
    deadline = Deadline(seconds, where)
    return Bounded(deadline.call(connect, *args, **kwargs), deadline)
