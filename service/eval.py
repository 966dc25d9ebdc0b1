"""`rag-eval`: retrieval and answer metrics on evaluation cases (see shared eval README)."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

EPILOG = """examples:
  rag-eval ../shared/eval/dev.jsonl                 in process, against the local index
  rag-eval cases.jsonl --url http://127.0.0.1:8000  against a running service
  rag-eval cases.jsonl --json                       one JSON object with the metrics
  rag-eval ../shared/eval/qmsum-product-train.jsonl --scoped
                                                    each case asked within its `transcript`"""


def normalise(text: str) -> str:
    text = text.lower().translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'}))
    return re.sub(r"\s+", " ", text).strip()


def load_cases(path: Path) -> list[dict]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            case = json.loads(line)
            if "messages" not in case:
                case["messages"] = [{"role": "user", "content": case["question"]}]
            cases.append(case)
    return cases


def held_back(case: dict) -> bool:
    """The part of a train set never tuned on: a quarter of its transcripts (a case without one, by
    its id), chosen by a hash, so that the check measures transcripts the tuning never saw."""
    import hashlib

    key = case.get("transcript") or case.get("id") or json.dumps(case.get("messages"))
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % 4 == 0


def score_case(case: dict, response: dict) -> dict:
    """Rank of the first gold passage, answer correctness and abstention for one case."""
    texts = [normalise(s["text"]) for s in response["sources"]]
    rank, holds = None, []
    if case.get("answerable", True):
        gold = [normalise(p) for p in case.get("passage_any", [])]
        holds = [i + 1 for i, t in enumerate(texts) if any(g in t for g in gold)]
        rank = holds[0] if holds else None
    answer = normalise(response["answer"])
    correct = all(any(normalise(alt) in answer for alt in group) for group in case.get("answer_all", []))
    return {"id": case.get("id"), "rank": rank, "correct": correct and not response["abstained"],
            "abstained": response["abstained"], "answerable": case.get("answerable", True),
            "evidence": response.get("evidence"), "answer": response["answer"],
            "cited": bool(response.get("citations")), "verified": response.get("verified", True),
            "cites_gold": bool(set(response.get("citations") or []) & {response["sources"][n - 1]["n"] for n in holds}),
            "lengths": [len(s["text"]) for s in response["sources"]],
            "first_token_ms": response.get("timings", {}).get("first_token_ms"),
            "total_ms": response.get("timings", {}).get("total_ms")}


def metrics(results: list[dict]) -> dict:
    pos = [r for r in results if r["answerable"]]
    neg = [r for r in results if not r["answerable"]]
    answered = [r for r in pos if not r["abstained"]]
    div = lambda a, b: round(a / b, 4) if b else None
    return {
        "n": len(results),
        "hit_at_1": div(sum(r["rank"] == 1 for r in pos), len(pos)),
        "hit_at_3": div(sum(bool(r["rank"] and r["rank"] <= 3) for r in pos), len(pos)),
        "mrr": div(sum(1 / r["rank"] for r in pos if r["rank"]), len(pos)),
        "answer_accuracy": div(sum(r["correct"] for r in pos), len(pos)),
        "abstain_accuracy": div(sum(r["abstained"] for r in neg), len(neg)),
        "false_abstain_rate": div(sum(r["abstained"] for r in pos), len(pos)),
        # answers to answerable cases that carry at least one valid [n] citation
        "cited_answer_rate": div(sum(r["cited"] for r in answered), len(answered)),
        # answerable cases whose answer cites a passage that holds a gold phrase
        "cites_gold": div(sum(r["cites_gold"] for r in pos), len(pos)),
        "median_passage_chars": _median([n for r in results for n in r["lengths"]]),
        "max_passage_chars": max((n for r in results for n in r["lengths"]), default=None),
        "median_first_token_ms": _median([r["first_token_ms"] for r in results]),
        "median_total_ms": _median([r["total_ms"] for r in results]),
    }


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def wrong(r: dict) -> bool:
    if not r["answerable"]:
        return not r["abstained"]
    return r["rank"] != 1 or not r["correct"] or not r["cited"]


def request_body(case: dict, top_k: int, scoped: bool) -> dict:
    """The chat request a user would send for a case: its conversation, and in a scoped run the
    transcript the case is about (as a user who picked it in the library asks)."""
    body = {"messages": case["messages"], "top_k": top_k}
    if scoped:
        if not case.get("transcript"):
            raise ValueError(f"case {case.get('id')}: a scoped run needs each case's `transcript`")
        body["filters"] = {"transcripts": [case["transcript"]]}
    return body


def run_cases(cases: list[dict], url: str | None, top_k: int, settings=None, scoped: bool = False) -> list[dict]:
    bodies = [request_body(c, top_k, scoped) for c in cases]
    if url:
        import httpx

        with httpx.Client(base_url=url, timeout=120) as http:
            responses = []
            for body in bodies:
                # a service with CHAT_RATE_LIMIT answers 429 past it: wait as its Retry-After says
                while (r := http.post("/v1/chat", json=body)).status_code == 429:
                    time.sleep(float(r.headers.get("retry-after", "1")))
                r.raise_for_status()
                responses.append(r.json())
    else:
        from service.rag.chat_types import ChatRequest
        from service.rag.pipeline import build_pipeline
        from service.settings import ServiceSettings

        pipeline = build_pipeline(settings or ServiceSettings())
        responses = []
        for body in bodies:
            responses.append(pipeline.run(ChatRequest(**body)).model_dump())
    return [score_case(c, r) for c, r in zip(cases, responses)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rag-eval", description="Run evaluation cases through the chat pipeline and print "
        "hit@1, hit@3, MRR, answer accuracy, abstention accuracy and false-abstention rate.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", type=Path, help="JSONL file of cases")
    parser.add_argument("--url", help="evaluate a running service over HTTP instead of in process")
    parser.add_argument("--top-k", type=int, default=5, help="passages per question (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the metrics")
    parser.add_argument("--scoped", action="store_true",
                        help="ask each case within its `transcript` (filters.transcripts), as a user who "
                        "picked that transcript in the library")
    parser.add_argument("--details", type=Path, help="write each case's result to this JSONL file")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.cases.is_file():
        parser.error(f"no such cases file: {args.cases}")
        return 0
    try:
        results = run_cases(load_cases(args.cases), args.url, args.top_k, scoped=args.scoped)
    except ValueError as exc:
        parser.error(str(exc))
    m = metrics(results)
    if args.details:
        args.details.write_text("".join(json.dumps(r) + "\n" for r in results), encoding="utf-8")
    if args.json:
        print(json.dumps(m))
        return 0
    for key, value in m.items():
        print(f"{key:20} {value}")
    bad = [r for r in results if wrong(r)]
    if bad:
        print("\ncases not right:")
    for r in bad:
        print(f"  {r['id']}: rank={r['rank']} correct={r['correct']} abstained={r['abstained']} "
              f"cited={r['cited']} evidence={r['evidence']}\n    {r['answer'][:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
