"""What the built-in answer's extra work costs: the `alternatives` check (whether the next passages
hold another answer, for Regenerate) beside the same answers without it.

Over a bench index (bench/quality.py builds them under var/bench/quality), it asks each of the
first N train questions of the corpus through `ChatPipeline.run`, as /v1/chat does, with the check
and with it switched off, interleaved question by question so that both see the same load. It
prints the median and p90 of the total time per answer of each, over R rounds (median of rounds).

examples:
  python bench/answer_cost.py --corpus hearings
  python bench/answer_cost.py --corpus product --questions 80 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.rag.chat_types import ChatRequest, Message
from service.rag.pipeline import ChatPipeline, build_pipeline
from service.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
EVAL = {"interview": "dev.jsonl", "hearings": "qmsum-train.jsonl", "product": "qmsum-product-train.jsonl",
        "academic": "qmsum-academic-train.jsonl"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=sorted(EVAL), default="hearings")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--index-root", type=Path, default=ROOT / "var" / "bench" / "quality")
    args = parser.parse_args()
    index = next(args.index_root.glob(f"{args.corpus}-*"), None)
    if index is None:
        sys.exit(f"no {args.corpus} index under {args.index_root}: run bench/quality.py --corpora {args.corpus} first")
    cases = [json.loads(line) for line in (ROOT.parent / "shared" / "eval" / EVAL[args.corpus]).open()]
    questions = [c["question"] for c in cases if c.get("question")][: args.questions]
    folder = {"interview": ROOT.parent / "shared" / "data" / "transcripts"}.get(
        args.corpus, ROOT.parent / "shared" / "corpora" / {"hearings": "qmsum-committee", "product": "qmsum-product-train",
                                                           "academic": "qmsum-academic-train"}.get(args.corpus, ""))
    settings = ServiceSettings(transcripts_dir=folder, chroma_path=index, answer_mode="extractive")
    pipeline = build_pipeline(settings)
    check = ChatPipeline._another
    rows: dict[str, list[tuple[float, float]]] = {"with the check": [], "without": []}
    for _ in range(args.rounds):
        times: dict[str, list[float]] = {k: [] for k in rows}
        for q in questions:
            for name in rows:
                ChatPipeline._another = check if name == "with the check" else (lambda self, r, a: None)
                t = time.perf_counter()
                pipeline.run(ChatRequest(messages=[Message(role="user", content=q)]))
                times[name].append((time.perf_counter() - t) * 1000)
        for name, ms in times.items():
            rows[name].append((statistics.median(ms), statistics.quantiles(ms, n=10)[-1]))
    ChatPipeline._another = check
    print(f"\n{args.corpus}: {len(questions)} questions, {args.rounds} rounds (median of rounds)\n")
    print("| built-in answer | median ms | p90 ms |\n|---|---|---|")
    for name, runs in rows.items():
        print(f"| {name} | {statistics.median(r[0] for r in runs):.1f} | {statistics.median(r[1] for r in runs):.1f} |")


if __name__ == "__main__":
    main()
