"""Micro-batching of concurrent query encodes: the real model, real threads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ingest.coalesce import Coalescer

QUESTIONS = [
    "Where did Xuan Jin work before joining Alibaba?",
    "Which cities have Alibaba Cloud offices in Europe?",
    "What is the top priority when recruiting for the team?",
    "When was Alibaba Cloud started?",
    "What market share does Alibaba Cloud have in China?",
    "What peak transaction rate was seen during the 11.11 Shopping Festival?",
    "What does '1000 people 1000 faces' mean?",
    "Who founded the company, and in which year did it open its first data centre abroad?",
]


def unbatched(embedder, texts: list[str]) -> np.ndarray:
    """One text per model call: the reference rows."""
    return np.vstack([embedder._encode([t], 1) for t in texts])


def held_first_call(coalescer: Coalescer):
    """Make the next model call wait for the returned event, so that callers queue up behind it."""
    release, started = threading.Event(), threading.Event()
    run, first = coalescer._run, [True]

    def gated(texts):
        if first[0]:
            first[0] = False
            started.set()
            release.wait(30)
        return run(texts)

    coalescer._run = gated
    return release, started, run


def test_concurrent_callers_get_their_own_rows_from_one_call(embedder):
    requests = [[q] for q in QUESTIONS[:6]] + [QUESTIONS[6:8], [QUESTIONS[0], QUESTIONS[3]]]
    reference = [unbatched(embedder, r) for r in requests]
    c = embedder.coalescer
    release, started, run = held_first_call(c)
    calls, served, before = c.calls, c.requests, embedder.encoded
    try:
        with ThreadPoolExecutor(len(requests) + 1) as pool:
            first = pool.submit(embedder.encode, ["a request that holds the model"])
            assert started.wait(30)
            futures = [pool.submit(embedder.encode, r) for r in requests]
            deadline = time.monotonic() + 30
            while c.waiting < len(requests) and time.monotonic() < deadline:
                time.sleep(0.005)
            assert c.waiting == len(requests)  # all queued behind the running call
            release.set()
            results = [f.result(30) for f in futures]
            first.result(30)
    finally:
        c._run = run
    assert c.calls - calls == 2  # the held call, then every queued request in one call
    assert c.requests - served == len(requests) + 1
    assert c.largest >= len(requests)
    assert embedder.encoded - before == 1 + sum(len(r) for r in requests)  # counted per text, once
    for got, want, r in zip(results, reference, requests):
        assert got.shape == (len(r), 384) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=1e-5)  # each caller gets its own rows


def test_many_threads_match_unbatched(embedder):
    texts = QUESTIONS * 4
    reference = unbatched(embedder, texts)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda t: embedder.encode([t]), texts))
    np.testing.assert_allclose(np.vstack(results), reference, atol=1e-5)


def test_large_batches_bypass_coalescing(embedder):
    texts = [f"{q} (variant {i})" for i, q in enumerate(QUESTIONS * 3)]
    calls, before = embedder.coalescer.calls, embedder.encoded
    got = embedder.encode(texts)
    assert embedder.coalescer.calls == calls  # ingest-size requests run directly, in batch_size
    assert embedder.encoded - before == len(texts)
    np.testing.assert_allclose(got, unbatched(embedder, texts), atol=1e-5)
    assert embedder.encode([]).shape[0] == 0


def test_an_error_reaches_every_caller_of_the_batch_and_the_next_call_works():
    boom = [True]

    def run(texts):
        if boom[0]:
            boom[0] = False
            raise RuntimeError("model failed")
        return np.arange(len(texts), dtype=np.float32)[:, None]

    c = Coalescer(run)
    release, started, _ = held_first_call(c)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(c, ["x"])
        assert started.wait(10)
        queued = [pool.submit(c, ["y", "z"]), pool.submit(c, ["w"])]
        while c.waiting < 2:
            time.sleep(0.005)
        release.set()
        with pytest.raises(RuntimeError, match="model failed"):
            first.result(10)
        assert [f.result(10).ravel().tolist() for f in queued] == [[0.0, 1.0], [2.0]]
