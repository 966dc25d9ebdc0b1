"""Values derived from one index snapshot (service/rag/retrieve.py `Snapshot`), built once and kept
as long as that snapshot is the one asked about.

A snapshot is one index generation and version as read from Chroma; a re-ingest or a rebuild
replaces it with a new object. So the snapshot object itself is the cache key: a value is reused
while the same snapshot comes back, rebuilt for a new one, and the cache holds the snapshot only
weakly (an old generation's vectors are not kept alive by a listing of it).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerSnapshot(Generic[T]):
    """`get(snapshot)`: `build(snapshot)`, computed once for the latest snapshot asked about."""

    def __init__(self, build: Callable[[object], T]):
        self._build = build
        self._lock = threading.Lock()
        self._ref: weakref.ref | None = None
        self._value: T | None = None

    def get(self, snapshot) -> T:
        with self._lock:
            if self._ref is not None and self._ref() is snapshot:
                return self._value
        # outside the lock: two first callers may both build (the same value) rather than wait
        value = self._build(snapshot)
        with self._lock:
            self._ref, self._value = weakref.ref(snapshot), value
        return value
