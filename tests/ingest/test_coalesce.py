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


def queue_behind_a_held_call(c: Coalescer, pool: ThreadPoolExecutor, requests: list[list[str]]):
    """Hold a first call, queue `requests` behind it, release: the queued ones run as one batch.
    Returns (the held call's future, the queued futures)."""
    release, started, run = held_first_call(c)
    try:
        first = pool.submit(c, ["a request that holds the model"])
        assert started.wait(30)
        futures = [pool.submit(c, r) for r in requests]
        deadline = time.monotonic() + 30
        while c.waiting < len(requests) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert c.waiting == len(requests)
        release.set()
        first.result(30)
    finally:
        c._run = run
    return futures


def test_one_callers_bad_text_fails_only_that_caller():
    seen = []

    def run(texts):
        seen.append(list(texts))
        if "bad" in texts:
            raise TypeError("cannot tokenize 'bad'")
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    c = Coalescer(run)
    requests = [["one"], ["bad"], ["three", "four!"], ["bad", "x"], ["fifty"]]
    with ThreadPoolExecutor(len(requests) + 1) as pool:
        futures = queue_behind_a_held_call(c, pool, requests)
        for i in (1, 3):
            with pytest.raises(TypeError, match="cannot tokenize 'bad'"):
                futures[i].result(30)
        assert [futures[i].result(30).ravel().tolist() for i in (0, 2, 4)] == [[3.0], [5.0, 5.0], [5.0]]
    batched = ["one", "bad", "three", "four!", "bad", "x", "fifty"]
    assert seen[1] == batched  # the batch was tried once, then each caller's texts on their own
    assert sorted(map(tuple, seen[2:])) == sorted(map(tuple, requests))
    assert (c.calls, c.requests) == (2 + len(requests), 1 + len(requests))
    assert c([" ok"]).ravel().tolist() == [3.0]  # and the next call works


def test_a_lone_surrogate_fails_only_its_caller_with_the_real_model(embedder):
    """The red-team's case (issue 19, item 2): a lone surrogate reaches the tokenizer batched with
    other callers' questions; they get their rows, it gets the tokenizer's error."""
    requests = [[q] for q in QUESTIONS[:3]] + [["When was \ud800 started?"]] + [QUESTIONS[3:5]]
    reference = [unbatched(embedder, r) for i, r in enumerate(requests) if i != 3]
    with ThreadPoolExecutor(len(requests) + 1) as pool:
        futures = queue_behind_a_held_call(embedder.coalescer, pool, requests)
        with pytest.raises(TypeError):
            futures[3].result(30)
        for got, want in zip([f.result(30) for i, f in enumerate(futures) if i != 3], reference):
            np.testing.assert_allclose(got, want, atol=1e-5)
