"""Answers that fit the question, over a hearing beside the sample interview (built-in answerer,
no LLM): what X said quotes X, who-said names the speakers, summaries are digests by speaker,
follow-ups resolve against the conversation, and questions the transcripts do not cover abstain.
The real app through its lifespan over a real Chroma index (tests/fixtures/hearing.py)."""

from __future__ import annotations

import re

import pytest

from service.rag.abstain import NO_OTHER_TEXT, NOTHING_NEW_TEXT
from tests.fixtures.hearing import HEARING_ID


def ask(client, *turns: str, **extra) -> dict:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
    r = client.post("/v1/chat", json={"messages": messages, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_what_a_named_speaker_said_quotes_that_speaker(library_client):
    for name in ("Ste-Marie", "Mr. Ste-Marie", "Gabriel Ste-Marie"):
        body = ask(library_client, f"What did {name} say about tax havens?")
        assert not body["abstained"]
        assert body["answer"].startswith("Gabriel Ste-Marie: “"), body["answer"]
        assert "tax havens" in body["answer"]
        assert body["sources"][0]["speaker"] == "Gabriel Ste-Marie"


def test_who_said_names_the_speakers_with_their_words(library_client):
    body = ask(library_client, "Who raised the deficit?")
    assert not body["abstained"]
    assert body["answer"].startswith("Pierre Poilievre: “"), body["answer"]
    assert "deficit" in body["answer"]


def test_a_summary_is_organised_by_transcript_then_speaker(library_client):
    body = ask(library_client, "Summarize the discussion about the wage subsidy.")
    assert not body["abstained"]
    blocks = body["answer"].split("\n\n")
    heads, groups = blocks[0::2], blocks[1::2]
    assert len(heads) == len(groups) >= 1, body["answer"]
    titles = {s["n"]: s["title"] for s in body["sources"]}
    quotes = []
    for head, group in zip(heads, groups, strict=True):
        title = re.fullmatch(r"From \*\*(.+)\*\*:", head).group(1)
        for line in group.split("\n"):  # one speaker's points: "Name: “…” [n] “…” [m]"
            said = re.fullmatch(r"([^:“”]+): ((?:“[^”]+” \[\d+\] ?)+)", line)
            assert said, line
            for quote, n in re.findall(r"“([^”]+)” \[(\d+)\]", said.group(2)):
                assert titles[int(n)] == title  # a point sits under its own transcript
                assert quote in " ".join(body["sources"][int(n) - 1]["text"].split())  # verbatim
                assert quote[-1] in ".?!…", quote  # whole sentences
                quotes.append(quote)
    assert len(quotes) >= 2 and len(set(quotes)) == len(quotes)  # nothing twice
    assert "Bill Morneau" in body["answer"]


def test_a_pronoun_follow_up_is_the_speaker_of_the_conversation(library_client):
    first = ask(library_client, "What did Poilievre say about the deficit?")
    body = ask(library_client, "What did Poilievre say about the deficit?", first["answer"],
               "What did he say about taxes?")
    assert body["standalone_question"] == "What did Pierre Poilievre say about taxes?"
    assert body["answer"].startswith("Pierre Poilievre: “") and "taxes" in body["answer"], body["answer"]


def test_what_she_said_next_is_her_next_turn(library_client):
    first = ask(library_client, "What did Morneau say about dairy farmers?")
    assert "dairy" in first["answer"]
    body = ask(library_client, "What did Morneau say about dairy farmers?", first["answer"],
               "What did he say next?")
    assert not body["abstained"]
    top = body["sources"][0]
    assert (top["transcript"], top["speaker"]) == (HEARING_ID, "Bill Morneau")
    assert top["turn"] == 7 and "Canada Revenue Agency" in top["text"]  # his turn after turn 5
    assert body["answer"].startswith("Bill Morneau: “")


def test_did_anyone_disagree_looks_at_the_other_speakers_close_by(library_client):
    first = ask(library_client, "What did Morneau say about the fiscal anchor?")
    body = ask(library_client, "What did Morneau say about the fiscal anchor?", first["answer"],
               "Did anyone disagree?")
    assert not body["abstained"]
    top = body["sources"][0]
    assert top["transcript"] == HEARING_ID and top["speaker"] != "Bill Morneau"
    assert body["answer"].startswith("Pierre Poilievre: “"), body["answer"]


def test_an_elliptical_follow_up_is_asked_with_its_subject(library_client):
    first = ask(library_client, "Where did Xuan Jin work before Alibaba?")
    body = ask(library_client, "Where did Xuan Jin work before Alibaba?", first["answer"], "And before that?")
    assert body["standalone_question"] == "Where did Xuan Jin work before Alibaba? And before that?"
    # the sentence that answers it was quoted already: said once, not repeated word for word
    assert "Oracle" in first["answer"] and body["answer"] == NOTHING_NEW_TEXT
    assert any("Oracle" in s["text"] for s in body["sources"])  # and still shown


def test_a_new_question_in_a_conversation_is_not_glued_to_the_one_before(library_client):
    first = ask(library_client, "Where did Xuan Jin work before Alibaba?")
    body = ask(library_client, "Where did Xuan Jin work before Alibaba?", first["answer"],
               "What did Morneau say about dairy farmers?")
    assert body["standalone_question"] is None
    assert body["answer"].startswith("Bill Morneau: “") and "dairy" in body["answer"], body["answer"]


@pytest.mark.parametrize("question", [
    "What did the Prime Minister say about the price of Bitcoin?",
    "What did anyone say about the Eurovision Song Contest?",
    "Who won the Stanley Cup?",
])
def test_questions_about_what_no_transcript_mentions_abstain(library_client, question):
    body = ask(library_client, question)
    assert body["abstained"], body["answer"]
    assert body["citations"] == [] and body["sources"]  # the closest passages are still listed


def test_regenerate_in_built_in_mode_gives_another_answer_until_there_is_none(library_client):
    question = "What did Morneau say about the deficit?"
    body = ask(library_client, question)
    assert not body["abstained"] and body["alternatives"] is True
    excluded: list[str] = []
    answers = [body["answer"]]
    for _ in range(15):  # each time not from the passages quoted so far
        excluded += [s["id"] for s in body["sources"] if s["n"] in body["citations"]]
        told = body["alternatives"]
        body = ask(library_client, question, exclude=excluded)
        assert not {s["id"] for s in body["sources"]} & set(excluded)
        if body["abstained"]:
            break
        assert body["answer"] not in answers  # another answer, not the same one again
        answers.append(body["answer"])
    assert body["abstained"] and body["answer"] == NO_OTHER_TEXT and body["alternatives"] is None
    assert len(answers) >= 2 and told is False  # the answer before said there was no other


def test_exclude_is_checked_like_the_rest_of_the_request(library_client):
    msgs = [{"role": "user", "content": "What did Morneau say about the deficit?"}]
    r = library_client.post("/v1/chat", json={"messages": msgs, "exclude": ["x"] * 51})
    assert r.status_code == 422 and "exclude" in r.text
    r = library_client.post("/v1/chat", json={"messages": msgs, "exclude": "not-a-list"})
    assert r.status_code == 422
    r = library_client.post("/v1/chat", json={"messages": msgs, "exclude": ["no-such-passage"]})
    assert r.status_code == 200 and not r.json()["abstained"]  # an id the index lacks excludes nothing


def test_who_talked_about_a_topic_names_the_speakers_the_most_first(library_client):
    body = ask(library_client, "Who talked about the wage subsidy?")
    assert not body["abstained"], body["answer"]
    head, listed = body["answer"].split("\n\n", 1)
    assert head in ("These speakers talk about this, the most first:", "One speaker talks about this:")
    lines = [line for line in listed.split("\n") if line[:1].isdigit()]
    assert lines and len(lines) == len(body["sources"]) == len({s["speaker"] for s in body["sources"]})
    for n, (line, source) in enumerate(zip(lines, body["sources"], strict=True), 1):
        # "1. **Bill Morneau** (Minister of Finance): 3 turns on it, in …. “…” [1]": one source a speaker
        assert line.startswith(f"{n}. **{source['speaker']}**") and f"[{n}]" in line
        assert source["quotes"] and source["quotes"][0] in line
    assert all(int(re.search(r"(\d+) turns? on it", line).group(1)) >= 1 for line in lines)
    # "Who raised …?" asks who said one thing: the sentence that says it, under its speaker
    raised = ask(library_client, "Who raised the deficit?")
    assert raised["answer"].startswith("Pierre Poilievre: “")
