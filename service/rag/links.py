"""Links in answers: an answer never carries a link or an image to an outside address.

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
- last, any other raw HTML is escaped (`escape_markup` of service/rag/markup.py): no tag of any
  kind reaches a reader, so an address inside one (entity-encoded or not) is never followed.

An address is read as a browser reads a link (WHATWG URL parsing: tabs and newlines dropped, any
mix of `/` and `\\` after `http(s):`, protocol-relative `//host` and `\\host`, credentials before
`@`). Only a relative link or an http(s) address whose host is in ANSWER_LINK_HOSTS (or a subdomain
of one) is "inside"; every other scheme, and any host that is not plain ASCII, is outside.
For a stream, `LinkFilter` (service/rag/filters.py) emits pieces that add up to `clean_answer`
of the whole.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from service.rag.markup import escape_markup

LINK_REMOVED = "(link removed)"
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
    """The answer without links or images to outside addresses, and without raw HTML (see the
    module doc): what every answer is, quoted or generated."""
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

    return escape_markup(_PATTERN.sub(replace, _TAGS.sub("", text)))
