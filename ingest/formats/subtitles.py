"""WebVTT (`webvtt-py`) and SRT (`srt`) subtitles as interviews.

With speaker tags (`<v Jane Doe>` in WebVTT, a `Jane Doe:` or `>> Jane Doe:` prefix in either),
consecutive cues of one speaker form one utterance (a cue without a tag continues the speaker
before it) and `ingest.parse.assemble` sorts them: the interviewer's utterances that ask open
turns, the other speakers' utterances are the answers. Without speaker tags, a cue ending
with '?' (together with the cues before it that belong to the same sentence) is a question and
the cues after it are its answer.

`Turn.timestamp` is the start of the answer's first cue, as HH:MM:SS. Cues that only describe
sound (`[Music]`, `(laughs)`) are dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ingest.parse import (
    QUESTION_END,
    Item,
    Transcript,
    TranscriptError,
    assemble,
    build,
    hms,
    honour_labels,
    label_key,
    match_label,
)

_EXPECTED = (
    "speaker tags such as '<v Interviewer>' / '<v Jane Doe>' or an 'Interviewer:' prefix on "
    "the cues, or question cues ending with '?', each followed by answer cues"
)
_SOUND = re.compile(r"^[\[(♪][^\])]*[\])♪]?$")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")


@dataclass
class Cue:
    seconds: float
    text: str
    voice: str = ""  # a WebVTT <v> tag


def _clean(text: str) -> str:
    text = re.sub(r"\{\\[^}]*\}", "", text)  # SSA override tags in SRT: {\an8}
    text = re.sub(r"</?[A-Za-z][^<>]*>", "", text)  # <i>, <b>, <font …>, <c.x>, <00:00:01.000>
    text = re.sub(r"<\d[\d:.]*>", "", text)
    text = (
        text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ")
    )
    lines = [re.sub(r"^(?:>>|-)\s*", "", line.strip()) for line in text.split("\n")]
    return " ".join(" ".join(lines).split())


def parse_cues(cues: list[Cue], transcript_id: str, title: str) -> Transcript:
    """Sort timed cues into an interview (see module docstring)."""
    dropped: list[str] = []
    spoken: list[tuple[Cue, str | None, str]] = []  # cue, label, text
    roles: dict[str, str] = {}  # label -> the role written in its first "Name (Role):"
    for cue in cues:
        text = _clean(cue.text)
        if not text:
            continue
        if _SOUND.match(text):
            dropped.append(text)
            continue
        label = " ".join(cue.voice.split()) or None
        m = None if label else match_label(text)
        if m:
            label, text = m.group("label"), text[m.end() :].strip()
            if m.group("role"):
                roles.setdefault(label, m.group("role").strip())
        spoken.append((cue, label, text))
    if not spoken:
        raise TranscriptError("the subtitles have no cues with text")
    labels = [label for _, label, _ in spoken if label]
    voiced = any(cue.voice for cue, _, _ in spoken)
    # Captions often name the speaker only when it changes: two names used twice each will do.
    counts = Counter(label_key(label) for label in labels)
    if voiced or honour_labels(labels, len(spoken)) or sum(n >= 2 for n in counts.values()) >= 2:
        items = _by_speaker(spoken)
        for item in items:
            item.role = roles.get(item.label or "", "")
    else:
        items = _by_question(
            [(cue, f"{label}: {text}" if label else text) for cue, label, text in spoken]
        )
    body, blocks = build(title, items)
    return assemble(transcript_id, body, title, blocks, _EXPECTED, dropped=dropped)


def _by_speaker(spoken: list[tuple[Cue, str | None, str]]) -> list[Item]:
    """One item per run of cues of one speaker; an untagged cue continues the speaker before
    it (captions name the speaker when it changes). Each run's texts are joined once: a string
    grown by `+=` per cue took time growing with the square of the run."""
    runs: list[tuple[str | None, Cue, list[str]]] = []  # speaker, first cue, texts
    for cue, label, text in spoken:
        if label is None and runs:
            label = runs[-1][0]
        if runs and label == runs[-1][0]:
            runs[-1][2].append(text)
        else:
            runs.append((label, cue, [text]))
    return [Item(" ".join(texts), label, None, hms(cue.seconds)) for label, cue, texts in runs]


def _by_question(spoken: list[tuple[Cue, str]]) -> list[Item]:
    """Without speakers: a cue ending with '?' ends a question that starts after the last cue
    ending a sentence; the cues after it, up to the next question, are its answer. (Texts are
    joined once each, as in `_by_speaker`.)"""
    parts: list[tuple[list[str], bool | None, Cue]] = []  # texts, question, first cue
    run: list[tuple[Cue, str]] = []

    def emit(part: list[tuple[Cue, str]], question: bool | None) -> None:
        if part:
            parts.append(([t for _, t in part], question, part[0][0]))

    for cue, text in spoken:
        run.append((cue, text))
        if not QUESTION_END.search(text):
            continue
        k = len(run) - 1
        while k > 0 and not _SENTENCE_END.search(run[k - 1][1]):
            k -= 1
        answer, question = run[:k], run[k:]
        if not answer and parts and parts[-1][1]:  # questions in a row make one question
            parts[-1][0].extend(t for _, t in question)
        else:
            emit(answer, False if parts else None)
            emit(question, True)
        run = []
    emit(run, False if parts else None)
    return [
        Item(" ".join(texts), None, question, hms(cue.seconds)) for texts, question, cue in parts
    ]


def _seconds(stamp) -> float:
    return stamp.total_seconds()


def parse_webvtt(text: str, transcript_id: str) -> Transcript:
    """A WebVTT file; the title is the text after `WEBVTT` on its first line, if any."""
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        vtt = webvtt.WebVTT.from_string(text)
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise TranscriptError(
            f"not a valid WebVTT file ({exc}): it must start with 'WEBVTT' and hold cues such "
            "as '00:00:01.000 --> 00:00:04.000' followed by their text"
        ) from None
    m = re.match(r"WEBVTT[ \t]+(?:-[ \t]*)?(.+)", text.lstrip("\ufeff"))
    title = m.group(1).strip() if m else ""
    cues = [Cue(c.start_in_seconds, c.raw_text, c.voice or "") for c in vtt.captions]
    return parse_cues(cues, transcript_id, title)


def parse_srt(text: str, transcript_id: str) -> Transcript:
    """An SRT file (numbered cues with `00:00:01,000 --> 00:00:04,000` times)."""
    import srt

    try:
        subs = list(srt.parse(text))
    except (srt.SRTParseError, srt.TimestampParseError, ValueError) as exc:
        raise TranscriptError(
            f"not a valid SRT file ({str(exc).splitlines()[0][:200]}): it must hold numbered "
            "cues with times such as '00:00:01,000 --> 00:00:04,000' followed by their text"
        ) from None
    cues = [Cue(_seconds(s.start), s.content) for s in subs]
    return parse_cues(cues, transcript_id, "")
