"""Run retrieval variants on qmsum-train (and finalists on qmsum-val).

  .venv/bin/python bench/qmsum_lab/run.py            # all train variants not yet in results
  .venv/bin/python bench/qmsum_lab/run.py --force    # re-run all train variants
  .venv/bin/python bench/qmsum_lab/run.py --only NAME [NAME...]
  .venv/bin/python bench/qmsum_lab/run.py --val NAME [NAME...]   # finalists on val (once, at the end)
Embeddings are cached in bench/qmsum_lab/cache (each text encoded once).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import Stemmer

from common import LAB, EmbCache, evaluate, gold_units, load_cases, load_turns
from retrieval import Corpus, Retriever
from variants import VARIANTS

RESULTS = LAB / os.environ.get("LAB_RESULTS", "results.jsonl")


def run_variant(name, cfg, split, turns, corpora, ec, stemmer, cases_cache):
    target = cfg.get("target", 650)
    if target not in corpora:
        corpora[target] = Corpus(turns, target)
    corpus = corpora[target]
    r = Retriever(corpus, cfg, ec, stemmer)
    key = (split, target)
    if key not in cases_cache:
        cases = load_cases(split)
        cases_cache[key] = (cases, gold_units(cases, corpus.units, turns))
    cases, golds = cases_cache[key]
    qs = [c["question"] for c in cases]
    qvecs = None
    if r.E is not None:
        qd = [r.query_texts(q)[2] for q in qs]
        qvecs, qenc = ec.get(qd)
    rankings, lat = [], []
    for i, q in enumerate(qs):
        t0 = time.perf_counter()
        rankings.append(r.search(q, None if qvecs is None else qvecs[i]))
        lat.append(time.perf_counter() - t0)
    m = evaluate(rankings, golds)
    ret_lens = [len(corpus.units[u].text) for rk, c in zip(rankings, cases) if c.get("answerable") for u in rk[:3]]
    all_lens = [len(u.text) for u in corpus.units]
    row = dict(name=name, split=split, cfg=cfg, hit1=round(m["hit1"], 3), hit3=round(m["hit3"], 3),
               mrr=round(m["mrr"], 3), n=m["n"], units=len(corpus.units),
               med_ret_len=int(statistics.median(ret_lens)), max_ret_len=max(ret_lens),
               med_unit_len=int(statistics.median(all_lens)), max_unit_len=max(all_lens),
               encode_s=round(r.build_secs, 1), bm25_index_s=round(r.bm25_secs, 2),
               score_ms_p50=round(1000 * statistics.median(lat), 1), ranks=m["ranks"],
               top3=[rk[:3] for rk in rankings])
    print(f"{split:5s} {name:28s} hit1={row['hit1']:.3f} hit3={row['hit3']:.3f} mrr={row['mrr']:.3f} "
          f"medlen={row['med_ret_len']} maxlen={row['max_ret_len']} enc={row['encode_s']}s "
          f"score={row['score_ms_p50']}ms", flush=True)
    return row


def load_results():
    if not RESULTS.exists():
        return []
    return [json.loads(l) for l in open(RESULTS)]


def save_row(row):
    rows = [r for r in load_results() if not (r["name"] == row["name"] and r["split"] == row["split"])]
    rows.append(row)
    with open(RESULTS, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--val", nargs="*")
    a = ap.parse_args()
    turns = load_turns()
    ec = EmbCache()
    stemmer = Stemmer.Stemmer("english")
    corpora, cc = {}, {}
    done = {(r["name"], r["split"]) for r in load_results()}
    vd = dict(VARIANTS)
    if a.val:
        for name in a.val:
            save_row(run_variant(name, vd[name], "val", turns, corpora, ec, stemmer, cc))
            save_row(run_variant(name, vd[name], "train", turns, corpora, ec, stemmer, cc))
    else:
        names = a.only if a.only else [n for n, _ in VARIANTS]
        for name in names:
            if not a.force and not a.only and (name, "train") in done:
                continue
            save_row(run_variant(name, vd[name], "train", turns, corpora, ec, stemmer, cc))
    import report
    report.write()


if __name__ == "__main__":
    main()
