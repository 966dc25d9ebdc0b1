"""rag-eval on the development cases, in process and over HTTP, with the issue's thresholds."""

import json

import pytest

from service.app import create_app
from service.eval import main as eval_main
from tests.fixtures.core import DEV_CASES
from tests.fixtures.servers import serving

pytestmark = pytest.mark.skipif(not DEV_CASES.exists(), reason="shared/eval/dev.jsonl not present")


def check(metrics):
    assert metrics["n"] == 17
    assert metrics["hit_at_1"] >= 0.90
    assert metrics["hit_at_3"] == 1.0
    assert metrics["answer_accuracy"] >= 0.85
    assert metrics["abstain_accuracy"] == 1.0
    assert metrics["false_abstain_rate"] <= 0.07


def test_eval_in_process(ingested, capsys):
    assert eval_main([str(DEV_CASES), "--json"]) == 0
    check(json.loads(capsys.readouterr().out))


def test_eval_over_http(ingested, capsys):
    with serving(create_app(ingested)) as url:
        assert eval_main([str(DEV_CASES), "--url", url, "--json"]) == 0
    check(json.loads(capsys.readouterr().out))
