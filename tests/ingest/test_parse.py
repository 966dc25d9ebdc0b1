from pathlib import Path

import pytest

from ingest import store as ix
from ingest.chunk import chunk_transcript, split_sentences
from ingest.formats import parse_file
from ingest.parse import TranscriptError, is_question, parse_plain, parse_text
from tests.fixtures.core import SAMPLE


@pytest.fixture(scope="module")
def sample():
    return parse_file(SAMPLE, "alibaba-cloud-xuan-jin")


def test_sample_structure(sample):
    assert sample.title == "Alibaba’s 100% growth rate to world dominance"
    assert sample.interviewee == "Xuan Jin"
    assert sample.role == "Lead Solutions Architect at Alibaba Cloud"
    assert len(sample.turns) == 21
    assert sample.turns[0].question.startswith("Tell us about your background")
    assert sample.turns[-1].question == "Who do you look up to for new ideas?"
    assert {t.speaker for t in sample.turns} == {"Xuan Jin"}
    assert sample.intro.startswith("The Leadership Network sat down with Xuan Jin")


def test_prompts_without_question_mark_and_statement_plus_question(sample):
    questions = [t.question for t in sample.turns]
    assert "Tell us about Alibaba’s Cloud business" in questions
    assert any(q.startswith("Alibaba Cloud has seen great annual growth rate of 104%") for q in questions)
    assert any(q.startswith("Alibaba Cloud has been said to be the main business") for q in questions)


def test_captions_footer_and_advertising_dropped(sample):
    dropped = "\n".join(sample.dropped)
    for caption in ["Alibaba Group", "Alibaba market share", "AntFinancial", "Digital transformation training"]:
        assert caption in sample.dropped
    assert "Share this article" in dropped
    assert "TLN masterclass" in dropped
    body = " ".join(p.text for t in sample.turns for p in t.paragraphs)
    assert "masterclass" not in body and "Share this article" not in body
    assert "AntFinancial" not in body
    assert sum(len(d.splitlines()) for d in sample.dropped) == 9


def test_every_answer_first_sentence_is_in_a_chunk(sample):
    chunks = chunk_transcript(sample, 700)
    texts = [c.text for c in chunks]
    for turn in sample.turns:
        first = split_sentences(turn.paragraphs[0].text)[0].text
        assert any(first in t for t in texts), first
    for c in chunks:  # spans point at the source text
        assert sample.text[c.metadata["start"] : c.metadata["end"]] == c.text


def test_pieces_carry_their_question_and_never_split_sentences(sample):
    chunks = chunk_transcript(sample, 300)
    assert len(chunks) > len(sample.turns)
    intro, *answers = chunks
    assert intro.metadata[ix.K_TURN] == 0 and intro.text.startswith(sample.title)
    assert "Xuan Jin" in intro.text  # the intro names the interviewee and his job: content
    for c in answers:
        assert c.embed_text.startswith(c.question + "\n")
        assert c.text.rstrip()[-1] in ".!?”’\"", c.text[-40:]
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)
    assert ids[:2] == ["alibaba-cloud-xuan-jin#t000p01", "alibaba-cloud-xuan-jin#t001p01"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("During the 11. 11 shopping festival, sales rose. Then it fell.", 2),
        ("I met Dr. Wanli Min at the event. He spoke.", 2),
        ("Prices rose 3.5 percent in 2019. Good news.", 2),
        ("He said “Go conquer.” We did.", 2),
        ("No terminal punctuation here", 1),
    ],
)
def test_sentence_splitter(text, expected):
    sentences = split_sentences(text)
    assert len(sentences) == expected
    assert "".join(s.text for s in sentences).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize(
    "line,question",
    [
        ("What’s your biggest challenge?", True),
        ("Tell us about Alibaba’s Cloud business", True),
        ("Describe your role.", True),
        ("Alibaba Group", False),
        ("I started off doing software engineering. Then I moved on.", False),
    ],
)
def test_is_question(line, question):
    assert is_question(line) is question


def test_no_questions_is_an_error():
    with pytest.raises(TranscriptError, match="no interviewer questions"):
        parse_plain("A title\n\nJust some prose here. More prose.\n\nAnd more prose.", "x")


def test_unsupported_format(tmp_path: Path):
    f = tmp_path / "notes.pdf"
    f.write_bytes(b"%PDF-1.4")
    with pytest.raises(TranscriptError, match="unsupported format '.pdf'"):
        parse_file(f, "notes")


# What a person said is never dropped for a word in it: only page furniture is, by its shape and place.
WEB_CAPTURE = """\
Acme on the road

Our editor sat down with Jane Doe, the founder of Acme Robotics, to talk about farming.

Why did you leave Facebook for farming?

I wanted to build things you can touch. Facebook was a good school, but farms needed robots.

How do you find new customers?

Mostly on Facebook and at farm events. Follow us there and you will see the robots at work.

What about trade shows?

We attend every trade event, we run a masterclass for farmers, and people register online for free tickets.

Which network works best?

Facebook, mostly

Anything to add?

Follow us on Facebook and come to our next event.

Article Share Image Share this article
Share this article Linkedin Post Twitter Post Facebook Post
"""


def test_answers_that_mention_facebook_or_events_are_kept():
    t = parse_plain(WEB_CAPTURE, "acme")
    assert [(u.question, [p.text for p in u.paragraphs]) for u in t.turns] == [
        ("Why did you leave Facebook for farming?",
         ["I wanted to build things you can touch. Facebook was a good school, but farms needed robots."]),
        ("How do you find new customers?",
         ["Mostly on Facebook and at farm events. Follow us there and you will see the robots at work."]),
        ("What about trade shows?",
         ["We attend every trade event, we run a masterclass for farmers, and people register online for free tickets."]),
        ("Which network works best?", ["Facebook, mostly"]),  # a short answer, not a caption
        ("Anything to add?", ["Follow us on Facebook and come to our next event."]),
    ]  # fmt: skip
    # the share bar closing the page is the only thing dropped
    assert t.dropped == ["Article Share Image Share this article\nShare this article Linkedin Post Twitter Post Facebook Post"]


def test_an_unlabelled_answer_that_mentions_facebook_is_kept():
    t = parse_text(
        "Acme on the road\n\n"
        "Interviewer: How do you find new customers?\n\n"
        "Mostly on Facebook. Follow us there for our events.\n\n"
        "Interviewer: And trade shows?\n\n"
        "We attend them, and people register for tickets.\n\n"
        "Share this article Linkedin Post Twitter Post Facebook Post\n",
        "acme",
    )
    assert [(u.speaker, [p.text for p in u.paragraphs]) for u in t.turns] == [
        ("Interviewee", ["Mostly on Facebook. Follow us there for our events."]),
        ("Interviewee", ["We attend them, and people register for tickets."]),
    ]
    assert t.dropped == ["Share this article Linkedin Post Twitter Post Facebook Post"]  # no one's words
