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
import zlib

from ingest.formats.markdown import END_SECTIONS, INTRO_SECTIONS
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
# What a .docx may unpack to, all its parts together. Word writes a few MB of XML even for a
# book-length interview, and pictures do not shrink when zipped; a zip bomb unpacks 1.5 MB
# into gigabytes. (A constant, not a setting: parsers are called without settings.)
MAX_UNPACKED_BYTES = 50_000_000
MAX_PARTS = 2_000
_READABLE = "save it from Word or LibreOffice as 'Word Document (.docx)' and ingest again"
# A document type declaration, in the encodings an XML part may use. OOXML parts never have
# one; with it come entity declarations ("billion laughs") and external entities. (Only parts
# named .xml / .rels are searched: an embedded HTML page may have one. Any other part that
# python-docx reads as XML goes through its parser, which expands no entities, and a failure
# there is a TranscriptError too.)
_DOCTYPE = tuple(
    "<!DOCTYPE".encode(codec)
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


def check_package(data: bytes) -> None:
    """Refuse a .docx that would unpack to more than MAX_UNPACKED_BYTES, or that holds an XML
    document type declaration, before python-docx unpacks anything.

    Sizes are checked as the zip's central directory declares them, then again while each
    part is read with a cap (a part that unpacks to more than it declares is cut off there).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            parts = package.infolist()
            if len(parts) > MAX_PARTS:
                raise TranscriptError(
                    f"the document holds {len(parts):,} files; a .docx transcript has at most "
                    f"{MAX_PARTS:,}"
                )
            declared = sum(part.file_size for part in parts)
            if declared > MAX_UNPACKED_BYTES:
                raise TranscriptError(_too_big(f"{declared:,} bytes"))
            left = MAX_UNPACKED_BYTES
            for part in parts:
                with package.open(part) as member:
                    blob = member.read(left + 1)
                if len(blob) > left:
                    raise TranscriptError(_too_big(f"more than {MAX_UNPACKED_BYTES:,} bytes"))
                left -= len(blob)
                xml = part.filename.lower().endswith((".xml", ".rels"))
                if xml and any(marker in blob for marker in _DOCTYPE):
                    raise TranscriptError(
                        f"'{part.filename}' inside the document declares an XML document type "
                        "(<!DOCTYPE …>), which Word never writes and which can define entities "
                        f"that expand without end; {_READABLE}"
                    )
    except TranscriptError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ) as exc:  # corrupt, encrypted or oddly compressed
        raise TranscriptError(
            f"not a readable .docx document ({exc.__class__.__name__}); {_READABLE}"
        ) from None


def _too_big(size: str) -> str:
    return (
        f"the document unpacks to {size}, more than the {MAX_UNPACKED_BYTES:,} a .docx "
        "transcript may hold (a zip bomb?); save it again from Word or LibreOffice, without "
        "embedded files"
    )


def _paragraphs(document):
    """Body paragraphs, each with its `w:p` element, in document order, descending into tables.

    A table is read cell by cell from its XML (`w:tc`), as python-docx's `_Row.cells` does,
    but without repeating a merged cell once per grid column it spans (a span of 50 million
    columns took 19 s and 480 MB) or climbing to the top of a vertical merge from every row
    below it (a merge that starts in the first row raised ValueError): a cell that continues
    a vertical merge holds no text of its own.
    """
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    P, TBL, TR, TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")

    def walk(container):  # a w:body or w:tc element: its paragraphs and tables, in order
        for child in container.inner_content_elements:
            if child.tag == P:
                yield Paragraph(child, document), child
            elif child.tag == TBL:
                for tc in (tc for tr in child.iterchildren(TR) for tc in tr.iterchildren(TC)):
                    if tc.vMerge != "continue":
                        yield from walk(tc)

    yield from walk(document.element.body)


class _Text:
    """Paragraph and run text as python-docx's `Paragraph.text` and `Run.text` give it, read by
    walking the children: python-docx runs an XPath query for each paragraph and each run
    (25 µs each, most of the time spent on a document of many short paragraphs)."""

    def __init__(self):
        from docx.oxml.ns import qn

        self._r, self._link = qn("w:r"), qn("w:hyperlink")
        self._inner = tuple(qn(f"w:{t}") for t in ("br", "cr", "noBreakHyphen", "ptab", "t", "tab"))

    def run(self, r) -> str:
        """A `w:r`'s text: its text, tabs and line breaks (each element says what it stands for)."""
        return "".join(str(e) for e in r.iterchildren(*self._inner))

    def paragraph(self, p) -> str:
        """A `w:p`'s text: its runs and those of its hyperlinks, in order."""
        return "".join(
            self.run(e)
            if e.tag == self._r
            else "".join(self.run(r) for r in e.iterchildren(self._r))
            for e in p.iterchildren(self._r, self._link)
        )


class _Styles:
    """The document's styles, each looked up once.

    python-docx finds the style of a paragraph or run without one of its own (most of them)
    by reading every style in the document, each time (a document of 5,000 questions took
    74 s), and a style by id or base style through an XPath query built from the id (an id
    with a quote in it raised XPathEvalError); a base-style cycle made the walk up the chain
    endless. Here each id is found in a dict, and what a style's chain says about bold is
    worked out once.
    """

    def __init__(self, document):
        from docx.enum.style import WD_STYLE_TYPE

        self.paragraph_type, self.character_type = WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER
        self._by_id = {}
        for style in document.styles:
            self._by_id.setdefault(style.style_id, style)  # the first of an id, as python-docx
        self._default = {
            t: document.styles.default(t) for t in (self.paragraph_type, self.character_type)
        }
        self._bold: dict = {}  # style element -> what its chain says about bold
        self._names: dict = {}  # style element -> its name (python-docx translates it each time)

    def get(self, style_id: str | None, style_type):
        """The style that python-docx's `Paragraph.style` / `Run.style` would give."""
        style = self._by_id.get(style_id) if style_id else None
        if style is None or style.type != style_type:
            return self._default[style_type]
        return style

    def name(self, style) -> str:
        """The style's name as `style.name` gives it, "" for none."""
        if style is None:
            return ""
        if style.element not in self._names:
            self._names[style.element] = style.name or ""
        return self._names[style.element]

    def bold(self, style) -> bool | None:
        """Bold as set by `style` or the styles it is based on; None where none of them says."""
        chain: list = []  # the style elements walked (each its own key)
        walked: set = set()
        found = None
        while style is not None:
            key = style.element
            if key in self._bold:
                found = self._bold[key]
                break
            if key in walked:  # based on itself, through others
                break
            chain.append(key)
            walked.add(key)
            if style.font.bold is not None:
                found = bool(style.font.bold)
                break
            base = key.basedOn_val
            style = self._by_id.get(base) if base else None
        for key in chain:
            self._bold[key] = found
        return found


def _bold(run, style_id: str | None, paragraph_style, styles: _Styles) -> bool:
    """Bold set on the run, else by its character style ("Strong"), else by the paragraph's."""
    if run.bold is not None:
        return bool(run.bold)
    for style in (styles.get(style_id, styles.character_type), paragraph_style):
        found = styles.bold(style)
        if found is not None:
            return found
    return False


def parse_docx(data: bytes, transcript_id: str) -> Transcript:
    """Parse a Word interview (see module docstring)."""
    import docx
    from docx.exceptions import PythonDocxError
    from docx.opc.exceptions import OpcError
    from lxml import etree

    if not data.strip():
        raise TranscriptError("the file is empty")
    check_package(data)
    try:
        return _read_interview(docx.Document(io.BytesIO(data)), transcript_id)
    except TranscriptError:
        raise
    except (
        OpcError,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        etree.LxmlError,
        PythonDocxError,
    ) as exc:  # (an attribute python-docx cannot read is a ValueError)
        raise TranscriptError(
            f"not a readable .docx document ({exc.__class__.__name__}); {_READABLE}"
        ) from None


def _read_interview(document, transcript_id: str) -> Transcript:
    """The interview in an opened document (see module docstring)."""
    from docx.text.run import Run

    styles, texts = _Styles(document), _Text()
    title = ""
    items: list[Item] = []
    dropped: list[str] = []
    captions: list[str] = []
    labelled: list[str | None] = []
    units = 0
    end_matter = False
    asked = False  # a question item is in `items` (a flag: a scan per heading took quadratic time)
    more: dict[int, list[str]] = {}  # item index -> the speaker's next lines, joined at the end
    for para, p in _paragraphs(document):
        text = texts.paragraph(p).replace("\t", " ").strip()
        if not text:
            continue
        para_style = styles.get(p.style, styles.paragraph_type)
        style = styles.name(para_style)
        heading = re.match(r"(?:Heading|Überschrift|Titre|Título)\s*(\d)", style, re.IGNORECASE)
        is_heading = style == "Title" or heading is not None
        if is_heading and not title and not items and (style == "Title" or heading.group(1) == "1"):
            title = " ".join(text.split())
            continue
        if is_heading:
            line = " ".join(text.split())
            if END_SECTIONS.match(line) or (asked and INTRO_SECTIONS.match(line)):
                end_matter = True
                dropped.append(line)
            elif INTRO_SECTIONS.match(line):
                end_matter = False
                dropped.append(line)
            else:
                end_matter = False
                items.append(Item(line, question=True))
                asked = True
            continue
        if end_matter:
            dropped.append(text)
            continue
        if style.lower().startswith("caption"):
            captions.append(text)
            dropped.append(text)
            continue
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
                    more.setdefault(len(items) - 1, []).append(line)  # the speaker's next line
                else:
                    items.append(Item(line))
            continue
        units += 1
        plain = " ".join(text.split())
        runs = [
            (run_text, _bold(Run(r, para), r.style, para_style, styles))
            for r, run_text in ((r, texts.run(r)) for r in p.r_lst)
            if run_text.strip()
        ]
        if runs and all(bold for _, bold in runs):
            if is_question(plain):
                items.append(Item(plain, question=True))
                asked = True
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
            asked = True
            items.append(Item(plain[len(lead) :].strip() if plain.startswith(lead) else plain))
            continue
        items.append(Item(text))
    for i, lines in more.items():
        items[i].text = "\n".join([items[i].text, *lines])
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
