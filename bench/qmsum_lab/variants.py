"""The experiments, in order. Each is a config over retrieval.DEFAULT (see there for the knobs)."""

B = dict(w_bm25=1.0, w_dense=0.0)  # BM25 only
H = dict(w_bm25=1.0, w_dense=1.0, fusion="z")  # hybrid

VARIANTS = [
    # --- baselines over speaker-turn pieces
    ("bm25_turns_raw", dict(B, q_strip_bm25=False)),
    ("bm25_turns", dict(B)),                       # + question-phrasing stopwords
    ("bm25_spk", dict(B, bm25_text="spk")),
    ("bm25_prev", dict(B, bm25_text="prev")),
    ("dense_plain", dict(w_bm25=0.0, w_dense=1.0)),
    ("dense_plain_qstrip", dict(w_bm25=0.0, w_dense=1.0, q_strip_dense=True)),
    ("dense_spk", dict(w_bm25=0.0, w_dense=1.0, emb="spk")),
    ("dense_prev", dict(w_bm25=0.0, w_dense=1.0, emb="prev")),
    ("dense_plain+prompt0.5", dict(w_bm25=0.0, w_dense=1.0, a_prompt=0.5)),
    ("dense_sent0.5", dict(w_bm25=0.0, w_dense=1.0, a_sent=0.5)),
    # --- hybrids
    ("hyb_z", dict(H)),
    ("hyb_rrf", dict(H, fusion="rrf")),
    ("hyb_minmax", dict(H, fusion="minmax")),
    ("hyb_z_spk", dict(H, emb="spk")),
    ("hyb_z_prev", dict(H, emb="prev")),
    ("hyb_z_bprev", dict(H, bm25_text="prev")),
]

# --- BM25 knobs (on bm25_spk)
BS = dict(B, bm25_text="spk")
VARIANTS += [
    ("bm25_spk_short80", dict(BS, short_len=80, short_pen=1.0)),
    ("bm25_spk_short150", dict(BS, short_len=150, short_pen=1.0)),
    ("bm25_spkboost1", dict(BS, spk_boost=1.0)),
    ("bm25_spkboost2", dict(BS, spk_boost=2.0)),
    ("bm25_spkboost2_dropnames", dict(BS, spk_boost=2.0, q_drop_names=True)),
    ("bm25_plain_spkboost2_dropnames", dict(B, spk_boost=2.0, q_drop_names=True)),
    ("bm25_spk_nb0.5", dict(BS, nb_lam=0.5)),
    ("bm25_spk_nb1.0w2", dict(BS, nb_lam=1.0, nb_win=2)),
    ("bm25_spk_doc0.5", dict(BS, doc_mu=0.5)),
    ("bm25_spk_doc1.0", dict(BS, doc_mu=1.0)),
    ("bm25_spkprev", dict(B, bm25_text="spk_prev")),
    ("bm25_spkprev200", dict(B, bm25_text="spk_prev", bm25_prev_chars=200)),
    ("bm25_spk_t400", dict(BS, target=400)),
    ("bm25_spk_t900", dict(BS, target=900)),
]

# --- BM25 combinations
BC = dict(B, bm25_text="spk_prev", bm25_prev_chars=200, spk_boost=2.0, q_drop_names=True)
VARIANTS += [
    ("bm25C", dict(BC)),
    ("bm25C_spk1", dict(BC, spk_boost=1.0)),
    ("bm25C_spk3", dict(BC, spk_boost=3.0)),
    ("bm25C_nb0.5", dict(BC, nb_lam=0.5)),
    ("bm25C_nb0.3", dict(BC, nb_lam=0.3)),
    ("bm25C_nb0.5_doc0.5", dict(BC, nb_lam=0.5, doc_mu=0.5)),
    ("bm25C_nb0.5_doc1", dict(BC, nb_lam=0.5, doc_mu=1.0)),
    ("bm25C_nb0.5_short150", dict(BC, nb_lam=0.5, short_len=150, short_pen=1.0)),
    ("bm25C_k1.2b0.5", dict(BC, k1=1.2, b=0.5)),
    ("bm25C_k1.2b0.9", dict(BC, k1=1.2, b=0.9)),
    ("bm25C_k2b0.75", dict(BC, k1=2.0)),
    ("bm25C_plaintext", dict(BC, bm25_text="prev")),
]

# --- hybrids on the best BM25 settings (dense = plain piece embedding)
BK = dict(BC, k1=1.2, b=0.5)
HK = dict(BK, w_dense=1.0, fusion="z")
VARIANTS += [
    ("hybK_z", dict(HK)),
    ("hybK_z_d0.5", dict(HK, w_dense=0.5)),
    ("hybK_z_d1.5", dict(HK, w_dense=1.5)),
    ("hybK_rrf", dict(HK, fusion="rrf")),
    ("hybK_z_short", dict(HK, short_len=120, short_pen=1.0)),
    ("hybK_z_prompt0.3", dict(HK, a_prompt=0.3)),
    ("hybK_z_prompt0.6", dict(HK, a_prompt=0.6)),
    ("hybK_z_nb0.5", dict(HK, nb_lam=0.5)),
    ("hybK_z_doc0.5", dict(HK, doc_mu=0.5)),
    ("hybK_z_qsd", dict(HK, q_strip_dense=True)),
]

HQ = dict(HK, q_strip_dense=True)
VARIANTS += [
    ("hybQ_doc_top3_0.3", dict(HQ, doc_mu=0.3, doc_top=3)),
    ("hybQ_doc_top10_0.5", dict(HQ, doc_mu=0.5, doc_top=10)),
    ("hybQ_doc_top20_0.5", dict(HQ, doc_mu=0.5, doc_top=20)),
    ("hybQ_doc_top20_1.0", dict(HQ, doc_mu=1.0, doc_top=20)),
    ("hybQ_doc_lse0.5_0.5", dict(HQ, doc_mu=0.5, doc_agg="lse", doc_temp=0.5)),
    ("hybQ_doc_lse1_0.5", dict(HQ, doc_mu=0.5, doc_agg="lse", doc_temp=1.0)),
    ("hybQ_doc_lse1_1.0", dict(HQ, doc_mu=1.0, doc_agg="lse", doc_temp=1.0)),
]

HD = dict(HQ, doc_mu=0.5, doc_top=20)
VARIANTS += [
    ("hybD_spk1", dict(HD, spk_boost=1.0)),
    ("hybD_spk3", dict(HD, spk_boost=3.0)),
    ("hybD_spk2_pr0.5", dict(HD, spk_prompt_boost=0.5)),
    ("hybD_spk2_pr1", dict(HD, spk_prompt_boost=1.0)),
    ("hybD_nodrop", dict(HD, q_drop_names=False)),
    ("hybD_short100", dict(HD, short_len=100, short_pen=1.0)),
    ("hybD_bspk", dict(HD, bm25_text="spk")),
    ("hybD_bplain", dict(HD, bm25_text="plain")),
    ("hybD_bprev400", dict(HD, bm25_prev_chars=400)),
    ("hybD_t500", dict(HD, target=500)),
    ("hybD_t800", dict(HD, target=800)),
]

HN = dict(HD, q_drop_names=False)
VARIANTS += [
    ("hybN_spk3", dict(HN, spk_boost=3.0)),
    ("hybN_spk1", dict(HN, spk_boost=1.0)),
    ("hybN_spk2_pr0.5", dict(HN, spk_prompt_boost=0.5)),
    ("hybN_spk3_pr1", dict(HN, spk_boost=3.0, spk_prompt_boost=1.0)),
    ("hybN_nodoc", dict(HN, doc_mu=0.0)),
    ("hybN_d0.7", dict(HN, w_dense=0.7)),
    ("hybN_d1.4", dict(HN, w_dense=1.4)),
    ("hybN_qsdoff", dict(HN, q_strip_dense=False)),
    ("hybN_short100", dict(HN, short_len=100, short_pen=1.0)),
]

HB = dict(HN, spk_boost=3.0)
VARIANTS += [
    ("hybB_docbm0.3", dict(HB, docbm_mu=0.3)),
    ("hybB_docbm0.6", dict(HB, docbm_mu=0.6)),
    ("hybB_docbm1.0", dict(HB, docbm_mu=1.0)),
    ("hybB_docbm0.6_nodoc", dict(HB, docbm_mu=0.6, doc_mu=0.0)),
]

HB6 = dict(HB, docbm_mu=0.6)
VARIANTS += [
    ("hybB6_opt", dict(HB6, one_per_turn=True)),
    ("hybB6_opt_mpd2", dict(HB6, one_per_turn=True, max_per_doc=2)),
    ("hybB6_opt_mpd1", dict(HB6, one_per_turn=True, max_per_doc=1)),
]

HO = dict(HB6, one_per_turn=True)
VARIANTS += [
    ("hybO_reply0.2", dict(HO, reply_lam=0.2)),
    ("hybO_reply0.4", dict(HO, reply_lam=0.4)),
    ("hybO_reply0.7", dict(HO, reply_lam=0.7)),
    ("hybO_reply0.4_short100", dict(HO, reply_lam=0.4, short_len=100, short_pen=1.0)),
]

# --- sentence-level dense (max-sim over a piece's sentences), on the best hybrid
VARIANTS += [
    ("hybO_sent0.3", dict(HO, a_sent=0.3)),
    ("hybO_sent0.5", dict(HO, a_sent=0.5)),
    ("hybO_sent0.8", dict(HO, a_sent=0.8)),
    ("hybO_sent0.5_d1.5", dict(HO, a_sent=0.5, w_dense=1.5)),
]

# --- dense with the prompting turn in the embedded text / speaker prefix, on the best hybrid
VARIANTS += [
    ("hybO_embprev", dict(HO, emb="prev")),
    ("hybO_embspk", dict(HO, emb="spk")),
    ("hybO_embprev_reply0.2", dict(HO, emb="prev", reply_lam=0.2)),
]

# --- after the val look (train only, not re-checked on val): piece size in the final recipe
VARIANTS += [
    ("hybB6_opt_t500", dict(HO, target=500)),
    ("hybB6_opt_spklong", dict(HO, short_len=100, short_pen=1.0)),
]
