"""Transcript formats, one module each, registered here by file suffix: a new format is one module
in this folder plus one line in PARSERS.

Each parser builds a normalised plain text (`Transcript.text`) while it reads, with the spans
of answer paragraphs into it, and leaves the sorting into questions and answers to
`ingest.parse.assemble`. Plain and speaker-labelled `.txt` are parsed by `ingest.parse` itself.
"""

from __future__ import annotations

from pathlib import Path

from ingest.formats.markdown import parse_markdown
from ingest.formats.subtitles import parse_srt, parse_webvtt
from ingest.formats.word import parse_docx
from ingest.parse import Parser, Transcript, TranscriptError, parse_text, text_format


def read_docx(data: bytes | str, transcript_id: str) -> Transcript:
    if isinstance(data, str):
        raise TranscriptError("a .docx file must be read as bytes, not text")
    return parse_docx(data, transcript_id)


# File suffix -> parser taking the file's bytes and the transcript id.
PARSERS: dict[str, Parser] = {
    ".txt": text_format(parse_text),
    ".md": text_format(parse_markdown),
    ".markdown": text_format(parse_markdown),
    ".vtt": text_format(parse_webvtt),
    ".srt": text_format(parse_srt),
    ".docx": read_docx,
}


def parse_file(path: Path, transcript_id: str) -> Transcript:
    """Read and parse one transcript file; raises TranscriptError with the reason."""
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise TranscriptError(
            f"unsupported format '{path.suffix or '(none)'}' (supported: {', '.join(sorted(PARSERS))})"
        )
    return parser(path.read_bytes(), transcript_id)
