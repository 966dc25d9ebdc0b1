"""Words and search tokens: how the keyword index, the evidence and the answerer read text.

`words` splits text into lower-cased words (typographic apostrophes made plain); a `Tokenizer`
keeps the content words, stemmed, as BM25 indexes them and as the answerer's lexical overlap
counts them: both must read a word the same way.
"""

from __future__ import annotations

import itertools
import re

import bm25s
import Stemmer

WORD = re.compile(r"[\w’']+")
# Dotted initialisms ("U.K.", "U.S.A."): read as one word, as written without the dots ("UK").
INITIALISM = re.compile(r"\b(?:[^\W\d_]\.){2,}")
# Words that carry no content: English stop words and the question words.
STOP = set(bm25s.stopwords.STOPWORDS_EN) | {"what", "when", "where", "which", "who", "whom",
                                            "why", "how", "does", "did", "do", "much", "many"}


# Words that say how to answer, not what about ("summarize the discussion about…", "what did
# X say about…"): left out of the search query, kept in the question the answerer reads.
PHRASING = {
    "summarize", "summarise", "summary", "summarized", "discussion", "discussions", "discuss",
    "discussed", "discussing", "talk", "talked", "talking", "talks", "say", "said", "saying",
    "says", "think", "thought", "thinks", "opinion", "opinions", "meeting", "group", "debate",
    "debated", "debates", "elaborate", "elaborated", "mention", "mentioned", "view", "views",
    "respond", "responded", "response", "answer", "answered", "answers", "question", "questions",
    "questioning", "inquiries", "specific", "people", "overall", "tell", "explain", "describe",
}  # fmt: skip


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, with ’ read as '."""
    text = INITIALISM.sub(lambda m: m.group().replace(".", ""), text)
    return [w.lower().replace("’", "'") for w in WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """The words of `text` that are not stop words, in order."""
    return [w for w in words(text) if w not in STOP]


class Tokenizer:
    """Stemmed content words (English Snowball stemmer), in order."""

    def __init__(self):
        self.stemmer = Stemmer.Stemmer("english")

    def tokens(self, text: str) -> list[str]:
        return self.stemmer.stemWords(content_words(text))

    def query_tokens(self, question: str) -> list[str]:
        """The search tokens of a question: its content words without the phrasing words."""
        return self.stemmer.stemWords([w for w in content_words(question) if w not in PHRASING])


def pairs(tokens: list[str]) -> list[str]:
    """Each token joined to the next ("wage", "subsidi", "program" -> "wage_subsidi",
    "subsidi_program"): a keyword index over these matches phrases, not only words."""
    return [f"{a}_{b}" for a, b in itertools.pairwise(tokens)]


def query_text(question: str) -> str:
    """The question as embedded for search: its content words, without the phrasing words
    (measured on the hearings: "What did Bains say about loans?" is searched as "Bains loans")."""
    kept = [w for w in WORD.findall(question) if w.lower().replace("’", "'") not in STOP | PHRASING]
    return " ".join(kept) or question


def natural(text: str) -> tuple:
    """A sort key that reads the numbers in a name as numbers: "covid_2" before "covid_10"."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", text) if part)
