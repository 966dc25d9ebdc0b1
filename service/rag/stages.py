"""The time each stage of the answer path takes, told to whoever listens.

The answer path names its stages (`STAGES`) and times them, but does not know where the times go:
the app registers an observer while it runs (the lifespan wires service/ops/metrics.py's stage
histogram to it), so rag/ never imports the metrics; rag-eval and tests without an app time into
nothing. An observer registered twice (two apps in one process) is told once: there is one
histogram, and a stage that ran once was timed once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

StageObserver = Callable[[str, float], None]  # (stage, seconds)

STAGES = ("embed", "dense_search", "keyword_search", "fuse", "answer")

_lock = threading.Lock()
_registrations: dict[StageObserver, int] = {}  # observer -> how many `observing` blocks hold it
_observers: tuple[StageObserver, ...] = ()  # the distinct observers, replaced whole: read without the lock


def observe_stage(stage: str, seconds: float) -> None:
    """Tell every observer that `stage` took `seconds`."""
    for observer in _observers:
        observer(stage, seconds)


@contextmanager
def observing(observer: StageObserver) -> Iterator[None]:
    """Tell `observer` the time of every stage, in any thread, until the block ends."""
    global _observers
    with _lock:
        _registrations[observer] = _registrations.get(observer, 0) + 1
        _observers = tuple(_registrations)
    try:
        yield
    finally:
        with _lock:
            _registrations[observer] -= 1
            if not _registrations[observer]:
                del _registrations[observer]
            _observers = tuple(_registrations)


class Laps:
    """Stage timing without re-indenting the code it times: `lap("x")` records the time since
    the previous lap (or since creation) as stage x."""

    __slots__ = ("t",)

    def __init__(self) -> None:
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        observe_stage(stage, now - self.t)
        self.t = now
