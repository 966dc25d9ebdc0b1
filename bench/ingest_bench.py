"""Ingest throughput and re-sync times on a generated corpus (issue 5 figures).

    python bench/ingest_bench.py [--n 1000] [--runs 3]

Prints, per run and as medians:
- first ingest of N transcripts: chunks/s, against raw sentence-transformers encode throughput of
  the same chunk texts measured in the same run (the floor; the pipeline's sentence vectors come
  from the same forward pass, see Embedder.encode_pieces);
- a no-change re-sync of the N transcripts (seconds);
- a one-transcript change re-synced (seconds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.make_corpus import make  # noqa: E402
from ingest import store as ix
from ingest.embed import load_embedder  # noqa: E402
from ingest.settings import IndexSettings, IngestSettings  # noqa: E402
from ingest.sync import plan_sync, sync_paths  # noqa: E402


def one_run(n: int, turns: int, work: Path, embedder) -> dict:
    corpus = work / "corpus"
    make(n, turns, 0, corpus)
    settings = IngestSettings(chroma_path=work / "chroma", transcripts_dir=corpus)
    client = ix.chroma_client(settings)
    # Floor: raw encode of the exact chunk texts, same model, same batch size, same threads.
    plan = plan_sync([corpus], settings, ix.open_collection(client, settings, ix.CHUNK_SUFFIX))
    chunks = [c for p in plan.plans for c in p.added]
    texts = [c.embed_text for c in chunks]
    sentences = sum(len(c.sentences) for c in chunks)
    t = time.perf_counter()
    embedder.encode(texts)
    raw_chunks = time.perf_counter() - t
    t = time.perf_counter()
    first = sync_paths([corpus], settings, embedder, client)
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    again = sync_paths([corpus], settings, embedder, client)
    nochange_s = time.perf_counter() - t
    assert again.added == again.updated == again.deleted == 0
    victim = corpus / "interview-0007.txt"
    victim.write_text(victim.read_text(encoding="utf-8").replace("cloud", "clouds", 1), encoding="utf-8")
    t = time.perf_counter()
    one = sync_paths([corpus], settings, embedder, client)
    one_s = time.perf_counter() - t
    return {
        "chunks": len(chunks), "sentences": sentences,
        "pipeline_cps": len(chunks) / first_s,
        "raw_chunk_cps": len(chunks) / raw_chunks,
        "nochange_s": nochange_s, "one_change_s": one_s, "one_change_updated": one.updated + one.added,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--turns", type=int, default=3, help="question/answer turns per transcript")
    a = p.parse_args()
    embedder = load_embedder(IndexSettings())
    rows = []
    for r in range(a.runs):
        work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
        try:
            rows.append(one_run(a.n, a.turns, work, embedder))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"run {r + 1}: " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()))
    med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
    print(f"\nmedian of {a.runs} runs, {a.n} transcripts of {a.turns} turns, {med['chunks']:.0f} chunks, {med['sentences']:.0f} sentences")
    print(f"{'measure':44} {'value':>10}  {'floor / goal':>22}")
    print(f"{'first ingest, chunks/s':44} {med['pipeline_cps']:10.1f}  {'raw chunk encode ' + format(med['raw_chunk_cps'], '.1f'):>22}")
    print(f"{'  ratio to raw chunk encode':44} {med['pipeline_cps'] / med['raw_chunk_cps']:10.2f}  {'goal >= 0.85':>22}")
    print(f"{'no-change re-sync, s':44} {med['nochange_s']:10.2f}  {'goal < 5':>22}")
    print(f"{'one-transcript change re-sync, s':44} {med['one_change_s']:10.2f}  {'goal < 2':>22}")


if __name__ == "__main__":
    main()
