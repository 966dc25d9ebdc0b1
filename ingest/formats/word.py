"""Word `.docx` interviews, read with `python-docx`.

The document's paragraphs (and those in table cells, row by row) are read in order:

- the `Title` style, or else the first `Heading 1`, is the title; other headings are
  questions (section names such as "Introduction" or "Related articles" are not);
- a wholly bold paragraph that reads as a question is a question, one that does not is
  dropped as a label or pull quote; a paragraph opening with a bold run that ends with '?'
  is a question followed by its answer;
- lines that start with a speaker label (`Interviewer: …`, `Jane Doe: …`, `Q:` / `A:`) are
  speaker-labelled text, as in `.txt`;
- anything else is judged like the plain format (`is_question`), and `Caption`-styled
  paragraphs are dropped (and used to find the interviewee's name, as image captions are).
"""

from __future__ import annotations

import io
import re
import zipfile

from ingest.formats.markdown import _END_SECTIONS, _INTRO_SECTIONS
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
    "questions as headings, bold paragraphs or lines ending with '?', or speaker labels such "
    "as 'Interviewer: …' / 'Q: …', each followed by its answer"
)


def _paragraphs(document):
    """Body paragraphs in document order, descending into tables."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocParagraph

    def walk(container):
        for child in container.iter_inner_content():
            if isinstance(child, DocParagraph):
                yield child
            elif isinstance(child, Table):
                for row in child.rows:
                    seen = set()
                    for cell in row.cells:
                        if id(cell._tc) in seen:  # a merged cell appears once per grid column
                            continue
                        seen.add(id(cell._tc))
                        yield from walk(cell)

    yield from walk(document)


def _bold(run, paragraph) -> bool:
    """Bold set on the run, else by its character style ("Strong"), else by the paragraph's."""
    if run.bold is not None:
        return bool(run.bold)
    for style in (run.style, paragraph.style):
        while style is not None:
            if style.font.bold is not None:
                return bool(style.font.bold)
            style = style.base_style
    return False


def parse_docx(data: bytes, transcript_id: str) -> Transcript:
    """Parse a Word interview (see module docstring)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if not data.strip():
        raise TranscriptError("the file is empty")
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TranscriptError(
            f"not a readable .docx document ({exc.__class__.__name__}); save it from Word or "
            "LibreOffice as 'Word Document (.docx)' and ingest again"
        ) from None
    title = ""
    items: list[Item] = []
    dropped: list[str] = []
    captions: list[str] = []
    labelled: list[str | None] = []
    units = 0
    end_matter = False
    for para in _paragraphs(document):
        text = para.text.replace("\t", " ").strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        heading = re.match(r"(?:Heading|Überschrift|Titre|Título)\s*(\d)", style, re.IGNORECASE)
        is_heading = style == "Title" or heading is not None
        if is_heading and not title and not items and (style == "Title" or heading.group(1) == "1"):
            title = " ".join(text.split())
            continue
        if is_heading:
            line = " ".join(text.split())
            asked = any(it.question for it in items)
            if _END_SECTIONS.match(line) or (asked and _INTRO_SECTIONS.match(line)):
                end_matter = True
                dropped.append(line)
            elif _INTRO_SECTIONS.match(line):
                end_matter = False
                dropped.append(line)
            else:
                end_matter = False
                items.append(Item(line, question=True))
            continue
        if end_matter:
            dropped.append(text)
            continue
        if style.lower().startswith("caption"):
            captions.append(text)
            dropped.append(text)
            continue
        runs = [(r.text, _bold(r, para)) for r in para.runs if r.text.strip()]
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        found = [match_label(line) for line in lines]
        if any(found):
            for line, m in zip(lines, found):
                units += 1
                if m:
                    labelled.append(m.group("label"))
                    items.append(
                        Item(
                            line[m.end() :].strip(),
                            m.group("label"),
                            role=(m.group("role") or "").strip(),
                        )
                    )
                elif items and items[-1].label:
                    items[-1].text += "\n" + line  # the speaker's next line
                else:
                    items.append(Item(line))
            continue
        units += 1
        plain = " ".join(text.split())
        if runs and all(bold for _, bold in runs):
            if is_question(plain):
                items.append(Item(plain, question=True))
            else:
                dropped.append(plain)  # a bold label or pull quote
            continue
        lead = ""
        for run_text, bold in runs:
            if not bold:
                break
            lead += run_text
        lead = " ".join(lead.split())
        if lead.endswith("?") and len(lead) < len(plain):
            items.append(Item(lead, question=True))
            items.append(Item(plain[len(lead) :].strip() if plain.startswith(lead) else plain))
            continue
        items.append(Item(text))
    if not items:
        raise TranscriptError("the document has no text paragraphs to index")
    first = items[0]
    if (  # a short first paragraph is the title, as in the plain format
        not title
        and len(items) > 1
        and first.label is None
        and first.question is None
        and len(first.text) <= 200
        and not is_question(first.text)
    ):
        title = " ".join(items.pop(0).text.split())
    if not honour_labels(labelled, units):  # a stray "Word:" in prose is text, not a speaker
        items = [
            Item(f"{it.label}{f' ({it.role})' if it.role else ''}: {it.text}") if it.label else it
            for it in items
        ]
    body, blocks = build(title, items)
    return assemble(
        transcript_id, body, title, blocks, _EXPECTED, dropped=dropped, captions=captions
    )
