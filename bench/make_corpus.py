"""Generate a corpus of N interview transcripts in the sample's plain-text format.

Each transcript draws question/answer turns from the shipped interview, reorders them and
rewrites numbers and names, so texts differ (no two chunks share a hash) while staying
interview-shaped. Deterministic for a given seed.

    python bench/make_corpus.py OUT_DIR [--n 1000] [--turns 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from ingest.formats import parse_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "transcripts" / "alibaba-cloud-xuan-jin.txt"
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee"]
ORGS = ["Northwind", "Contoso", "Fabrikam", "Initech", "Globex", "Umbrella", "Hooli", "Stark", "Wayne", "Acme"]


def make(n: int, turns: int, seed: int, out: Path) -> int:
    rng = random.Random(seed)
    sample = parse_file(SAMPLE, "sample")
    pool = [(t.question, [p.text for p in t.paragraphs]) for t in sample.turns]
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        org = rng.choice(ORGS)
        picked = rng.sample(pool, min(turns, len(pool)))
        lines = [f"Interview {i}: {org} and the cloud", "",
                 f"The Editor sat down with {name}, Head of Engineering at {org}, to discuss strategy.", ""]
        for question, paragraphs in picked:
            lines += [question.replace("Alibaba", org), ""]
            for para in paragraphs:
                para = para.replace("Alibaba", org).replace("Xuan Jin", name)
                para = re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.randint(1, 97)), para)
                lines += [para, ""]
        (out / f"interview-{i:04d}.txt").write_text("\n".join(lines), encoding="utf-8")
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--turns", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(f"wrote {make(a.n, a.turns, a.seed, a.out)} transcripts to {a.out}")


if __name__ == "__main__":
    main()
