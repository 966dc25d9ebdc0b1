"""Markdown interviews: questions as headings, bold paragraphs or `**Q:**`-style labels.

- The first `#` heading (or a front-matter `title:`) is the title.
- `##`/`###` … headings are questions, except section names such as "Introduction" or
  "Related articles" (intro before the first question, dropped after it).
- A wholly bold paragraph that reads as a question (`**What …?**`, `**Tell us about …**`) is
  a question; one that does not (a pull quote, a label) is dropped. A paragraph that opens with
  a bold question followed by text (`**Why Singapore?** Because …`) is a question and answer.
- `**Interviewer:** …`, `**Q:** …`, `**Jane Doe:** …`, `**Q: What …?**` and plain `Q: …` are
  speaker labels (see `ingest.parse.assemble` for who is the interviewer).
- Without any of these, paragraphs are judged like the plain format (`is_question`).

Emphasis, links, images, code spans, HTML tags and escapes are stripped from the indexed text.
Every step takes time linear in the file's length, whatever it holds (see `strip_inline`).
"""

from __future__ import annotations

import re

from ingest.parse import (
    Item,
    Transcript,
    TranscriptError,
    assemble,
    build,
    honour_labels,
    is_question,
    match_label,
)

_EXPECTED = (
    "questions as '##' headings, bold paragraphs such as '**What …?**', or speaker lines such "
    "as '**Q:** …' / '**Interviewer:** …', each followed by its answer paragraphs"
)
_ATX = re.compile(r"^ {0,3}(#{1,6})(?=[ \t]|$)")
_SETEXT_1 = re.compile(r"^ {0,3}=+[ \t]*$")
_SETEXT_2 = re.compile(r"^ {0,3}-+[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?")
_LINK_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+")
# Headings that name a section of the page rather than ask something.
INTRO_SECTIONS = re.compile(
    r"^(intro(duction)?|about( (him|her|them|the (guest|interviewee|speaker)))?|summary|"
    r"overview|abstract|bio(graphy)?|background info(rmation)?|(the )?transcript|(the )?interview|"
    r"key (points|takeaways)|highlights|tl;?dr|contents|table of contents)$",
    re.IGNORECASE,
)
END_SECTIONS = re.compile(
    r"^(related( (articles|posts|reading|links))?|references|links|footnotes|notes|credits|"
    r"see also|further reading|about the (author|interviewer)|share( this)?|comments|"
    r"acknowledg(e)?ments|tags|more from .*)$",
    re.IGNORECASE,
)
_EMPH = r"(\*\*|__|\*|_)"
_BOLD_LABEL = [
    # **Q:** rest   /   **Q**: rest
    re.compile(
        r"^" + _EMPH + r"(?P<label>[^*_:\n]{1,60}?)[ \t]*:[ \t]*\1[ \t]*(?P<rest>.*)$", re.DOTALL
    ),
    re.compile(r"^" + _EMPH + r"(?P<label>[^*_:\n]{1,60}?)\1[ \t]*:[ \t]*(?P<rest>.*)$", re.DOTALL),
    # **Q: What …?** rest
    re.compile(
        r"^"
        + _EMPH
        + r"(?P<label>[^*_:\n]{1,60}?)[ \t]*:[ \t]+(?P<rest>(?:(?!\1).)+?)\1[ \t]*(?P<after>.*)$",
        re.DOTALL,
    ),
]
_WHOLE_BOLD = re.compile(r"^(\*\*|__)(?P<body>(?:(?!\1).)+)\1$", re.DOTALL)
_BOLD_LEAD = re.compile(r"^(\*\*|__)(?P<lead>(?:(?!\1).)+?)\1[ \t]*(?P<rest>\S.*)$", re.DOTALL)
# Inline patterns, each written so that it runs in linear time on any input: no pattern can
# scan past the next delimiter of its kind (a bracket, a paren, the same emphasis marker), so
# an opener without a closer costs only the text up to the next one. (Lazy `(.+?)` groups
# made `**a ` repeated 8,000 times take seconds, and more with the square of the length.)
_URL = r"\((?:[^()]|\([^()]*\))*\)"  # (url "title"), with one level of parens inside
_IMAGE = re.compile(r"!\[([^\[\]]*)\]" + _URL)
_LINK = re.compile(r"\[([^\[\]]+)\]" + _URL)
_REF_LINK = re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\[\]]+\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_TICKS = re.compile(r"`+")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
# Emphasis: the text inside may hold the marker only where it can neither open nor close
# (between spaces, or inside a word for `*`/`_`), so a scan stops at the next marker that could.
_STRONG = re.compile(r"(\*\*|__)(?=\S)((?:(?!\1).|(?<=\s)\1(?=\s))+?)(?<=\S)\1", re.DOTALL)
_EM_STAR = re.compile(
    r"(?<![\w*])\*(?=[^\s*])((?:[^*]|(?<=\s)\*(?=\s)|(?<=\w)\*(?=\w))+?)(?<=[^\s*])\*(?![\w*])"
)
_EM_UNDERSCORE = re.compile(
    r"(?<![\w_])_(?=[^\s_])((?:[^_]|(?<=\s)_(?=\s)|(?<=\w)_(?=\w))+?)(?<=[^\s_])_(?![\w_])"
)
_STRIKE = re.compile(r"~~(.+?)~~", re.DOTALL)  # (any later `~~` closes: a scan ends there)
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|<])")
_ESC = "\ue000"
_RESTORE = re.compile(_ESC + r"(\d+)" + _ESC)
# A string without any of these characters has no inline Markdown: it is its own plain text.
_SPECIAL = re.compile(r"[\\<\[`*_~" + _ESC + "]")


def _drop_comments(s: str) -> str:
    """`s` without `<!-- … -->` comments (found with str.find: one pass over the text)."""
    out, pos = [], 0
    while (start := s.find("<!--", pos)) >= 0:
        end = s.find("-->", start + 4)
        if end < 0:
            break
        out.append(s[pos:start])
        pos = end + 3
    out.append(s[pos:])
    return "".join(out)


def _strip_code(s: str) -> str:
    """Code spans replaced by their text: a run of backticks is closed by the next run of the
    same length on its line. Each run's closer is looked up in a table built in one pass from
    the right, so this takes linear time (a scan per run took more)."""
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(s)]
    if len(runs) < 2:
        return s
    line, prev, keys = 0, 0, []
    for start, end in runs:
        line += s.count("\n", prev, start)
        prev = start
        keys.append((line, end - start))
    closer: list[int | None] = [None] * len(runs)
    last: dict[tuple[int, int], int] = {}
    for i in range(len(runs) - 1, -1, -1):
        closer[i] = last.get(keys[i])
        last[keys[i]] = i
    out, pos, i = [], 0, 0
    while i < len(runs):
        j = closer[i]
        if j is None:
            i += 1
            continue
        out += [s[pos : runs[i][0]], s[runs[i][1] : runs[j][0]].strip()]
        pos, i = runs[j][1], j + 1
    out.append(s[pos:])
    return "".join(out)


def strip_inline(s: str) -> str:
    """Plain text of inline Markdown: emphasis, links, images, code, HTML and escapes."""
    if not _SPECIAL.search(s):
        return s
    s = _ESCAPED.sub(lambda m: _ESC + str(ord(m.group(1))) + _ESC, s)
    s = _drop_comments(s)
    s = _IMAGE.sub("", s)
    s = _FOOTNOTE_REF.sub("", s)
    s = _LINK.sub(r"\1", s)  # [text](url "title")
    s = _REF_LINK.sub(r"\1", s)  # [text][ref]
    s = _AUTOLINK.sub(r"\1", s)
    s = _strip_code(s)
    s = _HTML_TAG.sub("", s)
    for _ in range(2):  # nested emphasis: ***x***, **_x_**
        s = _STRONG.sub(r"\2", s)
        s = _EM_STAR.sub(r"\1", s)
        s = _EM_UNDERSCORE.sub(r"\1", s)
    s = _STRIKE.sub(r"\1", s)
    return _RESTORE.sub(lambda m: chr(int(m.group(1))), s)


def _front_title(lines: list[str]) -> str:
    """The `title:` of YAML front matter, without its quotes (in one pass over each line)."""
    for line in lines:
        if line.startswith("title:") and len(line) > len("title:"):
            value = line[len("title:") :].strip(" \t")
            if len(value) >= 3 and value[0] in "\"'" and value[-1] == value[0]:
                value = value[1:-1]
            return value.strip()
    return ""


def _blocks(text: str) -> tuple[str, list[tuple[str, int, list[str]]]]:
    """Front-matter title and the block structure: (kind, heading level, lines)."""
    lines = text.split("\n")
    front_title = ""
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                front_title = _front_title(lines[1:i])
                lines = lines[i + 1 :]
                break
    out: list[tuple[str, int, list[str]]] = []
    para: list[str] = []
    fence = ""
    in_comment = False

    def flush() -> None:
        if para:
            out.append(("para", 0, para.copy()))
            para.clear()

    for line in lines:
        if fence:
            if line.strip().startswith(fence):
                fence = ""
                flush()
            else:
                para.append(line)
            continue
        if in_comment:
            in_comment = "-->" not in line
            continue
        if line.lstrip().startswith("<!--") and "-->" not in line:
            in_comment = True
            continue
        m = _FENCE.match(line)
        if m:
            flush()
            fence = m.group(1)
            continue
        content = _QUOTE.sub("", line)
        if not content.strip():
            flush()
            continue
        if _LINK_DEF.match(content):
            continue
        m = _ATX.match(content)
        if m:
            flush()
            out.append(("heading", len(m.group(1)), [_atx_text(content[m.end() :])]))
            continue
        if para and len(para) == 1 and _SETEXT_1.match(content):
            out.append(("heading", 1, para.copy()))
            para.clear()
            continue
        if para and len(para) == 1 and _SETEXT_2.match(content) and not _LIST_ITEM.match(para[0]):
            out.append(("heading", 2, para.copy()))
            para.clear()
            continue
        if _RULE.match(content):
            flush()
            continue
        if para and _starts_label(content):
            flush()  # speaker lines often follow each other without a blank line
        para.append(content)
    flush()
    return front_title, out


def _atx_text(rest: str) -> str:
    """The text of an ATX heading after its opening `#`s, without a closing run of `#`s.

    (In linear time: a regex with a lazy text group took quadratic time on long lines.)
    """
    text = rest.strip(" \t")
    if text.endswith("#"):
        before = text.rstrip("#")
        if before.endswith((" ", "\t")):
            return before.rstrip(" \t")
    return text


def _starts_label(line: str) -> bool:
    line = line.strip()
    if any(rx.match(line) for rx in _BOLD_LABEL):
        return True
    return bool(match_label(strip_inline(line)))


def _join(lines: list[str]) -> str:
    """One paragraph's raw Markdown: soft breaks become spaces, list items keep their lines.

    (The pieces are joined once at the end, so a paragraph of many lines takes linear time.)
    """
    out: list[str] = []
    tail = ""  # the last two characters of the text so far
    for line in lines:
        piece = line.strip()
        if not tail:
            out = [piece]
            tail = piece[-2:]
        elif _LIST_ITEM.match(line) or tail.endswith(("  ", "\\")):
            while out and not out[-1].rstrip(" \\"):
                out.pop()  # the break takes trailing spaces and backslashes, however far back
            if out:
                out[-1] = out[-1].rstrip(" \\")
            out += ["\n", piece]
            tail = ("\n" + piece)[-2:]
        else:
            out += [" ", piece]
            tail = (tail + " " + piece)[-2:]
    return "".join(out)


def _plain(raw: str) -> str:
    lines = [_LIST_ITEM.sub("", line) for line in raw.split("\n")]
    return "\n".join(" ".join(strip_inline(line).split()) for line in lines).strip()


def _label(raw: str) -> tuple[str, str, str, str] | None:
    """(label, role, text, text after a bold label+question) of a speaker line, or None."""
    for rx in _BOLD_LABEL:
        m = rx.match(raw)
        if m:
            found = match_label(strip_inline(m.group("label")).strip() + ": ")
            if found and found.end() >= len(strip_inline(m.group("label")).strip()) + 1:
                after = m.groupdict().get("after") or ""
                return found.group("label"), found.group("role") or "", m.group("rest"), after
    plain = strip_inline(raw)
    m = match_label(plain)
    if m:
        # Find the same label in the raw text so the rest keeps its own Markdown.
        raw_m = match_label(raw)
        rest = (
            raw[raw_m.end() :]
            if raw_m and raw_m.group("label") == m.group("label")
            else plain[m.end() :]
        )
        return m.group("label"), m.group("role") or "", rest, ""
    return None


def parse_markdown(text: str, transcript_id: str) -> Transcript:
    """Parse a Markdown interview (see module docstring)."""
    front_title, blocks = _blocks(text)
    title = ""
    items: list[Item] = []
    dropped: list[str] = []
    captions: list[str] = []
    end_matter = False  # under a heading such as "Related articles": dropped
    labelled: list[str | None] = []
    units = 0
    asked = False  # a question item is in `items` (a flag: a scan per heading took quadratic time)
    for kind, level, lines in blocks:
        if kind == "heading":
            heading = _plain(lines[0])
            if not heading:
                continue
            if level == 1 and not title and not items:
                title = heading
                continue
            if END_SECTIONS.match(heading) or (asked and INTRO_SECTIONS.match(heading)):
                end_matter = True  # after the interview: "Related articles", "About the author"
                dropped.append(heading)
            elif INTRO_SECTIONS.match(heading):
                end_matter = False  # before the first question its text is the intro
                dropped.append(heading)
            else:
                end_matter = False
                items.append(Item(heading, question=True))
                asked = True
            continue
        raw = _join(lines)
        if end_matter:
            dropped.append(_plain(raw))
            continue
        images = _IMAGE.findall(raw)
        if images and not _IMAGE.sub("", raw).strip():  # a picture: its alt text is a caption
            alts = [" ".join(strip_inline(alt).split()) for alt in images if alt.strip()]
            captions += alts
            dropped += alts
            continue
        units += 1
        found = _label(raw)
        if found:
            label, role, rest, after = found
            items.append(Item(_plain(rest), label=label, role=role))
            labelled.append(label)
            if after.strip():
                items.append(Item(_plain(after)))
            continue
        m = _WHOLE_BOLD.match(raw)
        if m:
            body = _plain(m.group("body"))
            if is_question(body):
                items.append(Item(body, question=True))
                asked = True
            else:
                dropped.append(body)  # a pull quote or a bold label
            continue
        m = _BOLD_LEAD.match(raw)
        if m and _plain(m.group("lead")).endswith("?"):
            items.append(Item(_plain(m.group("lead")), question=True))
            asked = True
            items.append(Item(_plain(m.group("rest")), question=False))
            continue
        plain = _plain(raw)
        if plain:
            items.append(Item(plain))
    if not items:
        raise TranscriptError("the Markdown file has no paragraphs to index")
    if not honour_labels(labelled, units):  # a stray "Word:" in prose is text, not a speaker
        items = [
            Item(f"{it.label}{f' ({it.role})' if it.role else ''}: {it.text}") if it.label else it
            for it in items
        ]
    title = title or front_title
    body, built = build(title, items)
    return assemble(
        transcript_id, body, title, built, _EXPECTED, dropped=dropped, captions=captions
    )
