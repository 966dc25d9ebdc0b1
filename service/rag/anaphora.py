"""Which questions lean on the conversation before them, read from how their words are placed.

A pronoun or a demonstrative ("What did she say next?", "And before that?") points back; the
same words in some places point at nothing: an existential "there" ("Is there a plan for
broadband?", "There was a vote?"), an extraposed "it" ("Is it true that the plan failed?") and a
"that" opening a clause ("Did the minister say that the budget grew?").
Those are told apart by their neighbours (a form of "be", a clause after them), not by a longer
list of words: a question with nothing else that points back stands alone.

Questions only: this module reads no transcript.
"""

from __future__ import annotations

import re

from service.rag.text import STOP, words

# Words that make a question lean on the conversation before it ("Where did he work before?").
ANAPHORA = {
    "he", "him", "his", "she", "her", "hers", "they", "them", "their", "theirs", "it", "its",
    "this", "that", "these", "those", "there", "then", "former", "latter", "same", "also",
    "anyone", "anybody", "someone", "somebody", "else", "others", "next",  # "Did anyone disagree?"
}  # fmt: skip
# Openings that continue the conversation before ("And in Europe?", "What about pricing?", "Why?").
CONTINUATION = re.compile(r"\s*(and|but|so|or|also|what about|how about|why|how come|really)\b", re.IGNORECASE)

BE = {"is", "are", "was", "were", "be", "been", "isn't", "aren't", "wasn't", "weren't"}
# Words a noun phrase or a clause opens with: after "that" they make it a conjunction ("said that
# the plan …"), after "her" they make it an object ("gave her the report").
OPENERS = {"the", "a", "an", "some", "no", "any", "every", "all", "i", "we", "you", "he", "she", "they",
           "it", "there"}  # fmt: skip
# A place or a time after "was there" is where someone was ("Who was there at noon?"), not what
# there was; after "her", it makes "her" an object ("ask her about …").
PREPOSITIONS = {"at", "in", "on", "for", "with", "from", "to", "by", "about", "during", "before",
                "after", "until", "since", "when", "into", "over", "of"}  # fmt: skip
# Possessives: a name before them in the question is their owner ("her" is one when it owns what follows).
POSSESSIVES = {"its", "his", "their"}
_TOKEN = re.compile(r"[\w’']+|[^\w\s]")


def tokens(text: str) -> list[str]:
    """Words (as written, ’ read as ') and each punctuation mark as a token of its own."""
    return [t.replace("’", "'") for t in _TOKEN.findall(text)]


def _word(token: str) -> bool:
    return token[:1].isalnum()


def _at(toks: list[str], i: int) -> str:
    """The token at i, lower-cased; "" past either end of the question."""
    return toks[i].lower() if 0 <= i < len(toks) else ""


def opens_clause(toks: list[str], i: int) -> bool:
    """The token at i starts a clause or a noun phrase of its own: an opener ("the", "he") or a
    capitalised name ("Morneau") that is not the question's first word."""
    return _at(toks, i) in OPENERS or (0 < i < len(toks) and toks[i][:1].isupper())


def _expletive_there(toks: list[str], i: int) -> bool:
    """ "There is/was …", "there will be …", "is there a …": what exists, not a place ("Who was
    there?", "Was he there at noon?")."""
    nxt, after = _at(toks, i + 1), _at(toks, i + 2)
    if nxt in BE or (_word(nxt) and after in {"be", "been"}):
        return True
    return _at(toks, i - 1) in BE and _word(nxt) and nxt not in PREPOSITIONS


def _extraposed_it(toks: list[str], i: int) -> int | None:
    """Where the "that" is when the "it" at i stands for the clause after it: "is it true that
    …", "it was clear that …", "why is it that …" (the clause is asked about in full)."""
    before_be = _at(toks, i - 1) in BE
    start = i + 1 if before_be else i + 2 if _at(toks, i + 1) in BE else -1
    if start < 0:
        return None
    for j in range(start, start + 3):  # "is it that", "is it true that", "is it really true that"
        token = _at(toks, j)
        if token == "that" and (j > start or before_be) and _word(_at(toks, j + 1)):
            return j
        if not _word(token) or token in PREPOSITIONS:  # "was it in that report?": "that" refers
            return None
    return None


def _first_name(toks: list[str]) -> int:
    """Where the question's first name is (a capitalised word that is not its first); past the end if none."""
    return next((j for j, t in enumerate(toks) if j > 0 and _word(t) and t[:1].isupper()), len(toks))


def _not_pointing(toks: list[str]) -> set[int]:
    """Where "there", "it" and "that" point at nothing before: an existential "there", an
    extraposed "it" and its "that", a "that" before a clause ("said that the budget grew", "the
    plan that Morneau announced"); and a possessive whose owner the question names before it
    ("How does Tokaj Hills Estate irrigate its vineyard?", "What did Bains say about his plan?")."""
    found: set[int] = set()
    named = _first_name(toks)  # once: a possessive after it has its owner in the question
    for i, token in enumerate(toks):
        token = token.lower()
        possessive = token in POSSESSIVES or (token == "her" and owned_by_her(" " + _at(toks, i + 1)))
        if possessive and named < i or token == "there" and _expletive_there(toks, i):
            found.add(i)
        elif token == "it" and (that := _extraposed_it(toks, i)) is not None:
            found |= {i, that}
        elif token == "that" and opens_clause(toks, i + 1):
            found.add(i)
    return found


def pointing_words(question: str) -> list[str]:
    """The words of the question that point back at the conversation, in order."""
    toks = tokens(question)
    idle = _not_pointing(toks)
    return [t.lower() for i, t in enumerate(toks) if t.lower() in ANAPHORA and i not in idle]


_NEXT_WORD = re.compile(r"[ \t]+([\w’']+)")


def owned_by_her(rest: str) -> bool:
    """Whether "her" followed by `rest` is possessive ("her view on loans") rather than an object
    ("Did anyone answer her?", "ask her about loans", "give her the report", "her and Morneau"):
    an object ends the question or a phrase, or a preposition or a noun phrase follows it."""
    m = _NEXT_WORD.match(rest)
    return bool(m) and m.group(1).lower().replace("’", "'") not in PREPOSITIONS | OPENERS | {"and", "or"}


def is_follow_up(question: str) -> bool:
    """A question that cannot stand alone: it uses a pronoun that points back, opens as a
    continuation, or has no word of its own ("Pricing?" has one, and nothing else). "What is the
    weather in Paris?" is short, and stands alone."""
    ws = words(question)
    content = [w for w in ws if w not in STOP]
    return (bool(pointing_words(question)) or bool(CONTINUATION.match(question)) or not content
            or (len(content) == 1 and len(ws) <= 2))
