"""Which questions lean on the conversation before them (service/rag/anaphora.py is_follow_up), and
how a follow-up is resolved (service/rag/followup.py)."""

import pytest

from ingest import store as ix
from ingest.speakers import SpeakerNames
from service.rag.anaphora import is_follow_up, pointing_words
from service.rag.followup import first_quote, repeats, resolve
from service.rag.scope import Scope


@pytest.mark.parametrize("question", [
    "And before that?", "Why?", "What about pricing?", "How about in Germany and France?",
    "What did she say next?", "Did anyone disagree?", "What happened next?", "Pricing?", "And the debt?",
])
def test_questions_that_lean_on_the_conversation(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", [
    "What is the weather in Paris?", "Who is Xuan Jin?", "What is the capital of Australia?",
    "When was Alibaba Cloud started?", "What did Morneau say about dairy farmers?",
])
def test_short_questions_that_stand_alone(question):
    assert not is_follow_up(question)


@pytest.mark.parametrize("question", [
    # an existential "there": what exists, not a place named before
    "Is there a plan for broadband?", "Are there any objections to the budget?", "There was a vote on pensions?",
    "Will there be cuts to rural schools?", "Has there been a review of the tax credit?",
    # an extraposed "it": it stands for the clause that follows
    "Is it true that the minister resigned over the budget?", "It was clear that the pension plan failed?",
    # "that" opening a clause (a conjunction or a relative), not pointing at anything
    "Did the minister say that the budget would grow?", "Who supported the bill that Morneau tabled?",
    # a possessive whose owner the question names before it (an interview's company, a hearing's
    # witness, a meeting's participant)
    "How does Tokaj Hills Estate irrigate its vineyard?", "What did Kirsty Williams say about her budget?",
    "Did the Marketing expert change their mind about the remote?", "How did Alibaba Cloud grow its business?",
])
def test_there_it_and_that_pointing_at_nothing_do_not_make_a_follow_up(question):
    assert pointing_words(question) == []
    assert not is_follow_up(question)


@pytest.mark.parametrize("question,pointing", [
    ("Who was there?", ["there"]),  # a place: the one named before
    ("Who was there at the meeting?", ["there"]),
    ("What did they decide there?", ["they", "there"]),
    ("Is it true?", ["it"]),  # no clause of its own: what was said before
    ("Was it sent to Ottawa?", ["it"]),
    ("Was it in that report?", ["it", "that"]),
    ("Why did he say that?", ["he", "that"]),
    ("What about that plan?", ["that"]),
    ("Before that, what happened?", ["that"]),
    ("Did the minister say that it would grow?", ["it"]),  # "that" opens a clause; "it" refers
    ("What did she say about her budget?", ["she", "her"]),  # no owner named: both point back
    ("Did Morneau answer her?", ["her"]),  # an object, not a possessive
    ("What did Morneau say about it?", ["it"]),
])
def test_there_it_and_that_that_point_back(question, pointing):
    assert pointing_words(question) == pointing
    assert is_follow_up(question)


def test_first_quote_reads_what_the_quote_pattern_read():
    """`first_quote` (str.find, linear) finds what “([^”]{12,})” found, on every string of a few
    quotation marks and letters: short quotes skipped, an opening mark inside a quote kept."""
    import random
    import re

    pattern = re.compile(r"“([^”]{12,})”")
    rng = random.Random(19)
    cases = ["“short” then “a quoted passage here”", "“ab “long content here, twelve”", "no quote", "“unclosed"]
    cases += ["".join(rng.choice("“”aaaa ") for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    for text in cases:
        m = pattern.search(text)
        assert first_quote(text) == (m.group(1) if m else ""), text


class StandIn:
    """A stand-in for an index snapshot (service/rag/retrieve.py Snapshot) with what
    `followup.resolve` reads of one: its chunks, the speakers' names and the interviewees."""

    def __init__(self, chunks: list[tuple[str, str, str, int]]):  # (text, transcript, speaker, turn)
        self.docs = {
            f"c{n}": (text, {ix.K_TRANSCRIPT: tid, ix.K_SPEAKER: speaker, ix.K_TURN: turn, ix.K_KIND: "conversation"})
            for n, (text, tid, speaker, turn) in enumerate(chunks)
        }
        self.speakers = SpeakerNames({m[ix.K_SPEAKER] for _, m in self.docs.values()}, [t for t, _ in self.docs.values()])
        self.interviewees = frozenset()


HEARING = StandIn([
    ("We will lend to small firms at two percent, that is the plan for loans.", "h1", "Sarah Bains", 3),
    ("Rural broadband will reach every village by 2026 under the new plan.", "h1", "Mark Gold", 5),
    ("I disagree with the minister on the loans, the rate is far too high.", "h1", "Anne Lowe", 4),
    ("Broadband in the north is a matter for the province, not for this committee.", "h2", "Mark Gold", 1),
    ("The province has no broadband plan and the villages have waited ten years.", "h2", "Anne Lowe", 2),
])
ASKED = [("user", "What did Bains say about loans?"),
         ("assistant", "Sarah Bains: “We will lend to small firms at two percent, that is the plan for loans.” [1]")]


@pytest.mark.parametrize("question", ["Is there a plan for broadband?", "Did the minister say that the rate would fall?"])
def test_a_question_standing_alone_is_not_glued_to_the_one_before(question):
    follow = resolve(ASKED, question, HEARING)
    assert (follow.question, follow.scope, follow.near, follow.next_turn) == (question, None, None, None)


def test_a_follow_up_is_asked_with_the_subject_before_it():
    assert resolve(ASKED, "Is it true?", HEARING).question == "What did Bains say about loans? Is it true?"


@pytest.mark.parametrize("scope,asked", [
    (None, "What did Sarah Bains say about broadband?"),  # the conversation's speaker
    # the speaker the user chose wins over the conversation's
    (Scope(speakers=frozenset({"Mark Gold"})), "What did Mark Gold say about broadband?"),
    (Scope(frozenset({"h1"}), frozenset({"Anne Lowe"})), "What did Anne Lowe say about broadband?"),
    # among the speakers chosen: the conversation's speaker still
    (Scope(speakers=frozenset({"Mark Gold", "Sarah Bains"})), "What did Sarah Bains say about broadband?"),
    # the conversation's speaker is outside what the user chose: the pronoun names no one
    (Scope(speakers=frozenset({"Mark Gold", "Anne Lowe"})), f"{ASKED[0][1]} What did she say about broadband?"),
    (Scope(frozenset({"h2"})), f"{ASKED[0][1]} What did she say about broadband?"),
])
def test_a_speaker_or_transcript_the_user_chose_wins_over_a_pronoun(scope, asked):
    follow = resolve(ASKED, "What did she say about broadband?", HEARING, scope)
    assert (follow.question, follow.scope) == (asked, scope)



@pytest.mark.parametrize("question,asked", [
    # an object: the end of the question, a preposition or a noun phrase after it
    ("Did anyone answer her?", "Did anyone answer Sarah Bains?"),
    ("Did anyone answer her, on the loans?", "Did anyone answer Sarah Bains, on the loans?"),
    ("Did the minister ask her about the rate?", "Did the minister ask Sarah Bains about the rate?"),
    ("Who gave her the report on broadband?", "Who gave Sarah Bains the report on broadband?"),
    ("Did Lowe agree with her and the minister?", "Did Lowe agree with Sarah Bains and the minister?"),
    # what she owns
    ("What was her view on broadband?", "What was Sarah Bains's view on broadband?"),
    ("Did her own party support the loans?", "Did Sarah Bains's own party support the loans?"),
])
def test_her_is_a_name_as_an_object_and_possessive_before_what_she_owns(question, asked):
    assert resolve(ASKED, question, HEARING).question == asked


@pytest.mark.parametrize("quotes,earlier,repeated", [
    (["We sell cloud."], ["Ann Lee: “We sell cloud.” [1]"], True),
    (["We sell cloud.", "We hire."], ["Ann Lee: “We sell cloud.” [1]"], False),  # one is new
    (["We sell cloud."], [], False),  # nothing said before
    ([], ["Ann Lee: “We sell cloud.” [1]"], False),  # no quotes: an abstention is not a repeat
])
def test_an_answer_that_only_repeats_earlier_quotes_is_a_repeat(quotes, earlier, repeated):
    assert repeats(quotes, earlier) is repeated
