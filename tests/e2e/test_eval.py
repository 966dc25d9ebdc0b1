"""rag-eval on the development cases, in process and over HTTP, with the issue's thresholds."""

import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from service.app import create_app
from service.eval import main as eval_main
from tests.conftest import DEV_CASES

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


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_eval_over_http(ingested, capsys):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ingested), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert eval_main([str(DEV_CASES), "--url", f"http://127.0.0.1:{port}", "--json"]) == 0
        check(json.loads(capsys.readouterr().out))
    finally:
        server.should_exit = True
        thread.join(10)
