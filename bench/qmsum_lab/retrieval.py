"""A configurable retriever over speaker-turn units: BM25 (bm25s + Snowball), dense MiniLM (cached),
fusion, speaker-aware boost, procedural-turn penalty, prompt-turn context, neighbour smoothing."""
from __future__ import annotations

import re
import time

import numpy as np

from common import SpeakerIndex, Turn, Unit, build_units, strip_accents, split_sentences

DEFAULT = dict(
    target=650,            # piece size for splitting long turns (chars)
    emb="plain",           # embedded text: plain | spk | spk_title | prev | spk_prev
    bm25_text="plain",     # plain | spk | prev  (prev: + prompting turn text)
    bm25_prev_chars=400,   # how much of the prompting turn goes into the bm25 text (tail)
    q_strip_bm25=True,     # remove question phrasing words from the BM25 query
    q_strip_dense=False,   # ... and from the dense query
    q_drop_names=False,    # drop matched speaker-name tokens from the query text
    w_bm25=1.0, w_dense=0.0, fusion="z",  # z | minmax | rrf
    rrf_k=60,
    a_prompt=0.0,          # + a * dense(prompting turn)  (multi-vector context)
    a_sent=0.0,            # mix of max-sentence dense score into dense: (1-a)*unit + a*maxsent
    short_len=0, short_pen=0.0,  # units shorter than short_len chars: score -= short_pen (z units)
    spk_boost=0.0,         # + boost for units spoken by a speaker named in the question
    spk_prompt_boost=0.0,  # + boost for the turn that prompted a named speaker's turn
    reply_lam=0.0,         # + lam * (score of the prompting turn) : a reply inherits from its question
    nb_lam=0.0, nb_win=1,  # + lam * mean(best score of +-win neighbouring turns)
    doc_mu=0.0, doc_top=5, # + mu * z(doc score) where doc score = mean of top units
    doc_agg="topmean",     # topmean | lse (log-sum-exp of unit z-scores, temperature doc_temp)
    doc_temp=1.0,
    docbm_mu=0.0,          # + mu * z(BM25 score of the whole transcript) (36 docs)
    topk=10,
    k1=1.5, b=0.75,        # BM25 parameters
    one_per_turn=False,    # at most one piece of a turn in the results
    max_per_doc=0,         # >0: in the first 3 results at most this many from one transcript
)

STOP = set("""a an the of to in on for and or but with by at from as is are was were be been being do does did
doing have has had having it its this that these those there their they them he she his her him i you we our
your my me us what which who whom whose when where why how whether if then than so not no nor can could would
should will shall may might must also any all some such into over under about between during after before up
down out off again further once very just more most other own same too s t don now only both each few""".split())
PHRASING = set("""summarize summarise summary summarized discussion discussions discuss discussed discussing
talk talked talking talks say said saying says think thought thinks opinion opinions meeting group
debate debated debates elaborate elaborated mention mentioned view views respond responded response
answer answered answers question questions questioning inquiries specific people overall""".split())


def tokenize(text: str, stemmer, drop=STOP):
    toks = re.findall(r"[a-z0-9]+", strip_accents(text).lower())
    toks = [t for t in toks if t not in drop]
    return stemmer.stemWords(toks) if stemmer else toks


class Corpus:
    """Turns, units and the derived context (prompting turn, neighbours) for one piece size."""

    def __init__(self, turns: list[Turn], target: int):
        self.turns = turns
        self.units: list[Unit] = build_units(turns, target)
        self.spk = SpeakerIndex(turns)
        n = len(self.units)
        self.turn_units: dict[int, list[int]] = {}
        for u in self.units:
            self.turn_units.setdefault(u.turn_i, []).append(u.uid)
        # prompting turn: nearest previous turn in the same doc by another person
        self.prompt_turn = {}
        for ti, t in enumerate(turns):
            j = ti - 1
            while j >= 0 and turns[j].doc == t.doc and turns[j].name == t.name:
                j -= 1
            self.prompt_turn[ti] = j if j >= 0 and turns[j].doc == t.doc else None
        self.prompt_turn_arr = np.array([-1 if self.prompt_turn[i] is None else self.prompt_turn[i]
                                         for i in range(len(turns))])
        self.unit_doc = np.array([hash(turns[u.turn_i].doc) for u in self.units])
        docs = sorted({t.doc for t in turns})
        self.doc_id = {d: i for i, d in enumerate(docs)}
        self.unit_docid = np.array([self.doc_id[turns[u.turn_i].doc] for u in self.units])
        self.unit_turn = np.array([u.turn_i for u in self.units])
        self.unit_len = np.array([len(u.text) for u in self.units])
        self.unit_name = [turns[u.turn_i].name for u in self.units]
        self.name_units: dict[str, list[int]] = {}
        for i, nm in enumerate(self.unit_name):
            self.name_units.setdefault(nm, []).append(i)
        # prompt unit: the last piece of the prompting turn
        self.prompt_unit = np.array([
            (self.turn_units[self.prompt_turn[u.turn_i]][-1] if self.prompt_turn[u.turn_i] is not None else -1)
            for u in self.units])

    def prompt_text(self, u: Unit, chars: int) -> str:
        pt = self.prompt_turn[u.turn_i]
        if pt is None:
            return ""
        t = self.turns[pt]
        return t.text[-chars:]

    def emb_text(self, u: Unit, kind: str) -> str:
        t = self.turns[u.turn_i]
        spk = t.name + (f" ({t.role})" if t.role and not t.role.lower().startswith("the ") else "")
        if kind == "plain":
            return u.text
        if kind == "spk":
            return f"{spk}: {u.text}"
        if kind == "spk_title":
            return f"{t.title}. {spk}: {u.text}"
        if kind == "prev":
            p = self.prompt_text(u, 300)
            return f"{u.text}\n(In reply to: {p})" if p else u.text
        if kind == "spk_prev":
            p = self.prompt_text(u, 300)
            return f"{spk}: {u.text}\n(In reply to: {p})" if p else f"{spk}: {u.text}"
        raise ValueError(kind)

    def bm25_text(self, u: Unit, kind: str, prev_chars: int) -> str:
        t = self.turns[u.turn_i]
        if kind == "plain":
            return u.text
        if kind == "spk":
            return f"{t.name} {u.text}"
        if kind == "prev":
            return f"{u.text} {self.prompt_text(u, prev_chars)}"
        if kind == "spk_prev":
            return f"{t.name} {u.text} {self.prompt_text(u, prev_chars)}"
        raise ValueError(kind)


def znorm(x):
    s = x.std()
    return (x - x.mean()) / (s if s > 0 else 1.0)


def minmax_top(x, n=100):
    top = np.partition(x, -n)[-n:]
    lo, hi = top.min(), top.max()
    return np.clip((x - lo) / ((hi - lo) or 1.0), 0, None)


def rrf(x, k):
    order = np.argsort(-x)
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    return 1.0 / (k + r)


class Retriever:
    def __init__(self, corpus: Corpus, cfg: dict, emb_cache, stemmer):
        import bm25s
        self.c, self.cfg, self.ec, self.stem = corpus, {**DEFAULT, **cfg}, emb_cache, stemmer
        cfg = self.cfg
        self.build_secs = 0.0
        units = corpus.units
        # BM25
        t0 = time.perf_counter()
        docs = [tokenize(corpus.bm25_text(u, cfg["bm25_text"], cfg["bm25_prev_chars"]), stemmer) for u in units]
        self.bm25 = bm25s.BM25(k1=cfg["k1"], b=cfg["b"])
        self.bm25.index(docs, show_progress=False)
        self.vocab = self.bm25.vocab_dict
        self.bm25_secs = time.perf_counter() - t0
        if cfg["docbm_mu"] > 0:
            dtexts = {}
            for t in corpus.turns:
                dtexts.setdefault(corpus.doc_id[t.doc], []).append(t.name + " " + t.text)
            self.docbm = bm25s.BM25(k1=cfg["k1"], b=cfg["b"])
            self.docbm.index([tokenize(" ".join(dtexts[i]), stemmer) for i in range(len(dtexts))],
                             show_progress=False)
        # dense
        self.E = None
        if cfg["w_dense"] > 0 or cfg["fusion"] == "dense":
            self.E, self.build_secs = emb_cache.get([corpus.emb_text(u, cfg["emb"]) for u in units])
        if cfg["a_prompt"] > 0 and cfg["emb"] != "plain":
            self.Ep, s = emb_cache.get([u.text for u in units])
            self.build_secs += 0  # the same texts: shared with 'plain' (count once below)
        elif cfg["a_prompt"] > 0:
            self.Ep = self.E
        self.S = None
        if cfg["a_sent"] > 0:
            sents, owner = [], []
            for u in units:
                for s in (u.sents or [u.text]):
                    sents.append(s)
                    owner.append(u.uid)
            self.S, s = emb_cache.get(sents)
            self.build_secs += s
            self.sent_owner = np.array(owner)
        if cfg["a_prompt"] > 0 and cfg["emb"] != "plain":
            _, s = emb_cache.get([u.text for u in units])
            self.build_secs += s
        # neighbour structure at the turn level
        self.n_turns = len(corpus.turns)
        self.turn_doc = np.array([corpus.doc_id[t.doc] for t in corpus.turns])

    def query_texts(self, q: str):
        cfg = self.cfg
        names = self.c.spk.match(q)
        qb = q
        if cfg["q_drop_names"] and names:
            toks = set()
            for n in names:
                toks |= {strip_accents(x).lower() for x in n.split()}
            qb = " ".join(w for w in re.findall(r"[\w'\-]+", strip_accents(q))
                          if w.lower().rstrip("'s") not in toks and re.sub(r"'s$", "", w.lower()) not in toks)
        drop = STOP | PHRASING if cfg["q_strip_bm25"] else STOP
        btoks = tokenize(qb, self.stem, drop)
        if cfg["q_strip_dense"]:
            qd = " ".join(w for w in re.findall(r"[\w'\-]+", qb) if w.lower() not in STOP | PHRASING)
        else:
            qd = qb
        return names, btoks, qd

    def scores(self, q: str, qvec=None):
        cfg, c = self.cfg, self.c
        names, btoks, qd = self.query_texts(q)
        n = len(c.units)
        btoks = [t for t in btoks if t in self.vocab]
        sb = np.asarray(self.bm25.get_scores(btoks), dtype=np.float64) if btoks else np.zeros(n)
        parts = []
        if cfg["w_bm25"] > 0:
            parts.append((cfg["w_bm25"], sb))
        if self.E is not None and cfg["w_dense"] > 0:
            sd = self.E @ qvec
            if cfg["a_sent"] > 0:
                ms = np.full(n, -1.0, np.float32)
                np.maximum.at(ms, self.sent_owner, self.S @ qvec)
                sd = (1 - cfg["a_sent"]) * sd + cfg["a_sent"] * ms
            if cfg["a_prompt"] > 0:
                sp = self.Ep @ qvec
                pu = c.prompt_unit
                sd = sd + cfg["a_prompt"] * np.where(pu >= 0, sp[np.maximum(pu, 0)], 0.0)
            parts.append((cfg["w_dense"], sd.astype(np.float64)))
        f = cfg["fusion"]
        if f == "z":
            s = sum(w * znorm(x) for w, x in parts)
        elif f == "minmax":
            s = sum(w * minmax_top(x) for w, x in parts)
        elif f == "rrf":
            s = sum(w * rrf(x, cfg["rrf_k"]) for w, x in parts) * 60
        else:
            raise ValueError(f)
        # everything below is in "z units" of the fused score
        scale = s.std() or 1.0
        if cfg["short_pen"] > 0:
            s = s - cfg["short_pen"] * scale * (c.unit_len < cfg["short_len"])
        if names and (cfg["spk_boost"] > 0 or cfg["spk_prompt_boost"] > 0):
            is_spk = np.zeros(n, bool)
            for nm in names:
                is_spk[c.name_units.get(nm, [])] = True
            s = s + cfg["spk_boost"] * scale * is_spk
            if cfg["spk_prompt_boost"] > 0:
                spk_turns = set(c.unit_turn[is_spk].tolist())
                prompts = {c.prompt_turn[t] for t in spk_turns} - {None}
                is_pr = np.isin(c.unit_turn, list(prompts)) & ~is_spk
                s = s + cfg["spk_prompt_boost"] * scale * is_pr
        if cfg["reply_lam"] > 0:
            ts = np.full(self.n_turns, s.min())
            np.maximum.at(ts, c.unit_turn, s)
            pt = c.prompt_turn_arr[c.unit_turn]
            inh = np.where(pt >= 0, ts[np.maximum(pt, 0)] - s.mean(), 0.0)
            s = s + cfg["reply_lam"] * np.maximum(inh, 0)
        if cfg["nb_lam"] > 0:
            ts = np.full(self.n_turns, s.min())
            np.maximum.at(ts, c.unit_turn, s)
            w = cfg["nb_win"]
            acc = np.zeros(self.n_turns)
            cnt = np.zeros(self.n_turns)
            for d in range(-w, w + 1):
                if d == 0:
                    continue
                idx = np.arange(self.n_turns) + d
                ok = (idx >= 0) & (idx < self.n_turns)
                idx2 = np.clip(idx, 0, self.n_turns - 1)
                ok &= self.turn_doc[idx2] == self.turn_doc
                acc += np.where(ok, ts[idx2], 0)
                cnt += ok
            nb = acc / np.maximum(cnt, 1)
            s = s + cfg["nb_lam"] * (nb[c.unit_turn] - s.mean())
        if cfg["doc_mu"] > 0:
            nd = len(c.doc_id)
            ds = np.zeros(nd)
            zs = (s - s.mean()) / scale
            for d in range(nd):
                x = zs[c.unit_docid == d]
                if cfg["doc_agg"] == "lse":
                    m = x.max()
                    ds[d] = m + cfg["doc_temp"] * np.log(np.exp((x - m) / cfg["doc_temp"]).sum())
                else:
                    k = min(cfg["doc_top"], len(x))
                    ds[d] = np.sort(x)[-k:].mean()
            s = s + cfg["doc_mu"] * scale * znorm(ds)[c.unit_docid]
        if cfg["docbm_mu"] > 0:
            bt = [t for t in btoks if t in self.docbm.vocab_dict]
            if bt:
                ds = np.asarray(self.docbm.get_scores(bt), dtype=np.float64)
                s = s + cfg["docbm_mu"] * scale * znorm(ds)[c.unit_docid]
        return s

    def search(self, q: str, qvec=None, k=10):
        s = self.scores(q, qvec)
        cfg, c = self.cfg, self.c
        kk = k * 4 if (cfg["one_per_turn"] or cfg["max_per_doc"]) else k
        top = np.argpartition(-s, kk)[:kk]
        order = top[np.argsort(-s[top])].tolist()
        if cfg["one_per_turn"]:
            seen, out = set(), []
            for u in order:
                t = int(c.unit_turn[u])
                if t not in seen:
                    seen.add(t)
                    out.append(u)
            order = out
        if cfg["max_per_doc"]:
            head, rest = [], list(order)
            while len(head) < 3 and rest:
                cnt = {}
                for u in head:
                    cnt[c.unit_docid[u]] = cnt.get(c.unit_docid[u], 0) + 1
                pick = next((u for u in rest if cnt.get(c.unit_docid[u], 0) < cfg["max_per_doc"]), rest[0])
                head.append(pick)
                rest.remove(pick)
            order = head + rest
        return order[:k]
