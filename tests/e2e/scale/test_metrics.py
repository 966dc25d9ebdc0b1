"""GET /metrics: Prometheus text with per-endpoint requests and latency, per-stage times, ingest, index size."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ingest import store as ix
from ingest.sync import sync_paths
from service.app import create_app
from tests.fixtures.core import SAMPLE_CHUNKS

STAGES = ("embed", "dense_search", "keyword_search", "fuse", "answer")
EXTRA = """A short talk

The Editor talked to Ines Duarte, beekeeper at Quinta Verde, about bees.

How many hives do you keep?

We keep forty hives on the hill behind the farm.
"""


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def client(ingested):
    with TestClient(create_app(ingested)) as c:
        yield c


def test_requests_latency_and_stages_per_endpoint(client):
    before = scrape(client)
    r = client.post("/v1/chat", json={"messages": [{"role": "user", "content": "When was Alibaba Cloud started?"}]})
    assert r.status_code == 200
    assert client.post("/v1/chat", json={"messages": []}).status_code == 422
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client)

    req = "rag_http_requests_total"
    assert value(after, req, method="POST", endpoint="/v1/chat", status="200") - \
        value(before, req, method="POST", endpoint="/v1/chat", status="200") == 1
    assert value(after, req, method="POST", endpoint="/v1/chat", status="422") - \
        value(before, req, method="POST", endpoint="/v1/chat", status="422") == 1
    # unknown paths share one label: a scanner cannot blow up the series count
    assert value(after, req, method="GET", endpoint="unmatched", status="404") >= 1
    assert not any("/no/such/page" in str(labels) for _, labels in after)
    assert value(after, req, method="GET", endpoint="/metrics", status="200") >= 1

    lat = "rag_http_request_duration_seconds_count"
    assert value(after, lat, method="POST", endpoint="/v1/chat") - value(before, lat, method="POST", endpoint="/v1/chat") == 2
    assert value(after, "rag_http_request_duration_seconds_sum", method="POST", endpoint="/v1/chat") > 0

    for stage in STAGES:
        grew = value(after, "rag_stage_duration_seconds_count", stage=stage) - \
            value(before, "rag_stage_duration_seconds_count", stage=stage)
        assert grew >= 1, stage
        assert value(after, "rag_stage_duration_seconds_sum", stage=stage) > 0, stage
    # histogram buckets are there for latency percentiles
    assert value(after, "rag_stage_duration_seconds_bucket", stage="embed", le="+Inf") >= 1


def test_index_size_and_ingest_counters(client, ingested):
    samples = scrape(client)
    assert value(samples, "rag_index_chunks") == SAMPLE_CHUNKS
    assert value(samples, "rag_index_transcripts") == 1
    assert value(samples, "rag_chroma_up") in (0.0, 1.0)

    (ingested.transcripts_dir / "bees.txt").write_text(EXTRA, encoding="utf-8")
    pipeline = client.app.state.pipeline
    report = sync_paths([ingested.transcripts_dir], ingested, pipeline.retriever.embedder, pipeline.retriever.client)
    assert report.added >= 1
    after = scrape(client)
    assert value(after, "rag_ingest_runs_total") - value(samples, "rag_ingest_runs_total") == 1
    assert value(after, "rag_ingest_chunks_total", change="added") - \
        value(samples, "rag_ingest_chunks_total", change="added") == report.added
    assert value(after, "rag_ingest_chunks_total", change="unchanged") - \
        value(samples, "rag_ingest_chunks_total", change="unchanged") == SAMPLE_CHUNKS
    assert value(after, "rag_ingest_embedded_total") - value(samples, "rag_ingest_embedded_total") == report.embedded
    assert value(after, "rag_ingest_duration_seconds_count") - value(samples, "rag_ingest_duration_seconds_count") == 1

    # the service sees the new transcript on its next request, and the gauge follows
    client.post("/v1/chat", json={"messages": [{"role": "user", "content": "How many hives do you keep?"}]})
    client.app.state.pipeline.retriever.refresh()
    after = scrape(client)
    assert value(after, "rag_index_chunks") == SAMPLE_CHUNKS + report.added
    assert value(after, "rag_index_transcripts") == 2


def test_dry_run_is_not_counted(ingested, embedder):
    from ingest.metrics import RUNS

    before = RUNS._value.get()
    sync_paths([ingested.transcripts_dir], ingested, embedder, ix.chroma_client(ingested), dry_run=True)
    assert RUNS._value.get() == before
