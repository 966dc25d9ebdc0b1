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
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_1 = re.compile(r"^ {0,3}=+[ \t]*$")
_SETEXT_2 = re.compile(r"^ {0,3}-+[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?")
_LINK_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+")
_FRONT_TITLE = re.compile(r"^title:[ \t]*(?P<q>[\"']?)(?P<title>.+?)(?P=q)[ \t]*$", re.MULTILINE)
# Headings that name a section of the page rather than ask something.
_INTRO_SECTIONS = re.compile(
    r"^(intro(duction)?|about( (him|her|them|the (guest|interviewee|speaker)))?|summary|"
    r"overview|abstract|bio(graphy)?|background info(rmation)?|(the )?transcript|(the )?interview|"
    r"key (points|takeaways)|highlights|tl;?dr|contents|table of contents)$",
    re.IGNORECASE,
)
_END_SECTIONS = re.compile(
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
_IMAGE = re.compile(r"!\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_ESC = "\ue000"


def strip_inline(s: str) -> str:
    """Plain text of inline Markdown: emphasis, links, images, code, HTML and escapes."""
    s = re.sub(r"\\([\\`*_{}\[\]()#+\-.!>~|<])", lambda m: _ESC + str(ord(m.group(1))) + _ESC, s)
    s = re.sub(r"<!--.*?-->", "", s, flags=re.DOTALL)
    s = _IMAGE.sub("", s)
    s = re.sub(r"\[\^[^\]]+\]", "", s)  # footnote references
    s = re.sub(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)", r"\1", s)  # [text](url "title")
    s = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", s)  # [text][ref]
    s = re.sub(r"<((?:https?|mailto):[^>\s]+)>", r"\1", s)  # autolinks
    s = re.sub(r"(`+)(.+?)\1", lambda m: m.group(2).strip(), s)
    s = re.sub(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>", "", s)  # HTML tags
    for _ in range(2):  # nested emphasis: ***x***, **_x_**
        s = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", s, flags=re.DOTALL)
        s = re.sub(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])", r"\1", s, flags=re.DOTALL)
        s = re.sub(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])", r"\1", s, flags=re.DOTALL)
    s = re.sub(r"~~(.+?)~~", r"\1", s, flags=re.DOTALL)
    s = re.sub(_ESC + r"(\d+)" + _ESC, lambda m: chr(int(m.group(1))), s)
    return s


def _blocks(text: str) -> tuple[str, list[tuple[str, int, list[str]]]]:
    """Front-matter title and the block structure: (kind, heading level, lines)."""
    lines = text.split("\n")
    front_title = ""
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                m = _FRONT_TITLE.search("\n".join(lines[1:i]))
                front_title = m.group("title").strip() if m else ""
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
            out.append(("heading", len(m.group(1)), [m.group(2) or ""]))
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


def _starts_label(line: str) -> bool:
    line = line.strip()
    if any(rx.match(line) for rx in _BOLD_LABEL):
        return True
    return bool(match_label(strip_inline(line)))


def _join(lines: list[str]) -> str:
    """One paragraph's raw Markdown: soft breaks become spaces, list items keep their lines."""
    out = ""
    for line in lines:
        if not out:
            out = line.strip()
        elif _LIST_ITEM.match(line) or out.endswith(("  ", "\\")):
            out = out.rstrip(" \\") + "\n" + line.strip()
        else:
            out += " " + line.strip()
    return out


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
    for kind, level, lines in blocks:
        if kind == "heading":
            heading = _plain(lines[0])
            if not heading:
                continue
            if level == 1 and not title and not items:
                title = heading
                continue
            asked = any(it.question for it in items)
            if _END_SECTIONS.match(heading) or (asked and _INTRO_SECTIONS.match(heading)):
                end_matter = True  # after the interview: "Related articles", "About the author"
                dropped.append(heading)
            elif _INTRO_SECTIONS.match(heading):
                end_matter = False  # before the first question its text is the intro
                dropped.append(heading)
            else:
                end_matter = False
                items.append(Item(heading, question=True))
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
            else:
                dropped.append(body)  # a pull quote or a bold label
            continue
        m = _BOLD_LEAD.match(raw)
        if m and _plain(m.group("lead")).endswith("?"):
            items.append(Item(_plain(m.group("lead")), question=True))
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
