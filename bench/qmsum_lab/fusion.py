"""The service's own fusion, with its weights as knobs, on qmsum-train and qmsum-val.

Unlike the rest of the lab (its own parser and chunker), this reads an index the service built
(`rag-ingest` of the whole 36-hearing folder) and the service's `Retriever`: the keyword scores
(words, phrases, whole transcripts) and the cosines come from it, once per case; only the weighted
sum of `Retriever._score` is redone here for each setting, so a grid takes seconds.

    CHROMA_PATH=/tmp/q/chroma TRANSCRIPTS_DIR=../shared/corpora/qmsum-committee .venv/bin/rag-ingest
    CHROMA_PATH=/tmp/q/chroma .venv/bin/python bench/qmsum_lab/fusion.py

Ranks are counted as `rag-eval` counts them: one piece per turn, the first 5 passages. The first row
(the service's defaults) reproduces `rag-eval`'s hit@1 / hit@3 / MRR on the same index.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ingest import store as ix  # noqa: E402
from ingest.embed import load_embedder  # noqa: E402
from service.eval import normalise  # noqa: E402
from service.rag import retrieve as rt  # noqa: E402
from service.rag.text import query_text  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
DEFAULTS = dict(kw=ServiceSettings().keyword_weight, phrase=rt.PHRASE_WEIGHT, speaker=rt.SPEAKER_BOOST, short=rt.SHORT_CHARS,
                prior=rt.TRANSCRIPT_PRIOR, top=rt.PRIOR_TOP, whole=rt.TRANSCRIPT_KEYWORDS)
GRID = [  # one knob at a time around the defaults
    {}, dict(phrase=0.0), dict(phrase=0.1), dict(phrase=0.3), dict(kw=1.0), dict(kw=1.4),
    dict(short=1), dict(short=50), dict(short=200), dict(speaker=2.0), dict(speaker=4.0),
    dict(prior=0.3), dict(prior=0.8), dict(whole=0.3), dict(whole=1.0),
]


def components(retriever: rt.Retriever, embedder, question: str) -> dict:
    snap = retriever.snap
    words, phrases, whole = retriever._keyword(snap, question)
    named = sorted(snap.speakers.mentioned(question) & set(snap.speaker_rows))
    vec = embedder.encode([query_text(question)])[0]
    return dict(words=words, phrases=phrases, whole=whole, named=named,
                cosine=(snap.vectors @ vec.astype(np.float32)).astype(np.float64))


def fused(snap: rt.Snapshot, lengths: np.ndarray, c: dict, p: dict) -> np.ndarray:
    """`Retriever._score` with the knobs of `p` (`lengths`: each chunk's characters)."""
    z = rt.zscore
    f = p["kw"] * z(c["words"]) + z(c["cosine"])
    if c["phrases"].any():
        f = f + p["phrase"] * z(c["phrases"])
    sigma = float(f.std()) or 1.0
    share = np.minimum(1.0, lengths / p["short"])
    for name in c["named"]:
        rows = snap.speaker_rows[name]
        f[rows] += p["speaker"] * sigma * share[rows]
    best = np.array([np.sort(f[snap.transcript_of == t])[-p["top"]:].mean() for t in range(snap.transcripts)])
    f = f + p["prior"] * sigma * z(best)[snap.transcript_of]
    if c["whole"].any():
        f = f + p["whole"] * sigma * z(c["whole"])[snap.transcript_of]
    return f


def rank(snap: rt.Snapshot, scores: np.ndarray, gold: set[int], k: int = 5) -> int | None:
    seen: set[int] = set()
    for row in np.argsort(-scores, kind="stable"):
        turn = int(snap.turn_of[row])
        if turn in seen:
            continue
        seen.add(turn)
        if int(row) in gold:
            return len(seen)
        if len(seen) == k:
            return None
    return None


def main() -> None:
    settings = ServiceSettings()
    embedder = load_embedder(settings)
    retriever = rt.Retriever(settings, embedder, ix.chroma_client(settings))
    snap = retriever.snap
    texts = [normalise(snap.docs[i][0]) for i in snap.ids]
    lengths = np.array([len(snap.docs[i][0]) for i in snap.ids], dtype=np.float64)
    splits: dict[str, list[tuple[dict, set[int]]]] = {}
    for split in ("train", "val"):
        cases = [json.loads(line) for line in (EVAL / f"qmsum-{split}.jsonl").read_text().splitlines() if line]
        splits[split] = []
        for case in cases:
            if case.get("answerable", True):
                gold = [normalise(g) for g in case["passage_any"]]
                rows = {n for n, t in enumerate(texts) if any(g in t for g in gold)}
                splits[split].append((components(retriever, embedder, case["question"]), rows))
    print("| setting | train hit@1 / hit@3 / MRR | val hit@1 / hit@3 / MRR |\n|---|---|---|")
    for change in GRID:
        p = {**DEFAULTS, **change}
        cells = []
        for split in ("train", "val"):
            ranks = [rank(snap, fused(snap, lengths, c, p), gold) for c, gold in splits[split]]
            n = len(ranks)
            cells.append(f"{sum(r == 1 for r in ranks) / n:.3f} / {sum(bool(r and r <= 3) for r in ranks) / n:.3f} / "
                         f"{sum(1 / r for r in ranks if r) / n:.3f}")
        print(f"| {', '.join(f'{k}={v}' for k, v in change.items()) or 'service defaults'} | {cells[0]} | {cells[1]} |",
              flush=True)


if __name__ == "__main__":
    main()
