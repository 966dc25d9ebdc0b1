"""Output filters for a streamed answer: what model text passes through before anyone sees it.

`SafeAnswer` chains, for each piece of model output, the citation filter (service/rag/citations.py:
markers to sources not given are dropped), the link filter (`LinkFilter`: `clean_answer` of
service/rag/links.py, for a stream: outside links and images removed, raw HTML escaped) and the
prompt-leak filter (`LeakFilter`: a verbatim run of 48+ characters of the answer prompt's own
text is removed; the model does not print its system prompt).
Each filter holds back only what may still change, and the pieces each emits add up to what it
would make of the whole text: the streamed answer and the final answer are the same string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from service.rag.abstain import is_abstention
from service.rag.citations import MARKER, Checked, CitationFilter
from service.rag.links import clean_answer
from service.rag.markup import escape_markup
from service.rag.prompts import load_prompt

PROMPT_REMOVED = "(removed)"
LEAK_CHARS = 48  # shorter runs are ordinary phrases ("The sources do not contain the answer." is 38)


class SafeCut:
    """Where a growing text may be cut for `clean_answer`: the end of its longest prefix that ends
    after whitespace with no `[`, `](` or `<` still open and no `[ref]:` still waiting for the end
    of its address (only those constructs can span whitespace). It resumes where it stopped, so a
    stream costs time in proportion to its length, however long its words."""

    def __init__(self):
        self.pos = self.cut = 0
        self.bracket = self.paren = self.angle = False
        self.dest: str | None = None  # "before" / "in" the address of a `[ref]:`

    def scan(self, text: str) -> int:
        """The cut for `text`: what was scanned before, with more appended."""
        cut, bracket, paren, angle, dest = self.cut, self.bracket, self.paren, self.angle, self.dest
        for i in range(self.pos, len(text)):
            ch = text[i]
            if ch == "\n":
                bracket = paren = angle = False
            elif ch == "[":
                bracket = True
            elif ch == "]":
                bracket = False
            elif ch == "(" and text[i - 1:i] == "]":
                paren = True
            elif ch == ")":
                paren = False
            elif ch == "<":
                angle = True
            elif ch == ">":
                angle = False
            if ch == ":" and text[i - 1:i] == "]":
                dest = "before"
            elif dest == "before" and not ch.isspace():
                dest = "in"
            elif dest == "in" and ch.isspace():
                dest = None
            if ch.isspace() and not (bracket or paren or angle or dest):
                cut = i + 1
        self.pos, self.cut, self.bracket, self.paren, self.angle, self.dest = (
            len(text), cut, bracket, paren, angle, dest)
        return cut

    def taken(self, n: int) -> None:
        """The first `n` characters were handed on: what is left is scanned as it was."""
        self.pos -= n
        self.cut -= n


def safe_cut(text: str) -> int:
    """The longest prefix of `text` that `clean_answer` can handle alone (see `SafeCut`)."""
    return SafeCut().scan(text)


class LinkFilter:
    """`clean_answer` for a stream: holds back at most the unfinished last word or construct."""

    def __init__(self, hosts: Iterable[str] = ()):
        self.hosts = tuple(hosts)
        self.pending = ""
        self.text = ""
        self.cutter = SafeCut()

    def feed(self, piece: str) -> str:
        self.pending += piece
        cut = self.cutter.scan(self.pending)
        out = clean_answer(self.pending[:cut], self.hosts) if cut else ""
        self.pending = self.pending[cut:]
        self.cutter.taken(cut)
        out = out if self.text else out.lstrip()  # a removed link may have opened the answer
        self.text += out
        return out

    def flush(self) -> str:
        out, self.pending = clean_answer(self.pending, self.hosts), ""
        self.cutter = SafeCut()
        out = out if self.text else out.lstrip()
        self.text += out
        return out


@cache
def prompt_fragments() -> tuple[str, ...]:
    """The fixed text of the answer prompt (system and user), line by line, placeholders cut out,
    as the link filter before it writes it (its `<sources>` escaped)."""
    parts = []
    for name in ("answer_system", "answer_user"):
        for line in load_prompt(name).template.splitlines():
            parts += [escape_markup(p.strip().lower()) for p in re.split(r"\{\w+\}", line)]
    return tuple(p for p in parts if len(p) >= LEAK_CHARS)


class LeakFilter:
    """Removes verbatim runs of the prompt's own text from a stream.

    Text is held back only while its tail could still be part of a prompt line; a run that
    reaches LEAK_CHARS is dropped when it ends, anything shorter is let through.
    """

    def __init__(self, fragments: Iterable[str]):
        self.fragments = tuple(f.lower() for f in fragments)
        self.held = ""
        self.text = ""

    def _matches(self, s: str) -> bool:
        low = s.lower()
        return any(low in f for f in self.fragments)

    def _release(self, cand: str) -> str:
        """cand broke the run held so far: hold its longest matching tail, give back the rest."""
        start = next((j for j in range(len(cand)) if self._matches(cand[j:])), len(cand))
        self.held = cand[start:]
        return cand[:start]

    def feed(self, piece: str) -> str:
        out = []
        for ch in piece:
            cand = self.held + ch
            if self._matches(cand):
                self.held = cand
            elif len(self.held) >= LEAK_CHARS:
                out.append(PROMPT_REMOVED)
                out.append(self._release(ch))
            else:
                out.append(self._release(cand))
        text = "".join(out)
        self.text += text
        return text

    def flush(self) -> str:
        text = PROMPT_REMOVED if len(self.held) >= LEAK_CHARS else self.held
        self.held = ""
        self.text += text
        return text


class SafeAnswer:
    """Model output through the citation filter, the link filter and the prompt-leak filter:
    what the pipeline streams. `text` is what was emitted (the final answer), `cited` the
    citations still in it.
    """

    def __init__(self, valid: set[int], hosts: Iterable[str] = ()):
        self.cite = CitationFilter(valid)
        self.links = LinkFilter(hosts)
        self.leak = LeakFilter(prompt_fragments())

    @property
    def text(self) -> str:
        return self.leak.text

    @property
    def cited(self) -> list[int]:
        """Citations kept by the citation filter that are still in the text."""
        left = {int(n) for m in MARKER.finditer(self.text) for n in re.findall(r"\d+", m.group(1))}
        return [n for n in self.cite.cited if n in left]

    def result(self) -> Checked:
        """The verified answer, as CitationFilter.result() gives it, for the cleaned text."""
        return Checked(self.text, sorted(self.cited), self.cite.removed, is_abstention(self.text))

    def feed(self, raw: str) -> str:
        return self.leak.feed(self.links.feed(self.cite.feed(raw)))

    def flush(self) -> str:
        return self.leak.feed(self.links.feed(self.cite.flush()) + self.links.flush()) + self.leak.flush()
