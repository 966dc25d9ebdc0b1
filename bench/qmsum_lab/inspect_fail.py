"""Print misses (rank>1) of a variant from a results file: question, top-1 passage, a gold passage."""
import json, sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_turns, load_cases, gold_units
from retrieval import Corpus
name, split = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "train")
rfile = sys.argv[3] if len(sys.argv) > 3 else "results.jsonl"
row = next(json.loads(l) for l in open(rfile) if json.loads(l)["name"] == name and json.loads(l)["split"] == split)
T = load_turns(); C = Corpus(T, row["cfg"].get("target", 650))
cases = load_cases(split); G = gold_units(cases, C.units, T)
ans = [(c, g) for c, g in zip(cases, G) if g is not None]
lim = int(os.environ.get("N", 40))
for (c, g), rank, top3 in list(zip(ans, row["ranks"], row["top3"])):
    if rank == 1: continue
    lim -= 1
    if lim < 0: break
    u = C.units[top3[0]]; t = T[u.turn_i]
    gu = C.units[sorted(g)[0]]; gt = T[gu.turn_i]
    print(f"== {c['id']} rank={rank} ngold={len(g)} Q: {c['question']}")
    print(f"  TOP1 [{t.doc} #{t.idx} {t.name}] {u.text[:220]}")
    print(f"  GOLD [{gt.doc} #{gt.idx} {gt.name}] {gu.text[:220]}")
