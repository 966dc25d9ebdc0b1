"""Abstention, the one rule: when an answer says "not in the transcripts", and the words it uses.

The built-in answerer abstains with ABSTAIN_TEXT when the fitted abstention model gives its best
evidence less than even odds of answering (`should_abstain`; service/rag/params.py); the answer
prompt asks a model for ABSTAIN_PHRASE; `is_abstention` recognises
either, or a model's paraphrase, in a finished answer.
"""

from __future__ import annotations

import re

ABSTAIN_TEXT = (
    "The transcripts do not cover this question, so I cannot answer it from them. "
    "The closest passages are listed below."
)
# A follow-up whose best quotes were all quoted before: it found nothing new, and says so rather
# than repeat the previous answer (service/rag/followup.py, `repeats`).
NOTHING_NEW_TEXT = (
    "The transcripts say nothing more on this than what I quoted before. "
    "The closest passages are listed below."
)
# Asked for another answer (`exclude`: the passages of the one given), the next passages hold none.
NO_OTHER_TEXT = (
    "The transcripts give no other answer to this question than the one before. "
    "The next closest passages are listed below."
)
# The sentence the answer prompt asks for when the sources do not hold the answer; passed into the
# prompt (service/rag/prompts.py) and detected here.
ABSTAIN_PHRASE = "The sources do not contain the answer."
PARAPHRASE = re.compile(
    r"\b(?:sources?|transcripts?|passages?|context|provided (?:text|information))\b[^.\n]{0,60}?"
    r"\b(?:do(?:es)?\s*(?:n[o']?t|not)|did\s*(?:n[o']?t|not))\s+"
    r"(?:contain|mention|include|provide|say|cover|specify|state|give|have)\b"
    r"|\bnot (?:in|mentioned in|covered by|found in|stated in) the (?:sources?|transcripts?|passages?)\b",
    re.IGNORECASE,
)


def is_abstention(text: str) -> bool:
    """Does the answer say the sources do not hold the answer (the prompt's fixed phrase or a paraphrase)?"""
    return ABSTAIN_PHRASE.lower() in text.lower() or bool(PARAPHRASE.search(text))


def should_abstain(evidence: float | None, threshold: float) -> bool:
    """No evidence, or evidence under the bar: say the transcripts do not cover it."""
    return evidence is None or evidence < threshold
