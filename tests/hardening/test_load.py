"""Load: a bounded soak on loopback (the long one is `python -m bench.soak`): 8 clients for 40 s
against `rag-serve`, a re-ingest of a new transcript in the middle; zero failed requests, p95
before/during/after printed, memory flat once the ingest is done."""

from __future__ import annotations

from bench.soak import p95, soak


def test_bounded_soak_with_a_reingest_in_the_middle(tmp_path, capsys):
    result, _ = soak(clients=8, seconds=40, work=tmp_path)
    with capsys.disabled():
        print(f"\n[soak] 8 clients, 40 s, re-ingest {result.ingest[0]:.0f}–{result.ingest[1]:.0f} s "
              f"(HTTP {result.ingest_status})\n{result.table()}")
    assert result.ingest_status == 200 and result.ingest_body["added"] == 31
    assert not result.failures, result.failures[:5]
    for phase in ("before", "during", "after"):
        assert len(result.phase(phase)) >= 10, phase
        assert p95(result.phase(phase)) < 10, phase  # seconds; a stuck worker would show here
    before, after = result.rss_in("before"), result.rss_in("after")
    assert before and len(after) >= 3
    # flat: no growth while serving after the ingest, and the ingest's own footprint is bounded
    assert after[-1] <= after[0] * 1.10, (after[0], after[-1])
    assert after[-1] <= before[-1] + 300, (before[-1], after[-1])
