"""Coalesce concurrent small encode requests into one model call (micro-batching).

A query encode of one short text costs nearly as much as one of a dozen: the model call has a
fixed cost (tokenizer, thread pool, Python) that a batch shares. When several requests encode
at once, `Coalescer` runs them as one call: the first caller runs its texts right away (no
added latency for a lone request); callers arriving while a call is running queue up, and when
it ends one of them runs everything queued as the next call. Each caller gets its own rows,
and only its own error: when a batched call raises, each caller's texts are run again on their
own, so that one caller's bad input never fails another's request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np


class _Job:
    __slots__ = ("done", "error", "rows", "texts")

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.rows: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class Coalescer:
    """Call `run(texts) -> (n, dim) array` for concurrent callers, batched while a call is running."""

    def __init__(self, run: Callable[[list[str]], np.ndarray]):
        self._run = run
        self._cv = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False
        self.calls = 0  # model calls made
        self.requests = 0  # encode requests served (calls < requests when batching happened)
        self.largest = 0  # most requests served by one call

    @property
    def waiting(self) -> int:
        with self._cv:
            return len(self._queue)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        job = _Job(list(texts))
        with self._cv:
            self._queue.append(job)
            while self._busy and not job.done:
                self._cv.wait()
            if not job.done:  # nothing running: lead, taking everything queued (ours included)
                self._busy = True
                batch, self._queue = self._queue, []
        if job.done:
            return self._result(job)
        calls = 1
        try:
            calls = self._serve(batch)
        finally:
            with self._cv:
                for j in batch:
                    j.done = True
                self._busy = False
                self.calls += calls
                self.requests += len(batch)
                self.largest = max(self.largest, len(batch))
                self._cv.notify_all()
        return self._result(job)

    def _serve(self, batch: list[_Job]) -> int:
        """Fill each job's rows or error: one call for the batch, or, if that call raises, one
        call per job. Returns the model calls made."""
        try:
            out = self._run([t for j in batch for t in j.texts])
        except Exception as exc:  # noqa: BLE001 - whose input was it? Each job alone tells
            if len(batch) == 1:
                batch[0].error = exc
                return 1
            for j in batch:
                self._serve([j])
            return 1 + len(batch)
        except BaseException as exc:  # noqa: BLE001 - an interrupt, not an input: it reaches every caller
            for j in batch:
                j.error = exc
            return 1
        at = 0
        for j in batch:
            j.rows = np.array(out[at:at + len(j.texts)])  # a copy: callers own their rows
            at += len(j.texts)
        return 1

    @staticmethod
    def _result(job: _Job) -> np.ndarray:
        if job.error is not None:
            raise job.error
        return job.rows
