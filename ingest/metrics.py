"""Prometheus counters of ingest runs, in whatever process runs them (served by the service's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RUNS = Counter("rag_ingest_runs_total", "Ingest syncs applied (dry runs excluded).")
CHUNKS = Counter(
    "rag_ingest_chunks_total", "Chunks seen by ingest syncs, by what happened to them.", ["change"]
)
EMBEDDED = Counter("rag_ingest_embedded_total", "Texts embedded by ingest (chunks and their sentences).")
SKIPPED = Counter("rag_ingest_skipped_files_total", "Files an ingest sync skipped (unsupported, unreadable…).")
SECONDS = Histogram(
    "rag_ingest_duration_seconds", "Duration of ingest syncs.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
CHANGES = ("added", "updated", "unchanged", "deleted")
for _change in CHANGES:
    CHUNKS.labels(_change)


def record_sync(report) -> None:
    """Count one applied sync (an `ingest.sync.SyncReport`); dry runs are not counted."""
    if getattr(report, "dry_run", False):
        return
    RUNS.inc()
    for change in CHANGES:
        CHUNKS.labels(change).inc(getattr(report, change, 0))
    EMBEDDED.inc(getattr(report, "embedded", 0))
    SKIPPED.inc(len(getattr(report, "skipped", ())))
    SECONDS.observe(getattr(report, "seconds", 0.0))
