"""The embedder's one-pass encode of chunks and their sentences (late chunking), real model."""

from __future__ import annotations

import numpy as np

from ingest.chunk import split_sentences


def _spans(text: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in split_sentences(text)]


def test_chunk_vectors_are_exactly_the_models_own(embedder):
    texts = ["What is Alibaba Cloud's strategy?\nWe focus on Europe. Our customers are global.",
             "Who do you look up to?\nWanli Min, our chief scientist.", "Short."]
    vecs, per_text = embedder.encode_pieces(texts, [_spans(t) for t in texts])
    assert np.abs(vecs - embedder.encode(texts)).max() < 1e-5
    assert [len(v) for v in per_text] == [len(_spans(t)) for t in texts]


def test_sentence_vectors_are_normalised_and_follow_their_sentence(embedder):
    text = "Tell us about your career.\nI worked at Oracle as a developer. Later I loved cooking pasta at home."
    spans = _spans(text)
    _, (sent,) = embedder.encode_pieces([text], [spans])
    assert np.allclose(np.linalg.norm(sent, axis=1), 1.0, atol=1e-5)
    q = embedder.encode(["Which company did he work for as a developer?", "What food does he cook?"])
    sims = q @ sent.T
    work, food = spans.index(next(s for s in spans if "Oracle" in text[s[0]:s[1]])), len(spans) - 1
    assert sims[0, work] > sims[0, food] and sims[1, food] > sims[1, work]


def test_a_sentence_cut_off_by_the_length_limit_is_encoded_on_its_own(embedder):
    filler = " ".join(f"Sentence number {i} talks about cloud regions and data centres." for i in range(60))
    last = "The final remark concerns Frankfurt pricing."
    text = f"{filler} {last}"
    start = text.index(last)
    before = embedder.encoded
    _, (sent,) = embedder.encode_pieces([text], [[(0, 40), (start, start + len(last))]])
    assert embedder.encoded - before == 2  # the text, and the truncated sentence again
    assert np.abs(sent[1] - embedder.encode([last])[0]).max() < 1e-5
