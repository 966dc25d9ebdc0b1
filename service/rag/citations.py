"""Citation checking: `[n]` markers that point at a source the answer was given are kept, others
dropped, as a stream (`CitationFilter`) or for a finished text (`check_answer`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.rag.abstain import is_abstention

# "[1]", "[1, 3]", "[1][2]" (two markers), "[Source 2]": a citation marker.
MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]", re.IGNORECASE)
# What a marker looks like while it is still arriving: "[", "[1", "[1,", "[Sour", …
PARTIAL = re.compile(r"\[\s*(?:s(?:o(?:u(?:r(?:c(?:e(?:s)?)?)?)?)?)?\s*)?(?:\d+(?:\s*[,;]\s*(?:sources?\s*)?\d*)*)?\s*$", re.IGNORECASE)


class CitationFilter:
    """Streams text through, dropping citation markers that point at sources not given.

    A marker is held back until it is complete; whitespace is held until the next visible
    character, so "claim [7]." becomes "claim." rather than "claim .". Everything emitted,
    concatenated, is `text`: the streamed answer and the final answer are the same string.
    """

    def __init__(self, valid: set[int]):
        self.valid = valid
        self.cited: list[int] = []
        self.removed: list[int] = []
        self.text = ""
        self._pending = ""
        self._space = ""
        self._dropped = False

    def _emit(self, out: list[str], piece: str) -> None:
        started = bool(self.text or out)
        if not started:
            piece = piece.lstrip()  # the answer starts at its first visible character
        body = piece.rstrip()
        if body:
            # After a dropped marker, "claim [7]." and "claim [7] and" lose the marker's space.
            joined = self._dropped and (body[0].isspace() or body[0] in ".,;:!?)")
            out.append(("" if joined else self._space) + body)
            self._space = piece[len(body):]
            self._dropped = False
        elif started:
            self._space = (self._space or piece) if self._dropped else self._space + piece

    def _marker(self, out: list[str], match: re.Match) -> None:
        numbers = [int(x) for x in re.findall(r"\d+", match.group(1))]
        keep = [x for x in numbers if x in self.valid]
        self.removed += [x for x in numbers if x not in self.valid]
        if not keep:
            self._dropped = True
            return
        self.cited += [x for x in keep if x not in self.cited]
        self._emit(out, match.group(0) if keep == numbers else "[" + ", ".join(map(str, keep)) + "]")

    def feed(self, chunk: str) -> str:
        """Take the next piece of model output; return the text that can be shown now."""
        self._pending += chunk
        out: list[str] = []
        while self._pending:
            i = self._pending.find("[")
            if i < 0:
                self._emit(out, self._pending)
                self._pending = ""
                break
            self._emit(out, self._pending[:i])
            rest = self._pending[i:]
            match = MARKER.match(rest)
            if match:
                self._marker(out, match)
                self._pending = rest[match.end():]
            elif PARTIAL.fullmatch(rest):
                self._pending = rest  # maybe a marker still arriving: wait for more
                break
            else:
                self._emit(out, "[")
                self._pending = rest[1:]
        piece = "".join(out)
        self.text += piece
        return piece

    def flush(self) -> str:
        """End of output: whatever was held back is plain text (trailing whitespace is dropped)."""
        rest, self._pending = self._pending, ""
        out: list[str] = []
        self._emit(out, rest)
        piece = "".join(out)
        self.text += piece
        return piece

    def result(self) -> Checked:
        """The verified answer so far (after `flush`: the final one)."""
        return Checked(self.text, sorted(self.cited), self.removed, is_abstention(self.text))


@dataclass
class Checked:
    """A generated answer after verification."""

    text: str
    citations: list[int]
    removed: list[int]
    abstained: bool

    @property
    def verified(self) -> bool:
        """Every kept citation points at a given source, and an answer that claims something cites one."""
        return self.abstained or bool(self.citations)


def check_answer(text: str, given: set[int]) -> Checked:
    """Verify a complete answer: drop citations to sources not given, detect an abstention."""
    f = CitationFilter(given)
    f.feed(text)
    f.flush()
    return f.result()
