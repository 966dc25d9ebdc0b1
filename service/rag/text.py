"""Words and search tokens: how the keyword index, the evidence and the answerer read text.

`words` splits text into lower-cased words (typographic apostrophes made plain); a `Tokenizer`
keeps the content words, stemmed, as BM25 indexes them and as the answerer's lexical overlap
counts them: both must read a word the same way.
"""

from __future__ import annotations

import re

import bm25s
import Stemmer

WORD = re.compile(r"[\w’']+")
# Words that carry no content: English stop words and the question words.
STOP = set(bm25s.stopwords.STOPWORDS_EN) | {"what", "when", "where", "which", "who", "whom",
                                            "why", "how", "does", "did", "do", "much", "many"}


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, with ’ read as '."""
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
