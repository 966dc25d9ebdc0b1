"""What kind of answer a question asks for, read from its words: a digest of a discussion
("Summarize the discussion about …"), or the people who said something ("Who raised …?").

The evidence stage gathers more passages for a digest; the built-in answerer lays a digest out
by speaker and names the speakers of a who-question. Nothing here looks at the transcripts.
"""

from __future__ import annotations

import re

_DIGEST = re.compile(
    r"^\s*(?:(?:can|could|would) you\s+|please\s+)?(?:summari[sz]e|sum up|recap|outline|"
    r"give (?:me |us )?(?:a |an )?(?:short |brief |quick )?(?:summary|overview|digest|rundown|recap)"
    r"|what (?:was|were|got) (?:said|discussed|debated|raised)|what did (?:they|people|everyone|the \w+) "
    r"(?:say|discuss|talk|debate|think)\b(?! [A-Z]))"
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
DIGEST_PASSAGES = 6  # a digest quotes up to this many passages, one sentence each


def is_digest(question: str) -> bool:
    """The question asks for the main points of a discussion, not for one fact."""
    return bool(_DIGEST.search(question))


def asks_who_said(question: str) -> bool:
    """The question asks which people said something: their names are the answer."""
    return bool(_WHO_SAID.search(question))


def asks_what_was_said(question: str) -> bool:
    """The question asks what someone said or thought about a topic, not for one fact."""
    return bool(_SAID.search(question))
