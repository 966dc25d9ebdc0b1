"""Output handling: answers never carry a link or an image to an outside address.

A hostile transcript can ask a model (or, quoted, the built-in answerer) to print a Markdown
image whose URL carries data, or a link to click. Every answer goes through `clean_answer`:

- Markdown images `![alt](url)` are removed, whatever the URL;
- Markdown links `[text](url)` (also `(<url> "title")`) to an outside address keep their text
  only, and reference definitions `[ref]: url` lose the address;
- `<img …>` tags naming an outside address are removed;
- bare addresses to an outside host become "(link removed)": `scheme://…` and `scheme:\\…`
  (any scheme, `xhttps://` too, wherever it starts in a word), `http(s):` followed by anything
  (`https:host`, `https:/host`), `mailto:`, `javascript:`, `vbscript:`, `data:`, `file:`, `www.…`,
  and a protocol-relative `//host` or `\\host`;
- Unicode tag characters (invisible text, U+E0000–U+E007F) are dropped;
- (model output) a verbatim run of 48+ characters of the answer prompt's own text is removed:
  the model does not print its system prompt.

An address is read as a browser reads a link (WHATWG URL parsing: tabs and newlines dropped, any
mix of `/` and `\\` after `http(s):`, protocol-relative `//host` and `\\host`, credentials before
`@`). Only a relative link or an http(s) address whose host is in ANSWER_LINK_HOSTS (or a subdomain
of one) is "inside"; every other scheme, and any host that is not plain ASCII, is outside.
`LinkFilter` does the same to a stream: the pieces it emits add up to `clean_answer` of the whole.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import cache

from service.generate import _MARKER, Checked, CitationFilter, is_abstention
from service.prompts import load_prompt

LINK_REMOVED = "(link removed)"
PROMPT_REMOVED = "(removed)"
LEAK_CHARS = 48  # shorter runs are ordinary phrases ("The sources do not contain the answer." is 38)
IMAGE_REMOVED = "(image removed)"
_TAIL = r"[^\s<>\"'()\[\]]+"
# What a browser or a Markdown renderer may take for an address, wherever it starts in a word:
# scheme:// or scheme:\\ (any scheme), http(s): with any slashes or none, the mail, script and
# data schemes, www., and a protocol-relative //host or \\host (see the module doc).
_URL = (
    rf"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:[/\\]{{2}}{_TAIL}"  # from the scheme's start: linear time
    rf"|https?:{_TAIL}"
    rf"|(?<![a-z0-9])(?:mailto|javascript|vbscript|data|file):{_TAIL}"
    rf"|(?<![a-z0-9.-])www\.{_TAIL}"
    rf"|(?<![\w:/\\])[/\\]{{2}}(?=[^\s/\\]){_TAIL}"  # //host, \\host where a link may start
)
# A Markdown link destination: optionally in <…>, optionally followed by a title. No part of a
# link or tag pattern runs past the next `[` or `<`, so a run of them costs linear time.
_DEST = r"\([ \t]*(?P<{}><[^<>\n]*>|[^\[\]\s)]*)(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*\)"
_PATTERN = re.compile(
    r"(?P<image>!\[[^\[\]\n]*\]" + _DEST.format("src") + ")"
    r"|(?P<link>\[(?P<text>[^\[\]\n]*)\]" + _DEST.format("href") + ")"
    r"|(?P<refdef>\[(?P<label>[^\[\]\n]+)\](?P<sep>:[ \t]*\n?[ \t]*)(?P<dest><[^<>\n]*>|\S+))"
    r"|(?P<tag><img\b[^<>\n]*>)"
    rf"|(?P<url>{_URL})",
    re.IGNORECASE,
)
_ADDRESS = re.compile(rf"{_URL}|[/\\]{{2}}{_TAIL}", re.IGNORECASE)
_TAGS = re.compile("[\U000e0000-\U000e007f]")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_AUTHORITY = re.compile(r"[/\\]*([^/\\?#]*)")
_HOST_PORT = re.compile(r"(?P<host>[a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::\d*)?", re.IGNORECASE)
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def link_target(url: str) -> tuple[str, str | None] | None:
    """(scheme, host) of a link to `url` as a browser follows it, None for a relative link.

    WHATWG parsing, reduced to what decides where a click goes: tabs and newlines are dropped,
    leading and trailing controls and spaces too; after `http(s):` any run of `/` and `\\` is
    skipped (`https:host` and `https:\\host` reach `host`); `//host` and `\\host` are
    protocol-relative (http(s)); credentials end at the last `@`. The host is None when it is not
    a plain ASCII name (percent-escapes, Unicode, IP-v6 brackets, a bad port): such a host is
    never taken for an allowed one.
    """
    url = re.sub(r"[\t\n\r]", "", url).strip(_C0_AND_SPACE)
    if url[:4].lower() == "www.":
        url = "//" + url
    if m := _SCHEME.match(url):
        scheme, rest = m[1].lower(), url[m.end():]
        if scheme not in ("http", "https"):
            return scheme, None
    elif url[:2] in ("//", "\\\\", "/\\", "\\/"):
        scheme, rest = "https", url
    else:
        return None
    authority = _AUTHORITY.match(rest)[1].rpartition("@")[2]
    host = _HOST_PORT.fullmatch(authority)
    return scheme, host["host"].lower() if host else None


def is_outside(url: str, hosts: Iterable[str] = ()) -> bool:
    """True unless following `url` stays on this site (a relative link) or reaches an allowed
    host over http(s): every other scheme (mailto:, javascript:, data:, xhttps: …) is outside."""
    target = link_target(url)
    if target is None:
        return False
    scheme, host = target
    if scheme not in ("http", "https") or not host:
        return True
    return not any(host == h.lower() or host.endswith("." + h.lower()) for h in hosts)


def _readings(href: str) -> set[str]:
    """The ways a renderer may read a link destination: as written, `<…>` unwrapped, with HTML
    entities decoded (`https&#58;//`) and Markdown backslash escapes applied."""
    href = href.removeprefix("<").removesuffix(">")
    decoded = html.unescape(href)
    return {href, decoded, _MD_ESCAPE.sub(r"\1", decoded)}


def leads_outside(href: str, hosts: Iterable[str] = ()) -> bool:
    """A link destination is outside when any reading of it is, or names an outside address
    inside it (a relative `go?to=https://…` is not let through to a renderer that differs)."""
    return any(is_outside(r, hosts) or any(is_outside(a, hosts) for a in _ADDRESS.findall(r))
               for r in _readings(href))


def clean_answer(text: str, hosts: Iterable[str] = ()) -> str:
    """The answer without links or images to outside addresses (see the module doc)."""
    hosts = tuple(hosts)

    def address(m: re.Match) -> str:
        url = m["url"].rstrip(".,;:!?")  # a sentence's own punctuation stays (as renderers read it)
        return LINK_REMOVED + m["url"][len(url):] if is_outside(url, hosts) else m[0]

    def bare(s: str) -> str:
        return _PATTERN.sub(lambda m: address(m) if m["url"] else m[0], s)

    def replace(m: re.Match) -> str:
        if m["image"]:
            return ""
        if m["link"]:
            return bare(m["text"]) if leads_outside(m["href"], hosts) else f"[{bare(m['text'])}]({m['href']})"
        if m["refdef"]:
            dest = LINK_REMOVED if leads_outside(m["dest"], hosts) else m["dest"]
            return f"[{bare(m['label'])}]{m['sep']}{dest}"
        if m["tag"]:
            outside = any(is_outside(a, hosts) for a in _ADDRESS.findall(html.unescape(m["tag"])))
            return IMAGE_REMOVED if outside else m[0]
        return address(m)

    return _PATTERN.sub(replace, _TAGS.sub("", text))


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
