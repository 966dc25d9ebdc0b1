"""Parse an interview transcript into title, intro, interviewee and question/answer turns.

The plain-text interview format is paragraphs separated by blank lines: a title, an intro that
names the interviewee, then interviewer questions each followed by the interviewee's answer.
Web captures also carry image captions, share/footer boilerplate and advertising; those are
dropped and counted, never indexed. They are told by their shape and place, never by a word
alone: a caption is a short line with no sentence end that is not the whole of an answer, and
share bars and adverts are the unfinished paragraphs that close the file after the last answer
(`furniture_tail`). A paragraph a person said that mentions Facebook or an event is kept.

Other formats land in the same structure (`PARSERS`, keyed by file suffix):

- `.txt` whose paragraphs mostly start with a speaker label (`Interviewer: …`, `Jane Doe: …`,
  `Q: …`/`A: …`) is parsed as speaker-labelled text; any other `.txt` as the plain format.
- `.md`/`.markdown`, `.vtt`, `.srt` and `.docx` live in `ingest.formats`.

Every `Paragraph.start/end` is a span of `Transcript.text`: the file itself for `.txt`, a
normalised plain text built while parsing for the other formats.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.speakers import person


class TranscriptError(ValueError):
    """A transcript that cannot be ingested; the message says why in words a person can act on."""


@dataclass
class Paragraph:
    text: str
    start: int  # character offsets in Transcript.text
    end: int


@dataclass
class Turn:
    """One answer (an interview) or one speaker turn (a conversation), with what prompted it."""

    number: int  # 1-based
    question: str  # the question it answers; in a conversation, the end of the turn before it
    speaker: str
    paragraphs: list[Paragraph]
    timestamp: str = ""
    role: str = ""  # the speaker's role or affiliation as written ("Minister of Finance")
    label: str = ""  # the speaker label as first written ("Hon. Bill Morneau"), if any
    prompted_by: int = 0  # conversations: the number of the turn this one follows up on
    asked_by: str = ""  # who asked `question` (the interviewer, or that turn's speaker)


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
    # "interview": one interviewer's questions and one interviewee's answers (each turn is an
    # answer with its question); "conversation": hearings, panels, podcasts, focus groups (each
    # turn is what one speaker said, every speaker's turns kept in order)
    kind: str = "interview"


_PROMPT_START = re.compile(
    r"^(tell (us|me)|describe|explain|talk (us|me) through|walk (us|me) through|give (us|me)|"
    r"share (with )?(us|me)|let'?s (talk|turn|move)|can you (tell|talk|describe|explain|share)|"
    r"could you|please (tell|describe|explain|share)|what about|how about)\b",
    re.IGNORECASE,
)
_TERMINAL = re.compile(r"[.!?:;…][\"'”’)\]]*$")
QUESTION_END = re.compile(r"\?[\"'”’)\]]*$")
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
    if QUESTION_END.search(text):
        return True
    # A one-sentence imperative prompt ("Tell us about your background.")
    return bool(_PROMPT_START.match(text)) and len(text) <= 200 and ". " not in text


def is_caption(text: str) -> bool:
    """A short line with no sentence punctuation: an image caption or a section label."""
    return len(text) <= 90 and len(text.split()) <= 12 and not _TERMINAL.search(text)


def is_footer(text: str) -> bool:
    """A share bar or a copyright line, by its words: only ever asked of page furniture's
    place (see `furniture_tail`), never of what a person said."""
    return len(text) <= 300 and bool(_FOOTER.search(text))


_PROMO_RES = [re.compile(cue, re.IGNORECASE) for cue in _PROMO_CUES]
# A literal that every match of the cue at the same index contains (after casefold): a cheap
# test that rules out nearly every paragraph before the regular expressions run.
_PROMO_LITERALS = [
    "find out more", "attend", "masterclass", "register", "sign up", "t miss", "book ", "webinar",
    "exclusive", "click here", "learn more", "newsletter", "subscribe", "opportunity to network",
    "our next", "in association with", "ticket", "discount",
]  # fmt: skip


def is_advertising(text: str) -> bool:
    """Promotional copy (events, sign-ups), by its words: only ever asked of page furniture's
    place (see `furniture_tail`), never of what a person said."""
    folded = text.casefold()
    if sum(1 for literal in _PROMO_LITERALS if literal in folded) < 3:
        return False
    return sum(1 for cue in _PROMO_RES if cue.search(text)) >= 3


def is_furniture(text: str, captions: bool = True) -> bool:
    """Shaped like page furniture: no sentence end, and a share bar, an advert or (`captions`) a
    caption."""
    return not _TERMINAL.search(text) and (
        (captions and is_caption(text)) or is_footer(text) or is_advertising(text)
    )


def furniture_tail(texts: list[str], captions: bool = True) -> int:
    """Where the page furniture closing a web capture starts in a run of unlabelled paragraphs
    (len(texts): none): the last paragraphs, each shaped like furniture (`is_furniture`), or an
    advert written in sentences with furniture after it. What a person said ends like a sentence:
    an answer that mentions Facebook or an event is not furniture, and one that ends the file is
    not, whatever its words."""
    start = len(texts)
    while start and (
        is_furniture(texts[start - 1], captions)
        or (start < len(texts) and is_advertising(texts[start - 1]))
    ):
        start -= 1
    return start


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
    held: list[Paragraph] = []  # captions since the last question: its answer if nothing else is

    def close_turn() -> None:
        if turns and not turns[-1].paragraphs and held:  # "Facebook, mostly": a short answer
            turns[-1].paragraphs.append(held[0])
            dropped.remove(held[0].text)
        held.clear()

    tail = furniture_tail([para.text for para in body])
    for number, para in enumerate(body):
        t = para.text
        if number >= tail and turns and turns[-1].paragraphs:  # after the last answer began
            dropped.append(t)
        elif is_question(t):
            close_turn()
            turns.append(Turn(len(turns) + 1, t, "", []))
        elif is_caption(t):
            captions.append(t)
            dropped.append(t)
            held.append(para)
        elif not turns:
            intro_parts.append(t)
        else:
            turns[-1].paragraphs.append(para)
    close_turn()
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


# --- Speaker labels and the shared question/answer assembler ---------------------------------

_TS = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
_PARTICLES = r"(?:van|von|de|der|den|da|di|du|la|le|del|della|dos|das|bin|binti|al|el|ibn|ter)"
_UPPER = r"(?:[dDlLO]['’])?[A-ZÀ-ÖØ-ÞĀ-Ž]"  # a capital, also after d' / l' / O' (d'Entremont, Éric)
_LABEL = (
    _UPPER + r"[\w.'’\-]*(?:[ \t]+(?:" + _UPPER + r"[\w.'’\-]*|\d+|" + _PARTICLES + r"(?=[ \t])))*?"
    r"(?:[ \t]+(?:" + _UPPER + r"[\w.'’\-]*|\d+))?"
)
_LABEL_LINE = re.compile(
    r"^(?:[\[(](?P<ts1>" + _TS + r")[\])][ \t]*)?"
    r"(?P<label>" + _LABEL + r")"
    r"(?:[ \t]*\((?!" + _TS + r"\))(?P<role>(?:[^()\n]|\([^()\n]{0,80}\)){2,120})\))?"
    r"(?:[ \t]*[\[(](?P<ts2>" + _TS + r")[\])])?"
    r"[ \t]*:(?=[ \t]|$)[ \t]*"
)
# Labels that name the interviewer, answer labels that stand for "the interviewee", and
# "Label:" prefixes that are document metadata rather than a speaker.
_INTERVIEWER_LABELS = {
    "interviewer", "interviewers", "host", "co-host", "cohost", "q", "question", "moderator",
    "presenter", "anchor", "reporter", "journalist", "int", "iv",
}  # fmt: skip
_GENERIC_ANSWER_LABELS = {"a", "answer", "r", "respondent", "interviewee", "guest", "participant"}
_META_LABELS = {
    "note", "notes", "date", "time", "location", "place", "duration", "length", "recorded",
    "recording", "title", "subject", "source", "photo", "image", "caption", "credit", "credits",
    "copyright", "transcript", "transcribed by", "tags", "keywords", "url", "link", "links",
    "editor's note", "editor’s note", "update", "updated", "disclaimer", "summary", "participants",
    "attendees", "topic", "topics", "format", "language", "file", "audio", "video", "episode",
    "published", "author", "by", "warning", "tip", "see also", "read more", "related",
}  # fmt: skip
_DEFAULT_SPEAKER = "\x00interviewee"  # answers with no label of their own, resolved at the end


def label_key(label: str) -> str:
    return " ".join(label.split()).casefold()


def is_interviewer_label(label: str) -> bool:
    return label_key(label) in _INTERVIEWER_LABELS


def match_label(line: str) -> re.Match | None:
    """`Name: …` / `Interviewer: …` / `[00:01:02] Q: …` / `Jane Doe (CEO):` at the start of a line."""
    m = _LABEL_LINE.match(line)
    if not m:
        return None
    label = m.group("label")
    if label_key(label) in _META_LABELS or len(label) > 40 or len(label.split()) > 4:
        return None
    return m


def hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def norm_timestamp(raw: str | None) -> str:
    """"1:02" / "01:02:03.500" -> "00:01:02" / "01:02:03"."""
    if not raw:
        return ""
    parts = [int(float(x)) for x in re.split(r":", raw.replace(",", "."))]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts[-3:]
    return hms(h * 3600 + m * 60 + s)


# `asks` reads only the end of a long text: `is_question` turns down more than 400 characters, so
# past that only a last sentence that fits can ask, and asks(text) == asks(text[-ASKS_WINDOW:]) for
# a text with normalised white space. A growing utterance is judged on its end, in linear time.
ASKS_WINDOW = 500


def asks(text: str) -> bool:
    """An interviewer utterance that asks something: a question or prompt, or ends with one."""
    text = " ".join(text.split())
    if is_question(text):
        return True
    last = re.split(r"(?<=[.!?…])\s+", text)[-1]
    return last != text and is_question(last)


@dataclass
class Block:
    """One unit of a transcript in reading order, before it is sorted into questions and answers."""

    paragraph: Paragraph
    label: str | None = None  # speaker label as written, if the format has one
    question: bool | None = None  # True: marked as a question; False: never; None: judge the text
    timestamp: str = ""  # "HH:MM:SS" where the block starts, for timed formats
    role: str = ""  # from a "Name (Role):" label


@dataclass
class Item:
    """A block of a normalised text still to be written (see `build`)."""

    text: str
    label: str | None = None
    question: bool | None = None
    timestamp: str = ""
    role: str = ""


def honour_labels(labels: Iterable[str | None], units: int) -> bool:
    """Whether speaker labels structure the transcript, or are a stray `Word:` in prose.

    They do when an interviewer label (Interviewer/Host/Q) is used, or when at least two
    speakers label most of the units (paragraphs or lines) of the body.
    """
    keys = [label_key(label) for label in labels if label]
    if any(k in _INTERVIEWER_LABELS for k in keys):
        return True
    return len(set(keys)) >= 2 and len(keys) * 2 > units


def build(title: str, items: list[Item]) -> tuple[str, list[Block]]:
    """Write a normalised plain text (title, then one paragraph per item) and the blocks with
    spans into it. A label or timestamp is written before its paragraph, outside the span."""
    parts: list[str] = []
    pos = 0
    blocks: list[Block] = []

    def put(s: str) -> None:
        nonlocal pos
        parts.append(s)
        pos += len(s)

    if title:
        put(title)
    for item in items:
        text = item.text.strip()
        if not text:
            continue
        if pos:
            put("\n\n")
        if item.timestamp:
            put(f"[{item.timestamp}] ")
        if item.label:
            put(f"{item.label}{f' ({item.role})' if item.role else ''}: ")
        blocks.append(
            Block(Paragraph(text, pos, pos + len(text)), item.label, item.question, item.timestamp,
                  item.role)
        )
        put(text)
    return "".join(parts), blocks


def _joined(blocks: list[Block]) -> str:
    return " ".join(" ".join(b.paragraph.text.split()) for b in blocks)


def _split_greeting(said: str) -> tuple[str, str]:
    """The leading sentences of an interviewer's first utterance that do not ask (a welcome
    that introduces the guest) and the question that follows them."""
    sentences = re.split(r"(?<=[.!…])\s+(?=[\"'“‘(\[]?[A-Z0-9])", said)
    for i, sentence in enumerate(sentences):
        if asks(sentence):
            return " ".join(sentences[:i]), " ".join(sentences[i:])
    return "", said


def _pick_interviewers(blocks: list[Block]) -> set[str]:
    """Label keys of the interviewer: named so, or else the speaker whose turns mostly ask."""
    keys = [label_key(b.label) for b in blocks if b.label]
    named = {k for k in keys if k in _INTERVIEWER_LABELS}
    if named or len(set(keys)) < 2:
        return named
    # Each speaker's utterances (runs of their consecutive blocks), speakers in order of first
    # appearance, each utterance as the list of its blocks' texts.
    utterances: dict[str, list[list[str]]] = {}
    prev = None
    for b in blocks:
        key = label_key(b.label) if b.label else None
        if key is None:
            prev = None
            continue
        if key == prev:
            utterances[key][-1].append(b.paragraph.text)
        else:
            utterances.setdefault(key, []).append([b.paragraph.text])
        prev = key
    scores = {k: sum(asks(" ".join(u)) for u in us) / len(us) for k, us in utterances.items()}
    best = max(scores, key=scores.__getitem__)  # the first to speak of those with the top score
    return {best} if scores[best] > 0 else set()


def assemble(
    transcript_id: str,
    text: str,
    title: str,
    blocks: list[Block],
    expected: str,
    intro_parts: Iterable[str] = (),
    dropped: Iterable[str] = (),
    captions: Iterable[str] = (),
) -> Transcript:
    """Sort blocks into intro, question/answer turns and dropped lines; shared by all formats
    except the plain one.

    - A labelled block is the interviewer's (see `_pick_interviewers`) or an interviewee's;
      consecutive blocks of one speaker form one utterance.
    - An interviewer utterance that asks opens a turn; one that does not is intro before the
      first question and dropped after it (back-channel such as "Right.").
    - An interviewee utterance answers the open question; a different interviewee after an
      answer gets a turn of their own on the same question; before any question it is intro.
    - An unlabelled block marked `question=True` opens a turn; with no labels and no marked
      questions in the file, unlabelled blocks are judged by `is_question` as in the plain
      format. Other unlabelled blocks continue the current answer (or the interviewer's
      utterance if it has not asked yet), or are intro before the first question.
    """
    intro = list(intro_parts)
    dropped = list(dropped)
    captions = list(captions)
    interviewers = _pick_interviewers(blocks)
    judge_text = not any(b.label for b in blocks) and not any(b.question for b in blocks)
    # the unlabelled paragraphs that close the file, after the last speaker label or question
    # (short lines are kept: in these formats they are list items and headings, not captions)
    after = max((n + 1 for n, b in enumerate(blocks) if b.label or b.question), default=0)
    tail = after + furniture_tail([b.paragraph.text for b in blocks[after:]], captions=False)
    furniture = {id(b) for b in blocks[tail:]}
    labels: dict[str, str] = {}  # key -> label as first written
    roles: dict[str, str] = {}
    for b in blocks:
        if b.label:
            labels.setdefault(label_key(b.label), " ".join(b.label.split()))
            if b.role:
                roles.setdefault(label_key(b.label), b.role.strip())

    # Utterances: consecutive blocks of one speaker; an unlabelled paragraph continues the
    # speaker before it, unless that is the interviewer having asked (then it is an answer).
    utterances: list[tuple[str | None, list[Block]]] = []
    tail = ""  # the end of the last utterance's text: enough to tell whether it asks
    for b in blocks:
        key = label_key(b.label) if b.label else None
        prev_key, prev_blocks = utterances[-1] if utterances else (None, [])
        if (
            key is None
            and b.question is None
            and prev_key is not None
            and (prev_key not in interviewers or not asks(tail))
        ):
            key = prev_key
        words = " ".join(b.paragraph.text.split())
        if key is not None and key == prev_key:
            prev_blocks.append(b)
            tail = (tail + " " + words)[-ASKS_WINDOW:]
        else:
            utterances.append((key, [b]))
            tail = words[-ASKS_WINDOW:]

    speaking = {key for key, _ in utterances if key is not None}
    if len(speaking - interviewers) >= 2:
        return _conversation(
            transcript_id, text, title, utterances, labels, roles, intro, dropped, interviewers
        )

    turns: list[Turn] = []
    # An asked question still waiting for its answer, as its parts (joined when it is used: one
    # string grown by `+=` took time growing with the square of its length).
    pending: list[str] | None = None
    asked: tuple[str, list[Block]] | None = None  # who asked it, and where, if a speaker did

    def keep_said(key: str, group: list[Block], question: str) -> None:
        """What an interviewer said that is no question with an answer is kept as their turn."""
        paragraphs = [b.paragraph for b in group]
        turns.append(Turn(0, question, labels[key], paragraphs, group[0].timestamp, asked_by=""))

    def open_question(q: str, key: str | None = None, group: list[Block] | None = None) -> None:
        nonlocal pending, asked
        if pending is not None:
            if asked:  # a question that got no answer: still what a person said
                keep_said(*asked, "")
            else:
                dropped.append(" ".join(pending))  # a section heading with nothing under it
        pending = [q]
        asked = (key, list(group)) if key is not None and group else None

    def answer(speaker: str, block: Block) -> None:
        nonlocal pending
        nonlocal asked
        if pending is not None:
            asker, question = labels[asked[0]] if asked else "", " ".join(pending)
            turn = Turn(0, question, speaker, [block.paragraph], block.timestamp, asked_by=asker)
            turns.append(turn)
            pending, asked = None, None
        elif turns and turns[-1].speaker == speaker:
            turns[-1].paragraphs.append(block.paragraph)
        elif turns:
            turns.append(Turn(0, turns[-1].question, speaker, [block.paragraph], block.timestamp))
        else:
            intro.append(block.paragraph.text)

    for key, group in utterances:
        if key is not None and key in interviewers:
            said = _joined(group)
            if asks(said):
                if not turns and pending is None:  # "Welcome … Jane Doe, CEO of Acme. So, how …?"
                    greeting, said = _split_greeting(said)
                    if greeting:
                        intro.append(greeting)
                open_question(said, key, group)
            elif pending is not None:
                pending.append(said)
                if asked:
                    asked[1].extend(group)
            elif turns:
                keep_said(key, group, turns[-1].question)
            else:
                intro.extend(b.paragraph.text for b in group)
        elif key is not None:
            for b in group:
                answer(labels[key], b)
        else:
            (b,) = group
            text_ = b.paragraph.text
            asking = b.question if b.question is not None else (judge_text and is_question(text_))
            if asking:
                open_question(" ".join(text_.split()))
            elif id(b) in furniture and pending is None and turns:  # never the only answer
                dropped.append(text_)
            elif pending is not None:
                answer(_DEFAULT_SPEAKER, b)
            elif turns:
                answer(turns[-1].speaker, b)
            else:
                intro.append(text_)
    if pending is not None:
        if asked:
            keep_said(*asked, "")
        else:
            dropped.append(" ".join(pending))
    if not turns:
        heard = ", ".join(labels.values())
        raise TranscriptError(
            "no interviewer questions with answers were found"
            + (f" (speakers: {heard})" if heard else "")
            + f"; expected {expected}"
        )
    intro_text = "\n\n".join(intro)
    name, role = find_interviewee(intro_text, captions)
    speakers: dict[str, None] = {}  # in order of first answer
    not_named = interviewers | _GENERIC_ANSWER_LABELS
    named = [v for k, v in labels.items() if k not in not_named]
    for number, turn in enumerate(turns, 1):
        turn.number = number
        key = label_key(turn.speaker)
        if turn.speaker == _DEFAULT_SPEAKER or key in _GENERIC_ANSWER_LABELS:
            if name:
                turn.speaker = name
            elif turn.speaker == _DEFAULT_SPEAKER and len(named) == 1:
                turn.speaker = named[0]
            elif turn.speaker == _DEFAULT_SPEAKER or key in {"a", "answer", "r"}:
                turn.speaker = "Interviewee"
        if key not in interviewers:
            speakers.setdefault(turn.speaker)
    if not role and len(speakers) == 1:
        role = roles.get(label_key(next(iter(speakers))), "")
    interviewee = name or ", ".join(speakers)
    return Transcript(
        transcript_id, title or transcript_id, intro_text, interviewee, role, turns, dropped, text
    )


UNNAMED = "(unnamed speaker)"  # an unlabelled answer in a conversation
PROMPT_CHARS = 300  # how much of the turn before a conversation turn it carries as its context


def _tail(text: str, chars: int = PROMPT_CHARS) -> str:
    """The end of a turn, from a word start: what the next speaker most likely answers."""
    text = " ".join(text.split())
    if len(text) <= chars:
        return text
    cut = text.find(" ", len(text) - chars)
    return "…" + text[cut + 1 if cut >= 0 else len(text) - chars :]


def _people(labels: dict[str, str], roles: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Label key -> (name, role), each person once: a bare role label ("The Chair") is the person
    a fuller label gave that role ("The Chair (Hon. Anthony Rota …)"), and a surname label
    ("Mr. Ste-Marie") is the one speaker of the file with that surname, with that speaker's role."""
    people = {key: person(label, roles.get(key, "")) for key, label in labels.items()}
    by_role = {label_key(role): (name, role) for name, role in people.values() if role}
    # Surname -> the first (name, role) of a full name with that surname, and every such name.
    first_full: dict[str, tuple[str, str]] = {}
    full_names: dict[str, set[str]] = {}
    for name, role in people.values():
        if len(name.split()) >= 2:
            surname = name.split()[-1].casefold()
            first_full.setdefault(surname, (name, role))
            full_names.setdefault(surname, set()).add(name)
    for key, (name, role) in people.items():
        if not role and key in by_role and by_role[key][0] != name:
            people[key] = by_role[key]
        elif len(name.split()) == 1 and len(full_names.get(name.casefold(), ())) == 1:
            fuller = first_full[name.casefold()]
            people[key] = (fuller[0], role or fuller[1])
    best_role: dict[str, str] = {}
    for name, role in people.values():
        if role and not best_role.get(name):
            best_role[name] = role
    return {key: (name, role or best_role.get(name, "")) for key, (name, role) in people.items()}


def _conversation(
    transcript_id: str,
    text: str,
    title: str,
    utterances: list[tuple[str | None, list[Block]]],
    labels: dict[str, str],
    roles: dict[str, str],
    intro: list[str],
    dropped: list[str],
    interviewers: set[str],
) -> Transcript:
    """Every speaker's turns in order (hearings, panels, podcasts, focus groups): nothing a
    person said is dropped. Each turn carries the end of the turn before it by someone else
    (what it most likely answers) as its question, and that turn's number and speaker."""
    people = _people(labels, roles)
    people[None] = (UNNAMED, "")
    turns: list[Turn] = []
    last_key: str | None = None
    for key, group in utterances:
        if key is None:  # unlabelled: the title page before anyone speaks, else the same speaker,
            if not turns:  # or an answer to a host's question
                intro.extend(b.paragraph.text for b in group)
                continue
            host = last_key in interviewers and last_key in _INTERVIEWER_LABELS
            if not (host and asks(turns[-1].paragraphs[-1].text)):
                turns[-1].paragraphs.extend(b.paragraph for b in group)
                continue
        last_key = key
        name, role = people[key]
        if turns and turns[-1].speaker == name:
            turns[-1].paragraphs.extend(b.paragraph for b in group)
            continue
        before = next((t for t in reversed(turns) if t.speaker != name), None)
        turns.append(
            Turn(
                len(turns) + 1,
                _tail(" ".join(p.text for p in before.paragraphs)) if before else "",
                name,
                [b.paragraph for b in group],
                group[0].timestamp,
                role=role,
                label=labels.get(key, ""),
                prompted_by=before.number if before else 0,
                asked_by=before.speaker if before else "",
            )
        )
    if not turns:
        raise TranscriptError("no speaker turns were found")
    return Transcript(
        transcript_id, title or transcript_id, "\n\n".join(intro), "", "", turns, dropped, text,
        kind="conversation",
    )


# --- Speaker-labelled text ------------------------------------------------------------------

_TXT_EXPECTED = (
    "speaker labels such as 'Interviewer: …', 'Host: …' or 'Q: …' on the questions (or a "
    "speaker whose lines end with '?'), each followed by an answer such as 'Jane Doe: …'"
)


@dataclass
class _Line:
    start: int  # offset of the first non-blank character in the text
    text: str  # the line without surrounding white space
    label: re.Match | None  # its speaker label, matched against `text`


def _label_lines(text: str) -> list[list[_Line]]:
    """Non-blank lines grouped by paragraph, each with its speaker label match, if any."""
    out = []
    for para in split_paragraphs(text):
        lines = []
        pos = para.start
        for raw in text[para.start : para.end].split("\n"):
            stripped = raw.strip()
            if stripped:
                start = pos + len(raw) - len(raw.lstrip())
                lines.append(_Line(start, stripped, match_label(stripped)))
            pos += len(raw) + 1
        out.append(lines)
    return out


def looks_labelled(text: str, paragraphs: list[list[_Line]] | None = None) -> bool:
    """Most of the text is lines that start with a speaker label (see `honour_labels`), or
    the questions carry an interviewer label (`Q:` / `Interviewer:`). `paragraphs`: the text's
    `_label_lines`, if already read."""
    labels: list[str] = []
    units = 0
    for lines in _label_lines(text) if paragraphs is None else paragraphs:
        found = [line.label.group("label") for line in lines if line.label]
        labels += found
        units += len(found) + (0 if lines[0].label else 1)
    if sum(1 for label in labels if is_interviewer_label(label)) >= 2:
        return True
    keys = [label_key(label) for label in labels]
    # Long statements run over several unlabelled paragraphs; three speakers labelled five
    # times or more between them are still a labelled transcript.
    return len(set(keys)) >= 2 and (len(keys) * 2 > units or (len(set(keys)) >= 3 and len(keys) >= 5))


def parse_labelled(
    text: str, transcript_id: str, paragraphs: list[list[_Line]] | None = None
) -> Transcript:
    """Speaker-labelled text: `Interviewer: …` / `Jane Doe: …` / `Q: …` / `A: …` lines.

    A labelled line starts an utterance and the following lines of its paragraph continue it;
    an unlabelled paragraph is a block of its own (see `assemble`). An optional timestamp
    (`[00:01:02] Jane: …`, `Jane (00:01:02): …`) and role (`Jane Doe (CEO): …`) are kept.
    Spans are into `text` itself and leave the label out.
    """
    paragraphs = _label_lines(text) if paragraphs is None else paragraphs
    title = ""
    if paragraphs and not any(line.label for line in paragraphs[0]):
        first = text[paragraphs[0][0].start : paragraphs[0][-1].start + len(paragraphs[0][-1].text)]
        if len(first) <= 200 and not is_question(first):
            title = " ".join(first.split())
            paragraphs = paragraphs[1:]
    blocks: list[Block] = []
    for lines in paragraphs:
        current: Block | None = None
        for line in lines:
            m = line.label
            if m:
                current = Block(
                    Paragraph("", -1, -1),
                    m.group("label"),
                    None,
                    norm_timestamp(m.group("ts1") or m.group("ts2")),
                    (m.group("role") or "").strip(),
                )
                blocks.append(current)
                content_start = line.start + m.end()
                content = line.text[m.end() :]
            else:
                if current is None:
                    current = Block(Paragraph("", -1, -1))
                    blocks.append(current)
                content_start, content = line.start, line.text
            if content:
                para = current.paragraph
                if para.start < 0:
                    para.start = content_start
                para.end = content_start + len(content)
    blocks = [b for b in blocks if b.paragraph.start >= 0]
    for b in blocks:  # once each: a slice per line took time growing with a paragraph's square
        b.paragraph.text = text[b.paragraph.start : b.paragraph.end]
    return assemble(transcript_id, text, title, blocks, _TXT_EXPECTED)


def parse_text(text: str, transcript_id: str) -> Transcript:
    """A `.txt` transcript: speaker-labelled when most of it is `Label:` lines, else plain."""
    paragraphs = _label_lines(text)  # read once for both
    if looks_labelled(text, paragraphs):
        return parse_labelled(text, transcript_id, paragraphs)
    return parse_plain(text, transcript_id)


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


Parser = Callable[[bytes | str, str], Transcript]  # (file content, transcript id) -> Transcript


def text_format(parse: Callable[[str, str], Transcript]) -> Parser:
    """A parser of a UTF-8 text format: decodes bytes (a str is taken as already decoded)."""

    def parser(data: bytes | str, transcript_id: str) -> Transcript:
        text = decode(data, Path(transcript_id)) if isinstance(data, bytes) else data
        return parse(text, transcript_id)

    parser.__name__ = parser.__qualname__ = parse.__name__
    parser.__doc__ = parse.__doc__
    return parser
