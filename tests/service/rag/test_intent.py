"""What a question asks for, read from its words (service/rag/intent.py)."""

from __future__ import annotations

import pytest

from service.rag.intent import (
    asks_what_was_said,
    asks_which_transcript,
    asks_who_is,
    asks_who_said,
    asks_who_talked_about,
    is_digest,
    who_is,
)


@pytest.mark.parametrize("question,person", [
    ("Who is Xuan Jin?", "Xuan Jin"),
    ("who was Mr. Gabriel Ste-Marie?", "Mr. Gabriel Ste-Marie"),
    ("What is Xuan Jin's job title?", "Xuan Jin"),
    ("What’s Xuan Jin’s role?", "Xuan Jin"),
    ("What is the position of Bill Morneau?", "Bill Morneau"),
    ("What does Ann Lee do?", "Ann Lee"),
    # a name is asked for, or what someone said: not who a named person is
    ("Who is leading machine intelligence?", None),
    ("Who is the founder?", None),
    ("Who is Xuan Jin working for?", None),
    ("What did Xuan Jin say about Europe?", None),
    ("What is the capital of Australia?", None),
])
def test_who_a_named_person_is(question, person):
    assert who_is(question) == person
    assert asks_who_is(question) is (person is not None)


@pytest.mark.parametrize("question,digest,who_said,said", [
    ("Summarize the discussion about tax havens.", True, False, False),
    ("Who raised the issue of tax havens?", False, True, False),
    ("What did Ste-Marie say about tax havens?", False, False, True),
    ("When was Alibaba Cloud started?", False, False, False),
])
def test_the_kind_of_answer_asked_for(question, digest, who_said, said):
    assert (is_digest(question), asks_who_said(question), asks_what_was_said(question)) == (digest, who_said, said)


@pytest.mark.parametrize("question,digest", [
    # a lower-case word after the verb: the discussion is asked for, whatever its first letter
    ("What did people say about the budget?", True),
    ("what did they discuss about broadband?", True),
    ("What did everyone think of the plan?", True),
    ("What did the committee discuss?", True),
    # a capitalised word right after the verb: one fact about it is asked for
    ("What did they say Alibaba planned?", False),
    ("What did people think Morneau meant?", False),
])
def test_a_capital_after_the_verb_is_read_case_sensitively(question, digest):
    assert is_digest(question) is digest


@pytest.mark.parametrize("question", [
    "Which hearing discussed school exclusions?",  # committee hearings
    "In which meeting did the Samaritans give evidence?",
    "Which meetings talked about the remote control's buttons?",  # product-design meetings
    "In what meeting did the group discuss the speech recogniser?",  # research meetings
    "Which of the interviews mention Europe?",  # an interview series
    "Which one of the sessions covered the budget?",
])
def test_which_transcripts_talk_about_something(question):
    assert asks_which_transcript(question)


@pytest.mark.parametrize("question", [
    "What did the meeting decide about the remote?",  # about one meeting's content
    "Which witness talked about loans?",  # a person, not a transcript
    "Who raised school exclusions?",
    "What is the price of a call?",
    "When was the hearing on exclusions held?",
])
def test_questions_that_do_not_ask_which_transcript(question):
    assert not asks_which_transcript(question)


@pytest.mark.parametrize("question", [
    "Which witness talked about the World Cup final?",  # committee hearings (qmsum-train qu02)
    "Which members have discussed fraud?",
    "Who talked about the remote control's buttons?",  # product-design meetings
    "Which participants discussed the speech recogniser?",  # research meetings
    "Who else spoke about Europe?",  # an interview series
    "who spoke on the budget",
])
def test_who_talked_about_a_topic(question):
    assert asks_who_talked_about(question)


@pytest.mark.parametrize("question", [
    "Who suggested a yellow case?",  # one claim: the sentence that makes it answers
    "Who raised the deficit?",  # who brought it up: the sentence that does
    "Which members mentioned fraud?",
    "Who is Xuan Jin?",
    "Who would be eligible to receive the art funding?",
    "Who did Marketing think the remote control should target and why?",
    "Which hearing discussed school exclusions?",  # transcripts, not people
    "What did the witness talk about?",
])
def test_questions_that_do_not_ask_who_talked_about_a_topic(question):
    assert not asks_who_talked_about(question)
