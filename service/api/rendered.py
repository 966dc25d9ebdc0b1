"""JSON answers of read-only routes, rendered off the event loop and kept per index snapshot.

FastAPI serialises a returned model on the event loop, where a big answer stalls every other
request (/health too). The transcript routes render their JSON in their own worker thread
instead, one rendering at a time, and keep the bytes of recent answers for the index snapshot they
describe: 24 readers of one page of a transcript cost one rendering, and the others wait for it
without holding the interpreter. A new snapshot (an ingest) starts afresh; the bytes kept are
bounded (BUDGET).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from fastapi import Response
from pydantic import BaseModel

from service.rag.per_snapshot import PerSnapshot

BUDGET = 32 * 1024 * 1024  # bytes of rendered answers kept for one snapshot


class Rendered:
    """Rendered answers by key, least recently used first out past `budget` bytes."""

    def __init__(self, budget: int = BUDGET):
        self.budget = budget
        self._kept: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # guards _kept
        self._rendering = threading.Lock()  # one rendering at a time: the others wait, idle

    def _hit(self, key: Hashable) -> bytes | None:
        with self._lock:
            if (body := self._kept.get(key)) is not None:
                self._kept.move_to_end(key)
            return body

    def get(self, key: Hashable, make: Callable[[], BaseModel]) -> bytes:
        """The JSON of `make()` under `key`, rendered once (an exception from `make` is raised,
        and nothing is kept)."""
        if (body := self._hit(key)) is not None:
            return body
        with self._rendering:
            if (body := self._hit(key)) is not None:
                return body
            body = make().model_dump_json().encode()
        with self._lock:
            if len(body) <= self.budget and key not in self._kept:
                self._kept[key] = body
                self._size += len(body)
                while self._size > self.budget:
                    self._size -= len(self._kept.popitem(last=False)[1])
        return body


_RENDERED = PerSnapshot(lambda snapshot: Rendered())


def json_response(snapshot, key: Hashable, make: Callable[[], BaseModel]) -> Response:
    """A JSON response of `make()` for this snapshot, rendered in the calling (worker) thread."""
    return Response(_RENDERED.get(snapshot).get(key, make), media_type="application/json")
