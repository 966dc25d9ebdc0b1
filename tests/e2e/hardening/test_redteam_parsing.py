"""Red-team findings on parsing (issue 10: B2, B3, W2): Markdown whose inline syntax took time
growing with the square of its length (a 32 KB upload stalled `/health` for seconds), sentence
splitting that did the same, and `.docx` files that unpack to gigabytes or declare entities.

Also the `.docx` traps found while fixing W2: a table cell spanning 50 million columns, a
vertical merge that starts in the first row, a style based on itself, a style id with a quote,
and a document of many questions (each paragraph's default style was found by reading every
style).

Real parts: the parsers on real files under tmp_path, the app through its lifespan (in-process,
or under uvicorn on 127.0.0.1), a copy of the sample index in Chroma, the real embedding model,
`rag-ingest` in-process. Times are asserted with wide margins; every hostile input also has a
pytest timeout, as the code before the fix took minutes or never ended on some of them.
"""

from __future__ import annotations

import io
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import docx
import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ingest import store as ix
from ingest.chunk import chunk_transcript
from ingest.formats import parse_file
from ingest.parse import TranscriptError
from service.app import create_app
from tests.fixtures.core import SAMPLE, SAMPLE_CHUNKS
from tests.fixtures.servers import serving

KEY = "redteam-parsing-key-0123456789"
LOCAL = ("127.0.0.1", 50000)  # TestClient's peer address: a loopback client
MB = 1_000_000


@pytest.fixture
def make_app(app_settings, transcripts):
    """An app (API key on) over a copy of the sample index, with this test's transcripts folder."""

    def make(**overrides):
        return create_app(app_settings(transcripts_dir=transcripts, api_key=SecretStr(KEY), **overrides))

    return make


def upload(client, name: str, data: bytes, url: str = ""):
    return client.post(f"{url}/v1/transcripts", files={"files": (name, data, "application/octet-stream")},
                       headers={"X-API-Key": KEY})


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def parse_seconds(folder: Path, name: str, text: str) -> float:
    """Seconds to parse `text` saved as folder/name (a parse that rejects the file counts too)."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    try:
        parse_file(path, path.stem)
    except TranscriptError:
        pass
    return time.perf_counter() - start


# --- B2: Markdown inline syntax in linear time ---------------------------------------------------
MD_HEAD = "# T\n\nAn intro: Jane Doe, the founder of Acme, talks about it.\n\n## What is it?\n\n"


def repeat(unit: str, size: int) -> str:
    return unit * (size // len(unit))


# Each builds about `size` characters of Markdown; the old code took seconds to minutes at 32 KB.
MARKDOWN_BOMBS = {
    "bold (the report)": lambda size: MD_HEAD + "x " + repeat("**a ", size),
    "italic": lambda size: MD_HEAD + "x " + repeat("*a ", size),
    "underscore": lambda size: MD_HEAD + "x " + repeat("_a ", size),
    "backticks": lambda size: MD_HEAD + "x " + "`" * size + "a",
    "html comments": lambda size: MD_HEAD + "x " + repeat("<!-- ", size),
    "images": lambda size: MD_HEAD + "x " + repeat("![a ", size),
    "links": lambda size: MD_HEAD + "x " + repeat("[a ", size),
    "footnotes": lambda size: MD_HEAD + "x " + repeat("[^a ", size),
    "autolinks": lambda size: MD_HEAD + "x " + repeat("<https://a", size),
    "heading spaces": lambda size: MD_HEAD + "## a" + " " * size + "b\n\nyes.\n",
    "front matter title": lambda size: "---\ntitle: a" + " " * size + "b\n---\n\n" + MD_HEAD + "yes.\n",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(MARKDOWN_BOMBS))
def test_markdown_parses_in_linear_time(tmp_path, case):
    """32 KB of each hostile pattern parses in well under a second, and twice as much in about
    twice the time (the old lazy regexes took 7.5-12.5 s for the reported 32 KB bold case)."""
    build = MARKDOWN_BOMBS[case]
    small = parse_seconds(tmp_path, "small.md", build(32_000))
    assert small < 1.0, f"{case}: 32 KB took {small:.2f} s"
    large = parse_seconds(tmp_path, "large.md", build(64_000))
    assert large < 3 * small + 0.25, f"{case}: 32 KB took {small:.3f} s, 64 KB {large:.3f} s"


@pytest.mark.timeout(120)
def test_markdown_upload_does_not_stall_health(make_app, transcripts):
    """The reported upload (`**a ` x 8000 after a question, 32 KB) under uvicorn: `/health`,
    polled all the while the upload is parsed, stored and indexed, answers in under a second."""
    payload = (MD_HEAD + "x " + "**a " * 8000).encode()
    assert 32_000 <= len(payload) < 33_000
    result: dict = {}

    with serving(make_app()) as url:
        def send():
            with httpx.Client(timeout=110) as client:
                result["reply"] = upload(client, "bold.md", payload, url)

        sender = threading.Thread(target=send)
        sender.start()
        latencies = []
        with httpx.Client(timeout=60) as client:
            while (sender.is_alive() or len(latencies) < 5) and len(latencies) < 3000:
                start = time.perf_counter()
                assert client.get(f"{url}/health").status_code == 200
                latencies.append(time.perf_counter() - start)
                time.sleep(0.02)
        sender.join(110)

    reply = result["reply"]
    assert reply.status_code == 200, reply.text
    assert "bold.md" in listing(transcripts)
    assert max(latencies) < 1.0, f"/health took {max(latencies):.2f} s during the upload"


# --- B3: sentence splitting in linear time -------------------------------------------------------
PLAIN_HEAD = "Title\n\nAn interview with Jane Doe, the founder of Acme.\n\nWhat is it?\n\n"
ANSWERS = {
    "word. (the report)": "word. " * 10_000,
    "Mr. (abbreviations)": "Mr. " * 15_000,
    "a run of full stops": "a" + "." * 60_000 + "b",
    "a run of ?!": "a" + "?!" * 30_000 + "b",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(ANSWERS))
def test_chunking_takes_linear_time(tmp_path, case):
    """A 60 KB answer of one never-ending sentence is chunked in well under 2 s (the old code
    took 42 s for `word. ` x 10000), and twice as much in about twice the time."""
    answer = ANSWERS[case]
    seconds = []
    for copies in (1, 2):
        path = tmp_path / f"{copies}.txt"
        path.write_text(PLAIN_HEAD + answer * copies, encoding="utf-8")
        transcript = parse_file(path, path.stem)
        start = time.perf_counter()
        chunks = chunk_transcript(transcript, 700)
        seconds.append(time.perf_counter() - start)
        pieces = [c for c in chunks if c.metadata[ix.K_TURN] > 0]  # after the intro (turn 0)
        # one never-ending sentence: cut at spaces (or hard) into passage-sized pieces, nothing lost
        assert "".join(c.text for c in pieces).replace(" ", "") == (answer * copies).strip().replace(" ", "")
        assert max(len(c.text) for c in pieces) <= 2000
    assert seconds[0] < 2.0, f"{case}: 60 KB took {seconds[0]:.2f} s"
    assert seconds[1] < 3 * seconds[0] + 0.25, f"{case}: {seconds}"


# --- W2: .docx zip bomb and billion laughs -------------------------------------------------------
def word_interview(table: bool = False) -> bytes:
    """A small Word interview: title, intro, a question heading and its answer (and a table)."""
    document = docx.Document()
    document.add_heading("Zebra care at the zoo", level=0)
    document.add_paragraph("The Host spoke with Zed Stripes, Head Keeper at the City Zoo, about zebras.")
    document.add_heading("What do you feed the zebras?", level=2)
    document.add_paragraph("We feed the zebras fresh grass every evening.")
    if table:
        cells = document.add_table(rows=1, cols=2).rows[0].cells
        cells[0].paragraphs[0].add_run("Where is the zoo?").bold = True
        cells[1].text = "In the city centre."
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def rewrite(data: bytes, name: str, write) -> bytes:
    """The package with member `name` written anew by `write(file, old_bytes)`, streamed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == name:
                with dst.open(name, "w", force_zip64=True) as f:
                    write(f, src.read(name))
            else:
                dst.writestr(info, src.read(info.filename))
    return out.getvalue()


def zip_bomb(unpacked: int = 400 * MB) -> bytes:
    """The interview whose answer is followed by `unpacked` spaces: a ~0.4 MB file that unpacks
    to 400 MB (the reported 1.5 MB bomb unpacked to gigabytes)."""

    def write(f, xml: bytes):
        head, tail = xml.split(b"fresh grass every evening.", 1)
        f.write(head + b"fresh grass every evening.")
        block = b" " * MB
        for _ in range(unpacked // MB):
            f.write(block)
        f.write(tail)

    return rewrite(word_interview(), "word/document.xml", write)


LAUGHS = b"<!DOCTYPE w:document [\n<!ENTITY lol0 \"lol\">\n" + b"".join(
    b'<!ENTITY lol%d "%s">\n' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)
) + b"]>\n"


def billion_laughs() -> bytes:
    """The interview with a DTD of nested entities, and the answer `&lol9;` (10^9 "lol"s)."""

    def write(f, xml: bytes):
        declaration, rest = xml.split(b"?>", 1)
        f.write(declaration + b"?>\n" + LAUGHS + rest.replace(b"We feed the zebras fresh grass every evening.",
                                                            b"&lol9;"))

    return rewrite(word_interview(), "word/document.xml", write)


HOSTILE_DOCX = {
    "bomb.docx": (zip_bomb, "unpacks to 400,"),
    "laughs.docx": (billion_laughs, "declares an XML document type (<!DOCTYPE"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(HOSTILE_DOCX))
def test_hostile_docx_upload_is_422_naming_the_file(make_app, transcripts, name):
    """POST /v1/transcripts with the bomb or the billion laughs: 422 whose detail names the file
    and says what is wrong, at once (< 5 s) and without unpacking it (< 300 MB allocated at the
    peak; the old code took 3.76 GB and 13 s, then answered 500). Nothing is stored."""
    build, fragment = HOSTILE_DOCX[name]
    data = build()
    assert len(data) < 2 * MB
    before = listing(transcripts)
    with TestClient(make_app(), client=LOCAL, raise_server_exceptions=False) as client:
        tracemalloc.start()
        start = time.perf_counter()
        try:
            reply = upload(client, name, data)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert detail.startswith(f"'{name}' was not stored: ") and fragment in detail, detail
    assert seconds < 5.0, f"{seconds:.1f} s"
    assert peak < 300 * MB, f"{peak / MB:.0f} MB allocated at the peak"
    assert listing(transcripts) == before


@pytest.mark.timeout(120)
def test_rag_ingest_skips_hostile_docx_with_a_reason(tmp_path, capsys):
    """`rag-ingest --dry-run` over a folder with both files and a good transcript: the two are
    skipped, each with its reason, and the good one is read (the old code crashed with
    XMLSyntaxError)."""
    from ingest.cli import main as ingest_main

    folder = tmp_path / "transcripts"
    folder.mkdir()
    (folder / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    for name, (build, _) in HOSTILE_DOCX.items():
        (folder / name).write_bytes(build())
    assert ingest_main(["--dry-run", "--quiet", str(folder)]) == 1  # 1: some files were skipped
    out, err = capsys.readouterr()
    skipped = sorted(line for line in err.splitlines() if line.startswith("skipped "))
    assert len(skipped) == 2, err
    assert "bomb.docx: the document unpacks to 400," in skipped[0]
    assert "laughs.docx: 'word/document.xml' inside the document declares an XML document type" in skipped[1]
    assert f"added     alibaba-cloud-xuan-jin: +{SAMPLE_CHUNKS}" in out and f"\n1 transcript; chunks would be added {SAMPLE_CHUNKS}" in out, out


# --- .docx traps found while fixing W2 -----------------------------------------------------------
def with_xml(data: bytes, member: str, old: bytes, new: bytes) -> bytes:
    def write(f, xml: bytes):
        assert old in xml, (member, old)
        f.write(xml.replace(old, new, 1))

    return rewrite(data, member, write)


def span_trap(data: bytes) -> bytes:  # a cell that spans 50 million grid columns
    return with_xml(data, "word/document.xml", b"<w:tc><w:tcPr>", b'<w:tc><w:tcPr><w:gridSpan w:val="50000000"/>')


def vmerge_trap(data: bytes) -> bytes:  # a second table whose first row continues a merge from above
    table = (b'<w:tbl><w:tblGrid><w:gridCol w:w="4320"/></w:tblGrid><w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr>'
             b"<w:p/></w:tc></w:tr></w:tbl><w:sectPr")
    return with_xml(data, "word/document.xml", b"<w:sectPr", table)


def loop_trap(data: bytes) -> bytes:  # the answer's style is based on itself, through another
    styles = (b'<w:style w:type="paragraph" w:styleId="LoopA"><w:name w:val="LoopA"/><w:basedOn w:val="LoopB"/>'
              b'</w:style><w:style w:type="paragraph" w:styleId="LoopB"><w:name w:val="LoopB"/>'
              b'<w:basedOn w:val="LoopA"/></w:style></w:styles>')
    data = with_xml(data, "word/styles.xml", b"</w:styles>", styles)
    return with_xml(data, "word/document.xml", b"<w:p><w:r><w:t>We feed",
                    b'<w:p><w:pPr><w:pStyle w:val="LoopA"/></w:pPr><w:r><w:t>We feed')


def quote_trap(data: bytes) -> bytes:  # a style id with a quote in it (python-docx's XPath broke)
    return with_xml(data, "word/document.xml", b"<w:p><w:r><w:t>We feed",
                    b'<w:p><w:pPr><w:pStyle w:val="a&quot;b"/></w:pPr><w:r><w:t>We feed')


DOCX_TRAPS = {"span": span_trap, "vmerge": vmerge_trap, "style loop": loop_trap, "quote": quote_trap}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("trap", list(DOCX_TRAPS))
def test_docx_traps_read_like_the_plain_document(tmp_path, trap):
    """Each trap, set in an otherwise normal interview, gives the same transcript as the
    document without it, in under 5 s and 100 MB (the old code took 19 s and 480 MB on the
    span, raised ValueError / XPathEvalError on the merge / quote, and never ended on the loop)."""
    clean = word_interview(table=True)
    (tmp_path / "clean.docx").write_bytes(clean)
    expected = parse_file(tmp_path / "clean.docx", "zoo")
    assert [(t.question, [p.text for p in t.paragraphs]) for t in expected.turns] == [
        ("What do you feed the zebras?", ["We feed the zebras fresh grass every evening."]),
        ("Where is the zoo?", ["In the city centre."]),
    ]
    (tmp_path / "trap.docx").write_bytes(DOCX_TRAPS[trap](clean))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        got = parse_file(tmp_path / "trap.docx", "zoo")
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == expected
    assert seconds < 5.0, f"{seconds:.1f} s"
    assert peak < 100 * MB, f"{peak / MB:.0f} MB"


@pytest.mark.timeout(120)
def test_docx_of_many_questions_reads_in_linear_time(tmp_path):
    """2,000 bold questions with their answers (a 40 KB file; the old code spent 4 ms a
    paragraph finding the default style, about 30 s here) read in a few seconds."""
    question = b"<w:p><w:r><w:rPr><w:b/></w:rPr><w:t>What happened in year %d?</w:t></w:r></w:p>"
    answer = b"<w:p><w:r><w:t>In year %d the zebras ate their grass.</w:t></w:r></w:p>"
    body = b"".join(question % i + answer % i for i in range(2000))
    data = with_xml(word_interview(), "word/document.xml", b"<w:sectPr", body + b"<w:sectPr")
    (tmp_path / "many.docx").write_bytes(data)
    start = time.perf_counter()
    transcript = parse_file(tmp_path / "many.docx", "many")
    seconds = time.perf_counter() - start
    assert len(transcript.turns) == 2001
    assert (transcript.turns[-1].question, transcript.turns[-1].paragraphs[0].text) == (
        "What happened in year 1999?", "In year 1999 the zebras ate their grass.")
    assert seconds < 10.0, f"{seconds:.1f} s"
