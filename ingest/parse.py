"""Parse an interview transcript into title, intro, interviewee and question/answer turns.

The plain-text interview format is paragraphs separated by blank lines: a title, an intro that
names the interviewee, then interviewer questions each followed by the interviewee's answer.
Web captures also carry image captions, share/footer boilerplate and advertising; those are
dropped and counted, never indexed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


class TranscriptError(ValueError):
    """A transcript that cannot be ingested; the message says why in words a person can act on."""


@dataclass
class Paragraph:
    text: str
    start: int  # character offsets in the source text
    end: int


@dataclass
class Turn:
    number: int  # 1-based
    question: str
    speaker: str
    paragraphs: list[Paragraph]
    timestamp: str = ""


@dataclass
class Transcript:
    id: str
    title: str
    intro: str
    interviewee: str
    role: str
    turns: list[Turn]
    dropped: list[str] = field(default_factory=list)
    text: str = ""


_PROMPT_START = re.compile(
    r"^(tell (us|me)|describe|explain|talk (us|me) through|walk (us|me) through|give (us|me)|"
    r"share (with )?(us|me)|let'?s (talk|turn|move)|can you (tell|talk|describe|explain|share)|"
    r"could you|please (tell|describe|explain|share)|what about|how about)\b",
    re.IGNORECASE,
)
_TERMINAL = re.compile(r"[.!?:;…][\"'”’)\]]*$")
_QUESTION_END = re.compile(r"\?[\"'”’)\]]*$")
_FOOTER = re.compile(
    r"\b(share this|share image|article share|linkedin|twitter|facebook|instagram|whatsapp|"
    r"copyright|all rights reserved|cookie|privacy policy|terms of use|follow us|read more|"
    r"related articles?)\b",
    re.IGNORECASE,
)
_PROMO_CUES = [
    r"find out more",
    r"\battend\b",
    r"masterclass",
    r"\bregister\b",
    r"sign up",
    r"don[’']t miss",
    r"\bbook (your|now|a)\b",
    r"webinar",
    r"\bexclusive\b",
    r"click here",
    r"learn more",
    r"newsletter",
    r"\bsubscribe\b",
    r"opportunity to network",
    r"\bour next\b",
    r"\bin association with\b",
    r"\btickets?\b",
    r"\bdiscount\b",
]
_NAME = r"(?:Dr\.? |Prof\.? |Mr\.? |Ms\.? |Mrs\.? )?[A-Z][\w’'\-]+(?: [A-Z][\w’'\-]+){1,3}"
_INTRO_PERSON = re.compile(
    r"\b(?:with|interviewed|interviews|spoke (?:to|with)|talk(?:ed|s)? (?:to|with)|met|meets|"
    r"speaks (?:to|with)|caught up with)\s+(?P<name>" + _NAME + r"),\s+(?:the\s+)?(?P<role>[^,.;()]{3,120}?)"
    r"(?=,|\.|;| to | about | on )"
)
_CAPTION_PERSON = re.compile(r"^(?P<name>" + _NAME + r"),\s+(?P<role>.{3,120})$")


def split_paragraphs(text: str) -> list[Paragraph]:
    """Paragraphs separated by blank lines, with their character spans in `text`."""
    out = []
    for m in re.finditer(r"[^\n]+(?:\n[ \t]*[^\s\n][^\n]*)*", text):
        raw = m.group(0)
        stripped = raw.strip()
        if not stripped:
            continue
        start = m.start() + (len(raw) - len(raw.lstrip()))
        out.append(Paragraph(stripped, start, start + len(stripped)))
    return out


def is_question(text: str) -> bool:
    """An interviewer prompt: ends with a question mark, or opens like "Tell us about …"."""
    if len(text) > 400:
        return False
    if _QUESTION_END.search(text):
        return True
    # A one-sentence imperative prompt ("Tell us about your background.")
    return bool(_PROMPT_START.match(text)) and len(text) <= 200 and ". " not in text


def is_caption(text: str) -> bool:
    """A short line with no sentence punctuation: an image caption or a section label."""
    return len(text) <= 90 and len(text.split()) <= 12 and not _TERMINAL.search(text)


def is_footer(text: str) -> bool:
    return len(text) <= 300 and bool(_FOOTER.search(text))


def is_advertising(text: str) -> bool:
    """Promotional copy (events, sign-ups) that is not part of the interview."""
    return sum(1 for cue in _PROMO_CUES if re.search(cue, text, re.IGNORECASE)) >= 3


def find_interviewee(intro: str, captions: list[str]) -> tuple[str, str]:
    """Name and role of the interviewee from the intro ("sat down with NAME, ROLE, to …")."""
    m = _INTRO_PERSON.search(intro)
    if m:
        return m.group("name").strip(), m.group("role").strip()
    for caption in captions:
        m = _CAPTION_PERSON.match(caption)
        if m:
            return m.group("name").strip(), m.group("role").strip()
    return "", ""


def parse_plain(text: str, transcript_id: str) -> Transcript:
    """Parse the plain-text interview format (see module docstring)."""
    paragraphs = split_paragraphs(text)
    if not paragraphs:
        raise TranscriptError("the file is empty")
    title = paragraphs[0].text if len(paragraphs[0].text) <= 200 else ""
    body = paragraphs[1:] if title else paragraphs
    intro_parts: list[str] = []
    captions: list[str] = []
    dropped: list[str] = []
    turns: list[Turn] = []
    for para in body:
        t = para.text
        if is_footer(t) or is_advertising(t):
            dropped.append(t)
        elif is_question(t):
            turns.append(Turn(len(turns) + 1, t, "", []))
        elif is_caption(t):
            captions.append(t)
            dropped.append(t)
        elif not turns:
            intro_parts.append(t)
        else:
            turns[-1].paragraphs.append(para)
    turns = [t for t in turns if t.paragraphs]
    if not turns:
        raise TranscriptError(
            "no interviewer questions with answers were found (expected question lines ending "
            "with '?' or prompts such as 'Tell us about …', each followed by an answer)"
        )
    intro = "\n\n".join(intro_parts)
    name, role = find_interviewee(intro, captions)
    speaker = name or "Interviewee"
    for number, turn in enumerate(turns, 1):
        turn.number = number
        turn.speaker = speaker
    return Transcript(transcript_id, title or transcript_id, intro, name, role, turns, dropped, text)


def decode(data: bytes, path: Path) -> str:
    if not data.strip():
        raise TranscriptError("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptError(
            f"the file is not valid UTF-8 (byte {exc.start}); save it as UTF-8 and ingest again"
        ) from None
    if "\x00" in text:
        raise TranscriptError("the file contains NUL bytes: it looks binary, not a transcript")
    return text.replace("\r\n", "\n").replace("\r", "\n")


PARSERS = {".txt": parse_plain}


def parse_file(path: Path, transcript_id: str) -> Transcript:
    """Read and parse one transcript file; raises TranscriptError with the reason."""
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise TranscriptError(
            f"unsupported format '{path.suffix or '(none)'}' (supported: {', '.join(sorted(PARSERS))})"
        )
    return parser(decode(path.read_bytes(), path), transcript_id)
