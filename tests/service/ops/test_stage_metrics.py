"""The answer path's stage times reach /metrics through the app's lifespan (service/app.py wires
service/ops/metrics.py to service/rag/stages.py), and stop with it."""

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from service.app import create_app
from service.rag.stages import STAGES, observe_stage


def stage_counts() -> dict[str, float]:
    return {s: REGISTRY.get_sample_value("rag_stage_duration_seconds_count", {"stage": s}) for s in STAGES}


def test_one_answer_times_each_stage_once_while_the_app_runs(ingested):
    with TestClient(create_app(ingested)) as client:
        before = stage_counts()
        r = client.post("/v1/chat", json={"messages": [{"role": "user", "content": "When was Alibaba Cloud started?"}]})
        assert r.status_code == 200
        after = stage_counts()
        assert {s: after[s] - before[s] for s in STAGES} == dict.fromkeys(STAGES, 1.0)
        scraped = client.get("/metrics").text
        assert f'rag_stage_duration_seconds_count{{stage="embed"}} {after["embed"]}' in scraped
    observe_stage("answer", 0.1)  # the app has stopped: its observer is gone
    assert stage_counts() == after
