"""Output handling: answers never carry a link or an image to an outside address.

A hostile transcript can ask a model (or, quoted, the built-in answerer) to print a Markdown
image whose URL carries data, or a link to click. Every answer goes through `clean_answer`:

- Markdown images `![alt](url)` are removed, whatever the URL;
- Markdown links `[text](url)` to an outside address keep their text only;
- `<img …>` tags naming an outside address are removed;
- bare `http(s)://…` and `www.…` addresses become "(link removed)";
- Unicode tag characters (invisible text, U+E0000–U+E007F) are dropped;
- (model output) a verbatim run of 48+ characters of the answer prompt's own text is removed:
  the model does not print its system prompt.

"Outside" is any absolute address whose host is not in ANSWER_LINK_HOSTS (or a subdomain of
one). Relative links and other schemes are left to the chat UI, which only links http(s)/mailto.
`LinkFilter` does the same to a stream: the pieces it emits add up to `clean_answer` of the whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from urllib.parse import urlsplit

from service.generate import _MARKER, Checked, CitationFilter, is_abstention
from service.prompts import load_prompt

LINK_REMOVED = "(link removed)"
PROMPT_REMOVED = "(removed)"
LEAK_CHARS = 48  # shorter runs are ordinary phrases ("The sources do not contain the answer." is 38)
IMAGE_REMOVED = "(image removed)"
_URL = r"(?:https?://|www\.)[^\s<>\"'()\[\]]+"
_PATTERN = re.compile(
    r"(?P<image>!\[[^\]\n]*\]\([^)\s]*\))"
    r"|(?P<link>\[(?P<text>[^\]\n]*)\]\((?P<href>[^)\s]*)\))"
    r"|(?P<tag><img\b[^>\n]*>)"
    rf"|(?P<url>\b{_URL})",
    re.IGNORECASE,
)
_ADDRESS = re.compile(rf"(?:https?:)?//[^\s<>\"'()\[\]]+|\b{_URL}", re.IGNORECASE)
_TAGS = re.compile("[\U000e0000-\U000e007f]")


def _host(url: str) -> str | None:
    """The host of an absolute http(s), protocol-relative or www. address; None for anything else."""
    if url.lower().startswith("www."):
        url = "//" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "invalid"
    if parts.scheme.lower() not in ("", "http", "https") or not parts.netloc:
        return None
    return (parts.hostname or "invalid").lower()


def is_outside(url: str, hosts: Iterable[str] = ()) -> bool:
    host = _host(url.strip())
    if host is None:
        return False
    return not any(host == h.lower() or host.endswith("." + h.lower()) for h in hosts)


def clean_answer(text: str, hosts: Iterable[str] = ()) -> str:
    """The answer without links or images to outside addresses (see the module doc)."""
    hosts = tuple(hosts)

    def bare(s: str) -> str:
        return _PATTERN.sub(lambda m: LINK_REMOVED if m["url"] and is_outside(m["url"], hosts) else m[0], s)

    def replace(m: re.Match) -> str:
        if m["image"]:
            return ""
        if m["link"]:
            return bare(m["text"]) if is_outside(m["href"], hosts) else f"[{bare(m['text'])}]({m['href']})"
        if m["tag"]:
            outside = any(is_outside(a, hosts) for a in _ADDRESS.findall(m["tag"]))
            return IMAGE_REMOVED if outside else m[0]
        return LINK_REMOVED if is_outside(m["url"], hosts) else m[0]

    return _PATTERN.sub(replace, _TAGS.sub("", text))


def safe_cut(text: str) -> int:
    """The longest prefix that `clean_answer` can handle alone: it ends after whitespace, with no
    `[` or `<` still open (only those constructs can span whitespace)."""
    cut, bracket, angle = 0, False, False
    for i, ch in enumerate(text):
        if ch == "\n":
            bracket = angle = False
        elif ch == "[":
            bracket = True
        elif ch == "]":
            bracket = False
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        if ch.isspace() and not bracket and not angle:
            cut = i + 1
    return cut


class LinkFilter:
    """`clean_answer` for a stream: holds back at most the unfinished last word or construct."""

    def __init__(self, hosts: Iterable[str] = ()):
        self.hosts = tuple(hosts)
        self.pending = ""
        self.text = ""

    def feed(self, piece: str) -> str:
        self.pending += piece
        cut = safe_cut(self.pending)
        out = clean_answer(self.pending[:cut], self.hosts) if cut else ""
        self.pending = self.pending[cut:]
        out = out if self.text else out.lstrip()  # a removed link may have opened the answer
        self.text += out
        return out

    def flush(self) -> str:
        out, self.pending = clean_answer(self.pending, self.hosts), ""
        out = out if self.text else out.lstrip()
        self.text += out
        return out


@cache
def prompt_fragments() -> tuple[str, ...]:
    """The fixed text of the answer prompt (system and user), line by line, placeholders cut out."""
    parts = []
    for name in ("answer_system", "answer_user"):
        for line in load_prompt(name).template.splitlines():
            parts += [p.strip().lower() for p in re.split(r"\{\w+\}", line)]
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
        left = {int(n) for m in _MARKER.finditer(self.text) for n in re.findall(r"\d+", m.group(1))}
        return [n for n in self.cite.cited if n in left]

    def result(self) -> Checked:
        """The verified answer, as CitationFilter.result() gives it, for the cleaned text."""
        return Checked(self.text, sorted(self.cited), self.cite.removed, is_abstention(self.text))

    def feed(self, raw: str) -> str:
        return self.leak.feed(self.links.feed(self.cite.feed(raw)))

    def flush(self) -> str:
        return self.leak.feed(self.links.feed(self.cite.flush()) + self.links.flush()) + self.leak.flush()
