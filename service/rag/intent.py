"""What kind of answer a question asks for, read from its words: a digest of a discussion
("Summarize the discussion about …"), the people who said something ("Who raised …?"), or the
transcripts that talk about something ("Which hearing discussed …?").

The evidence stage gathers more passages for a digest; the built-in answerer lays a digest out
by speaker and names the speakers of a who-question. Nothing here looks at the transcripts.
"""

from __future__ import annotations

import re

# "What did people say about …" is a digest; "What did they say Alibaba planned?" asks for one
# fact: a capitalised word right after the verb is read case-sensitively, inside the
# case-insensitive pattern (the scoped (?-i:…)), so "say about" stays a digest.
_DIGEST = re.compile(
    r"^\s*(?:(?:can|could|would) you\s+|please\s+)?(?:summari[sz]e|sum up|recap|outline|"
    r"give (?:me |us )?(?:a |an )?(?:short |brief |quick )?(?:summary|overview|digest|rundown|recap)"
    r"|what (?:was|were|got) (?:said|discussed|debated|raised)|what did (?:they|people|everyone|the \w+) "
    r"(?:say|discuss|talk|debate|think)\b(?!(?-i: [A-Z])))"
    r"|\b(?:summary|overview|digest|rundown) of\b|\bmain points\b",
    re.IGNORECASE,
)
# "Who raised …", "Which members asked …": the answer is the speakers themselves.
_WHO_SAID = re.compile(
    r"^\s*(?:who|which (?:speakers?|members?|witness(?:es)?|people|person|ministers?))\b.{0,60}?\b(?:"
    r"said|say|says|raised?|ask(?:ed|s)?|mention(?:ed|s)?|talk(?:ed|s)?|spoke|argu(?:ed|es)|suggest(?:ed|s)?|"
    r"propos(?:ed|es)|brought up|bring up|point(?:ed)? out|disagree[ds]?|agree[ds]?|question(?:ed|s)?|"
    r"claim(?:ed|s)?|not(?:ed|es)|stat(?:ed|es)|express(?:ed|es)|emphasi[sz](?:ed|es)|critici[sz](?:ed|es)|"
    r"support(?:ed|s)?|oppos(?:ed|es)|complain(?:ed|s)?|call(?:ed|s)? for|want(?:ed|s)?|think|thinks|"
    r"thought|believ(?:ed|es)|felt|feel|feels|concern(?:ed|s)?|worr(?:ied|ies)|warn(?:ed|s)?|insist(?:ed|s)?)\b",
    re.IGNORECASE,
)
# "What did X say about …", "How did X respond to …": what someone said is the answer, whatever
# words ("pay", "rate", "cost") the topic contains.
_SAID = re.compile(
    r"^\s*(?:what|how|why)\b.{0,80}?\b(?:say|said|says|think|thought|thinks|feel|felt|respond(?:ed)?|"
    r"react(?:ed)?|argue[ds]?|view|views|opinion|opinions|position|stance|debate[ds]?|discussion|"
    r"discuss(?:ed)?|talk(?:ed)?|comment(?:ed)?|suggest(?:ed)?|propose[ds]?|explain(?:ed)?|"
    r"describe[ds]?|mention(?:ed)?|answer(?:ed)?|reply|replied|raise[ds]?|ask(?:ed)?)\b",
    re.IGNORECASE,
)
# "Who is Xuan Jin?", "What is Ste-Marie's job title?", "What does Ann Lee do?": who a person is.
# The answer is where the transcripts introduce or describe them, not what they said themselves.
_NAME = r"[A-Z][\w.’'-]*(?:\s+[A-Z][\w.’'-]*)*"  # capitalised words: "Mr. Gabriel Ste-Marie"
_WHO_IS = re.compile(
    rf"^\s*(?:(?i:who(?:'s|’s|\s+(?:is|was)))\s+(?P<a>{_NAME})"
    rf"|(?i:what(?:'s|’s|\s+(?:is|was)))\s+(?P<b>{_NAME}?)(?:'s|’s)\s+"
    r"(?i:job|job title|title|role|position|occupation|profession|background)"
    r"|(?i:what\s+(?:is|was)\s+the\s+(?:job|job title|title|role|position|occupation|profession)\s+of)\s+"
    rf"(?P<c>{_NAME})"
    rf"|(?i:what\s+does)\s+(?P<d>{_NAME})\s+(?i:do(?:\s+for\s+a\s+living)?))"
    r"\s*\??\s*$"
)
# What people call one transcript of a folder ("Which hearing discussed …?", "In which meeting
# did …?"): the answer is transcripts, ranked by how much of each is about the topic.
KINDS = ("transcript", "hearing", "meeting", "interview", "session", "episode", "panel",
         "conversation", "debate", "podcast", "sitting", "recording", "focus group")  # fmt: skip
_WHICH_TRANSCRIPT = re.compile(
    r"^\s*(?:(?:in|at|during|from|on)\s+)?(?:which|what)\s+(?:(?:one|ones)\s+of\s+the\s+|of\s+the\s+)?"
    rf"(?:{'|'.join(KINDS)})s?\b",
    re.IGNORECASE,
)
# What people call the people of a transcript ("Which witness talked about …?"), and the verbs that
# ask who covered a topic (not who made one claim: "Who suggested a yellow case?" asks for the
# sentence; "Who talked about the case?" for the speakers, ranked by how much each said on it).
PEOPLE = ("speaker", "member", "witness", "people", "person", "participant", "minister", "panellist",
          "panelist", "guest", "interviewee", "official", "one")  # fmt: skip
# ("Who raised the deficit?", "Who mentioned …?" ask who brought it up: the sentence that does.)
_COVERED = ("talk(?:ed|s)? (?:about|of|on)", "sp(?:oke|eaks?) (?:about|of|on|to)", "discuss(?:ed|es)?",
            "address(?:ed|es)?", "cover(?:ed|s)?", "touch(?:ed|es)? on", "comment(?:ed|s)? on",
            "gave evidence (?:about|on)")
_WHO_TALKED = re.compile(
    rf"^\s*(?:who|which\s+(?:of\s+the\s+)?(?:{'|'.join(PEOPLE)})(?:s|es)?)\b(?:\s+(?:has|have|had|did|else))?"
    rf"\s+(?:{'|'.join(_COVERED)})\b",
    re.IGNORECASE,
)
DIGEST_PASSAGES = 6  # a digest quotes up to this many passages, one sentence each


def is_digest(question: str) -> bool:
    """The question asks for the main points of a discussion, not for one fact."""
    return bool(_DIGEST.search(question))


def asks_who_said(question: str) -> bool:
    """The question asks which people said something: their names are the answer."""
    return bool(_WHO_SAID.search(question))


def asks_which_transcript(question: str) -> bool:
    """The question asks which transcripts (hearings, meetings, interviews …) talk about a topic."""
    return bool(_WHICH_TRANSCRIPT.search(question))


def asks_who_talked_about(question: str) -> bool:
    """The question asks which people talk about a topic ("Who talked about …?", "Which witnesses
    raised …?"): the answer is speakers, ranked by how much each says on it."""
    return bool(_WHO_TALKED.search(question))


def asks_what_was_said(question: str) -> bool:
    """The question asks what someone said or thought about a topic, not for one fact."""
    return bool(_SAID.search(question))


def asks_who_is(question: str) -> bool:
    """The question asks who a person it names is (their role, their job), not what they said."""
    return who_is(question) is not None


def who_is(question: str) -> str | None:
    """The person a who-is question names ("What is Xuan Jin's job title?": "Xuan Jin")."""
    m = _WHO_IS.search(question)
    return next(g for g in m.groups() if g) if m else None
