"""Every transcript format lands in the same question/answer/speaker structure.

Small real files of each format are parsed through `parse_file` (dispatch by suffix), and a
folder holding one of each is synced into a real Chroma with the real embedding model.
"""

from pathlib import Path

import docx
import pytest

from ingest import store as ix
from ingest.chunk import chunk_transcript
from ingest.formats import PARSERS, parse_file
from ingest.parse import Transcript, TranscriptError, looks_labelled
from ingest.sync import sync_paths
from tests.fixtures.core import SAMPLE
from tests.ingest.helpers import parse_written

MARKDOWN = """\
---
layout: post
title: "Ignored when there is a heading"
---

# Building *Acme*: robots for [small farms](https://example.com/acme)

Our editor sat down with Jane Doe, the founder of Acme Robotics, to talk about farming.

![Jane Doe in the Acme workshop](jane.jpg)

## Tell us about your background

I studied **mechanical engineering** at [MIT](https://mit.edu). Then I built
tractors for _ten_ years.

Later I moved to `Boston`, where Acme began.

**What was the hardest part?**

Hiring. Good engineers want to work on *cars*, not tractors.

> Farming is the last big manual job.

**Why small farms?** Because big farms already have machines.

## Related articles

- [Robots in the field](https://example.com/robots)
- Share this article
"""

MARKDOWN_LABELLED = """\
# Podcast episode 12

**Host:** Welcome! Today I talk with Sam Lee, the head of design at Beta Chairs, about chairs.
**Sam Lee:** Thanks for having me.

**Host:** How did you start designing chairs?
**Sam Lee:** In my garage.
I had no money at all.

**Host:** Right.

**Sam Lee:** And then we grew quickly.
**Ana Ruiz:** I joined a year later to run the workshop.

**Q: What comes next?**

Chairs for offices, and later for schools.
"""

LABELLED_TXT = """\
Acme engineering interview

Recorded: 12 March 2024

Interviewer: Thanks for joining us. What do you do at Acme?
Jane Doe (CTO): I lead the engineering team.
We build robots for small farms.

Interviewer: Mm-hmm.

Jane Doe (CTO): Mostly robot arms, to be precise.

[00:05:10] Interviewer: Tell me about your team.
[00:05:15] Jane Doe (CTO): Twelve people, most of them mechanical engineers.
[00:06:02] Omar Said (Lead Engineer): And two of us write the software.
Interviewer: Thanks, that's all for today.
"""

QA_TXT = """\
Q: What is your name?
A: My name is Sam.
Q: Where do you live?
A: In Paris.
I moved there in 2019.
"""

VTT = """\
WEBVTT - Acme podcast

NOTE recorded live at the Acme workshop

00:00:01.000 --> 00:00:04.000
<v Host>Welcome! Today we speak with Jane Doe, the CEO of Acme, about robots.

00:00:04.500 --> 00:00:06.000
<v Host>So, how did
Acme start?

00:00:06.500 --> 00:00:09.000
<v Jane Doe>It started in a garage.

00:00:09.000 --> 00:00:12.000
<v Jane Doe>We had <i>no</i> money.

00:00:12.000 --> 00:00:12.500
<v Host>Right.

00:00:12.600 --> 00:00:15.000
<v Jane Doe>But we had plenty of time.

00:01:05.000 --> 00:01:08.000
<v Host>What comes next for Acme?

00:01:08.500 --> 00:01:12.000
<v Jane Doe>Robots for vineyards.

00:01:12.500 --> 00:01:14.000
[Music]
"""

SRT = """\
1
00:00:01,000 --> 00:00:03,000
Hello and welcome. I met Sam Lee, head of design at Beta Chairs, to talk.

2
00:00:03,500 --> 00:00:05,000
So Sam, what do

3
00:00:05,000 --> 00:00:06,000
you design?

4
00:00:06,500 --> 00:00:09,000
Mostly chairs for offices.

5
00:00:09,000 --> 00:00:11,000
<i>Comfortable</i> ones.

6
01:02:03,000 --> 01:02:05,000
Why chairs?

7
01:02:05,500 --> 01:02:08,000
People sit a lot, and they sit badly.
"""

SRT_SPEAKERS = """\
1
00:00:01,000 --> 00:00:03,000
Interviewer: What brought you to Lisbon?

2
00:00:03,500 --> 00:00:06,000
Maria: The light, and the food.

3
00:00:06,000 --> 00:00:08,000
It is a city for painters.

4
00:00:09,000 --> 00:00:11,000
Interviewer: And what keeps you here?

5
00:00:11,500 --> 00:00:14,000
Maria: My studio by the river.
"""


def _write_docx(path: Path) -> Path:
    """A Word interview: title, intro, heading and bold questions, a caption, a table row."""
    document = docx.Document()
    document.add_heading("Acme: an interview", level=0)
    document.add_paragraph(
        "We sat down with Jane Doe, the founder of Acme Robotics, to talk about robots."
    )
    document.add_heading("Early career", level=2)
    document.add_paragraph("I studied engineering. Then I built tractors.")
    para = document.add_paragraph()
    para.add_run("What was the hardest part?").bold = True
    document.add_paragraph("Hiring engineers.")
    para = document.add_paragraph()
    para.add_run("Why robots?").bold = True
    para.add_run(" Because they never sleep.")
    document.add_paragraph("Jane Doe at the Acme workshop", style="Caption")
    document.add_paragraph("Is that the whole story? Not quite, but close.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].paragraphs[0].add_run("Where is Acme based?").bold = True
    table.rows[0].cells[1].text = "In Boston, near the harbour."
    document.save(path)
    return path


def _write_labelled_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("Podcast 3")
    document.add_paragraph("Interviewer: What do you design?\nSam Lee: I design chairs.")
    document.add_paragraph("Interviewer: Why chairs?")
    para = document.add_paragraph()
    para.add_run("Sam Lee:").bold = True
    para.add_run(" People sit a lot.")
    document.save(path)
    return path


def _check_spans(t: Transcript) -> None:
    for turn in t.turns:
        assert turn.paragraphs
        for p in turn.paragraphs:
            assert t.text[p.start : p.end] == p.text
    for c in chunk_transcript(t, 700):
        assert t.text[c.metadata["start"] : c.metadata["end"]] == c.text


def _summary(t: Transcript) -> list[tuple[str, str, str, list[str]]]:
    return [(turn.question, turn.speaker, turn.timestamp, [p.text for p in turn.paragraphs]) for turn in t.turns]


def test_registry_covers_every_format():
    assert sorted(PARSERS) == [".docx", ".markdown", ".md", ".srt", ".txt", ".vtt"]


@pytest.mark.parametrize("suffix", [".md", ".markdown"])
def test_markdown_headings_bold_questions_and_markup(tmp_path, suffix):
    t = parse_written(tmp_path, f"acme{suffix}", MARKDOWN)
    assert t.title == "Building Acme: robots for small farms"
    assert (t.interviewee, t.role) == ("Jane Doe", "founder of Acme Robotics")
    assert t.intro == "Our editor sat down with Jane Doe, the founder of Acme Robotics, to talk about farming."
    assert _summary(t) == [
        ("Tell us about your background", "Jane Doe", "", [
            "I studied mechanical engineering at MIT. Then I built tractors for ten years.",
            "Later I moved to Boston, where Acme began.",
        ]),
        ("What was the hardest part?", "Jane Doe", "", [
            "Hiring. Good engineers want to work on cars, not tractors.",
            "Farming is the last big manual job.",
        ]),
        ("Why small farms?", "Jane Doe", "", ["Because big farms already have machines."]),
    ]  # fmt: skip
    assert t.dropped == [
        "Jane Doe in the Acme workshop", "Related articles", "Robots in the field\nShare this article",
    ]  # fmt: skip
    assert "**" not in t.text and "](" not in t.text and "`" not in t.text
    _check_spans(t)


def test_markdown_podcast_with_a_host_and_two_guests_is_a_conversation(tmp_path):
    """Two guests: not one interviewer and one interviewee. Every turn is kept in order, the
    host's back-channel ("Right.") too, each with the end of the turn before it as context."""
    t = parse_written(tmp_path, "podcast.md", MARKDOWN_LABELLED)
    assert t.title == "Podcast episode 12"
    assert t.kind == "conversation"
    assert [(u.number, u.speaker, u.prompted_by, [p.text for p in u.paragraphs]) for u in t.turns] == [
        (1, "Host", 0, ["Welcome! Today I talk with Sam Lee, the head of design at Beta Chairs, about chairs."]),
        (2, "Sam Lee", 1, ["Thanks for having me."]),
        (3, "Host", 2, ["How did you start designing chairs?"]),
        (4, "Sam Lee", 3, ["In my garage. I had no money at all."]),
        (5, "Host", 4, ["Right."]),
        (6, "Sam Lee", 5, ["And then we grew quickly."]),
        (7, "Ana Ruiz", 6, ["I joined a year later to run the workshop."]),
        (8, "Q", 7, ["What comes next?"]),
        (9, "(unnamed speaker)", 8, ["Chairs for offices, and later for schools."]),
    ]  # fmt: skip
    assert t.turns[3].question == "How did you start designing chairs?"
    assert t.turns[3].asked_by == "Host"
    assert t.dropped == []
    assert "Sam Lee: In my garage." in t.text
    _check_spans(t)


def test_speaker_labelled_text_with_two_answering_speakers_is_a_conversation(tmp_path):
    """An interviewer and two people who answer: every turn kept (the interviewer's "Mm-hmm."
    and goodbye too), roles as written, each turn with what came just before it."""
    t = parse_written(tmp_path, "acme.txt", LABELLED_TXT)
    assert t.title == "Acme engineering interview"
    assert t.kind == "conversation"
    assert t.intro == "Recorded: 12 March 2024"
    assert [(u.speaker, u.role, u.timestamp, [p.text for p in u.paragraphs]) for u in t.turns] == [
        ("Interviewer", "", "", ["Thanks for joining us. What do you do at Acme?"]),
        ("Jane Doe", "CTO", "", ["I lead the engineering team.\nWe build robots for small farms."]),
        ("Interviewer", "", "", ["Mm-hmm."]),
        ("Jane Doe", "CTO", "", ["Mostly robot arms, to be precise."]),
        ("Interviewer", "", "00:05:10", ["Tell me about your team."]),
        ("Jane Doe", "CTO", "00:05:15", ["Twelve people, most of them mechanical engineers."]),
        ("Omar Said", "Lead Engineer", "00:06:02", ["And two of us write the software."]),
        ("Interviewer", "", "", ["Thanks, that's all for today."]),
    ]  # fmt: skip
    assert (t.turns[1].question, t.turns[1].asked_by, t.turns[1].prompted_by) == (
        "Thanks for joining us. What do you do at Acme?", "Interviewer", 1,
    )  # fmt: skip
    assert t.dropped == []
    assert t.text == LABELLED_TXT  # spans point into the file itself
    _check_spans(t)


def test_q_and_a_labels(tmp_path):
    t = parse_written(tmp_path, "qa.txt", QA_TXT)
    assert t.title == "qa"
    assert _summary(t) == [
        ("What is your name?", "Interviewee", "", ["My name is Sam."]),
        ("Where do you live?", "Interviewee", "", ["In Paris.\nI moved there in 2019."]),
    ]
    _check_spans(t)


def test_interviewer_found_by_who_asks(tmp_path):
    text = (
        "Ana: What got you into pottery?\nBen: My grandmother had a wheel.\n"
        "Ana: Do you still use it?\nBen: Every day, in the shed.\n"
    )
    t = parse_written(tmp_path, "pottery.txt", text)
    assert [(turn.question, turn.speaker) for turn in t.turns] == [
        ("What got you into pottery?", "Ben"),
        ("Do you still use it?", "Ben"),
    ]
    assert t.interviewee == "Ben"


def test_plain_text_is_not_mistaken_for_speaker_labels():
    assert not looks_labelled(SAMPLE.read_text(encoding="utf-8"))
    assert looks_labelled(LABELLED_TXT) and looks_labelled(QA_TXT)


def test_webvtt_voices_and_timestamps(tmp_path):
    t = parse_written(tmp_path, "acme.vtt", VTT)
    assert t.title == "Acme podcast"
    assert (t.interviewee, t.role) == ("Jane Doe", "CEO of Acme")
    assert t.intro == "Welcome! Today we speak with Jane Doe, the CEO of Acme, about robots."
    assert _summary(t) == [
        ("So, how did Acme start?", "Jane Doe", "00:00:06", ["It started in a garage. We had no money."]),
        ("So, how did Acme start?", "Host", "00:00:12", ["Right."]),  # said, so kept
        ("So, how did Acme start?", "Jane Doe", "00:00:12", ["But we had plenty of time."]),
        ("What comes next for Acme?", "Jane Doe", "00:01:08", ["Robots for vineyards."]),
    ]  # fmt: skip
    assert t.dropped == ["[Music]"]  # a sound cue, not speech
    assert "[00:00:06] Jane Doe: It started in a garage." in t.text
    _check_spans(t)


def test_srt_without_speakers_questions_end_with_a_question_mark(tmp_path):
    t = parse_written(tmp_path, "chairs.srt", SRT)
    assert t.title == "chairs"
    assert (t.interviewee, t.role) == ("Sam Lee", "head of design at Beta Chairs")
    assert _summary(t) == [
        ("So Sam, what do you design?", "Sam Lee", "00:00:06", [
            "Mostly chairs for offices. Comfortable ones.",
        ]),
        ("Why chairs?", "Sam Lee", "01:02:05", ["People sit a lot, and they sit badly."]),
    ]  # fmt: skip
    _check_spans(t)


def test_srt_with_name_prefixes(tmp_path):
    t = parse_written(tmp_path, "lisbon.srt", SRT_SPEAKERS)
    assert _summary(t) == [
        ("What brought you to Lisbon?", "Maria", "00:00:03", [
            "The light, and the food. It is a city for painters.",
        ]),
        ("And what keeps you here?", "Maria", "00:00:11", ["My studio by the river."]),
    ]  # fmt: skip
    _check_spans(t)


def test_srt_names_only_where_the_speaker_changes(tmp_path):
    cues = [
        ("Tom: Where did you grow up?", "00:00:01"),
        ("Lena: In a small town", "00:00:03"),
        ("by the sea.", "00:00:05"),
        ("Tom: Do you miss it?", "00:00:08"),
        ("Lena: Every winter.", "00:00:10"),
    ]
    text = "\n".join(
        f"{n}\n{ts},000 --> {ts},900\n{line}\n" for n, (line, ts) in enumerate(cues, 1)
    )
    t = parse_written(tmp_path, "town.srt", text)
    assert _summary(t) == [
        ("Where did you grow up?", "Lena", "00:00:03", ["In a small town by the sea."]),
        ("Do you miss it?", "Lena", "00:00:10", ["Every winter."]),
    ]
    assert t.interviewee == "Lena"
    _check_spans(t)


def test_docx_headings_bold_questions_caption_and_table(tmp_path):
    path = _write_docx(tmp_path / "acme.docx")
    t = parse_file(path, "acme")
    assert t.title == "Acme: an interview"
    assert (t.interviewee, t.role) == ("Jane Doe", "founder of Acme Robotics")
    assert _summary(t) == [
        ("Early career", "Jane Doe", "", ["I studied engineering. Then I built tractors."]),
        ("What was the hardest part?", "Jane Doe", "", ["Hiring engineers."]),
        ("Why robots?", "Jane Doe", "", [
            "Because they never sleep.", "Is that the whole story? Not quite, but close.",
        ]),
        ("Where is Acme based?", "Jane Doe", "", ["In Boston, near the harbour."]),
    ]  # fmt: skip
    assert t.dropped == ["Jane Doe at the Acme workshop"]
    _check_spans(t)


def test_docx_speaker_labels(tmp_path):
    t = parse_file(_write_labelled_docx(tmp_path / "chairs.docx"), "chairs")
    assert t.title == "Podcast 3"
    assert _summary(t) == [
        ("What do you design?", "Sam Lee", "", ["I design chairs."]),
        ("Why chairs?", "Sam Lee", "", ["People sit a lot."]),
    ]
    _check_spans(t)


NO_QUESTIONS = {
    "notes.txt": "Interviewer: Hello there.\nJane: Hello.\nInterviewer: Nice weather.\nJane: Indeed.\n",
    "notes.md": "# Notes\n\nJust some prose here. More prose.\n\nAnd more prose.\n",
    "notes.vtt": "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nJust talking.\n\n"
    "00:00:02.000 --> 00:00:03.000\nStill talking.\n",
    "notes.srt": "1\n00:00:01,000 --> 00:00:02,000\nNo questions here.\n",
}


@pytest.mark.parametrize("name", sorted(NO_QUESTIONS))
def test_no_questions_is_an_actionable_error(tmp_path, name):
    with pytest.raises(TranscriptError, match=r"no interviewer questions with answers.*expected"):
        parse_written(tmp_path, name, NO_QUESTIONS[name])


def test_docx_without_questions_is_an_error(tmp_path):
    document = docx.Document()
    document.add_paragraph("Meeting notes")
    document.add_paragraph("We talked about the budget. It was fine.")
    document.save(tmp_path / "notes.docx")
    with pytest.raises(TranscriptError, match="no interviewer questions.*headings, bold"):
        parse_file(tmp_path / "notes.docx", "notes")


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("broken.vtt", b"00:00:01.000 --> 00:00:02.000\nHi?\n", "not a valid WebVTT file"),
        ("broken.srt", b"1\nnot a time\nHello?\n", "not a valid SRT file"),
        ("broken.docx", b"this is not a zip archive", "not a readable .docx document"),
        ("empty.md", b"  \n", "the file is empty"),
        ("binary.srt", b"\xff\xfe\x00\x01", "not valid UTF-8"),
    ],
)
def test_broken_files_are_rejected_with_a_reason(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(TranscriptError, match=message):
        parse_file(tmp_path / name, "x")


def test_unknown_format_lists_the_supported_suffixes(tmp_path):
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(TranscriptError) as err:
        parse_file(tmp_path / "notes.pdf", "notes")
    assert str(err.value) == (
        "unsupported format '.pdf' (supported: .docx, .markdown, .md, .srt, .txt, .vtt)"
    )


def test_sync_ingests_every_format_and_keeps_timestamps(settings, embedder):
    folder = settings.transcripts_dir  # already holds the plain-text sample
    (folder / "acme.md").write_text(MARKDOWN, encoding="utf-8")
    (folder / "labelled.txt").write_text(LABELLED_TXT, encoding="utf-8")
    (folder / "podcast.vtt").write_text(VTT, encoding="utf-8")
    (folder / "chairs.srt").write_text(SRT, encoding="utf-8")
    _write_docx(folder / "word.docx")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    client = ix.chroma_client(settings)
    report = sync_paths([folder], settings, embedder, client)
    assert report.transcripts == 6
    assert [Path(s["file"]).name for s in report.skipped] == ["notes.pdf"]
    assert "supported: .docx, .markdown, .md, .srt, .txt, .vtt" in report.skipped[0]["reason"]
    got = ix.open_collection(client, settings, ix.CHUNK_SUFFIX).get(include=["metadatas", "documents"])
    by_transcript: dict[str, list[dict]] = {}
    for meta in got["metadatas"]:
        by_transcript.setdefault(meta[ix.K_TRANSCRIPT], []).append(meta)
    assert sorted(by_transcript) == [
        "acme", "alibaba-cloud-xuan-jin", "chairs", "labelled", "podcast", "word",
    ]  # fmt: skip
    assert len(by_transcript["podcast"]) == 5  # the intro, three answers, the host's "Right."
    assert len(by_transcript["word"]) == 5  # the intro and four answers
    vtt = {m[ix.K_TURN]: m for m in by_transcript["podcast"]}
    assert (vtt[1][ix.K_QUESTION], vtt[1][ix.K_TIMESTAMP]) == ("So, how did Acme start?", "00:00:06")
    assert (vtt[2][ix.K_SPEAKER], vtt[2][ix.K_TIMESTAMP]) == ("Host", "00:00:12")
    assert (vtt[4][ix.K_QUESTION], vtt[4][ix.K_TIMESTAMP]) == ("What comes next for Acme?", "00:01:08")
    assert vtt[4][ix.K_SPEAKER] == "Jane Doe"
    assert {m[ix.K_TIMESTAMP] for m in by_transcript["chairs"]} == {"", "00:00:06", "01:02:05"}
    assert {m[ix.K_SPEAKER] for m in by_transcript["labelled"]} == {"", "Interviewer", "Jane Doe", "Omar Said"}
    assert {m[ix.K_KIND] for m in by_transcript["labelled"]} == {"conversation"}
    assert {m[ix.K_TIMESTAMP] for m in by_transcript["alibaba-cloud-xuan-jin"]} == {""}
    docs = dict(zip(got["ids"], got["documents"]))
    assert docs["acme#t001p01"].startswith("I studied mechanical engineering at MIT.")
    # A second sync changes nothing: every format parses the same way twice.
    again = sync_paths([folder], settings, embedder, client)
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    assert again.unchanged == report.added
