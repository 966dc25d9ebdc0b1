"""The built-in answerer: quotes the one to three source sentences that best answer the question.

Every statement it makes is a verbatim sentence with its `[n]` citation, so each is checkable
against its passage. It abstains when the best evidence is too weak, or when the question asks
for a kind of answer (a date, a number, an amount, a name) that none of the close sentences holds.
It is pure: an `Evidence` (service/rag/evidence.py) in, an `Answer` out; no store, no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.rag.abstain import ABSTAIN_TEXT, should_abstain
from service.rag.evidence import Evidence, Passage, Quote, Sentence
from service.rag.intent import asks_what_was_said, asks_who_is, asks_who_said, is_digest
from service.rag.params import Params
from service.rag.summary import summarise
from service.rag.text import STOP, Tokenizer, words

# What kind of answer a question asks for, and how to recognise a sentence that holds one.
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|billion|half|double)\b", re.IGNORECASE)
_MONEY = re.compile(r"[$€£¥]|\b(usd|eur|gbp|dollars?|euros?|pounds?|cents?|yuan|rmb|free of charge)\b", re.IGNORECASE)
# A date is a year, a full date, a time of day, or a month where a date stands: beside a day or
# after a word that places it in time ("3 May", "May 3rd", "in May", "mid-March"). A month name
# alone is not one ("we may open", "they march"), nor is any small number ("12 staff").
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_ORDINAL = (r"(?:(?:twenty|thirty)[- ]?)?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
            r"eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|"
            r"nineteenth|twentieth|thirtieth)")
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL})"  # "3", "3rd", "the first" (of May)
_DATE = re.compile(
    r"\b(?:1[89]\d\d|20\d\d)s?\b"  # a year, a decade ("1990s")
    rf"|\b{_DAY}\s+(?:of\s+)?{_MONTH}\b|\b{_MONTH}\s+{_DAY}\b"
    r"|\b(?:in|on|since|by|until|till|from|last|next|early|late|mid|end of|before|after|during)"
    rf"(?:\s+|-){_MONTH}\b"
    r"|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(?:(?:am|pm)\b|[ap]\.m\.)"
    r"|\b(?:ago|last year|this year|yesterday|today|recently|decade)\b",
    re.IGNORECASE,
)
_ANSWER_TYPES = [
    # an amount of money is asked for ("What does it cost?", "What is his salary?"), not a topic
    # that has to do with money ("What did they say about the fee and access plans?")
    ("money", re.compile(r"\bhow much (does|do|did|is|was|will|would|money)\b|\bhow (expensive|cheap)\b"
                         r"|\bwhat (does|do|did|will|would)\b[^?]*\b(cost|pay|charge|spend|earn)\b"
                         r"|\b(what|how much) (is|was|are|were|will be|would be) (\w+ ){0,2}(cost|costs|price|prices|fee|fees|salary|salaries|wage|wages|budget|revenue|charge|charges)\b",
                         re.IGNORECASE), _MONEY),
    # "When did/was/will …" asks a date; "When discussing the design, how did …" opens a clause
    # (no auxiliary after "when"), and what is asked comes after it
    ("date", re.compile(r"^\s*(since )?when(['’]s|\s+(did|does|do|was|were|is|are|will|would|can|could|has|have|"
                        r"had|should|shall|might|must)\b)|\b(what|which) (year|month|date|day)\b",
                        re.IGNORECASE), _DATE),
    ("number", re.compile(r"\bhow (much|many|long|big|large|fast|often)\b|\bwhat (percentage|percent|proportion|number|amount|share|rate)\b|\b(market share)\b", re.IGNORECASE), _NUMBER),
    ("person", re.compile(r"^\s*(who|whom|whose)\b|\bname of\b|\bnamed\b", re.IGNORECASE), None),
    ("place", re.compile(r"^\s*where\b", re.IGNORECASE), None),
]
# "How many goals…": the thing counted.
_COUNTED = re.compile(r"\bhow many\s+([^\W\d_][\w’'-]*)", re.IGNORECASE)
# A count: a number and the word after it ("320 pupils", "a dozen members", "48,200 residents"),
# not a time before "ago" ("two weeks ago"). ("one" is left out: "one thing", "one of them" are
# seldom counts.)
_COUNT = re.compile(
    r"(?<![\w.,])(?:\d[\d,.]*|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|"
    r"billion)\s+([^\W\d_][\w’'-]*+)(?!\s+ago\b)",
    re.IGNORECASE,
)
_STEMS = Tokenizer()
_OPENERS = {"he", "she", "it", "this", "that", "they", "these", "those", "there", "him", "her", "his", "its", "their"}


def answer_type(question: str) -> str | None:
    """The kind of fact a question asks for; None for what someone said or thought ("What did
    she say about pay?" asks for her words, not an amount)."""
    if asks_what_was_said(question) and not re.match(r"\s*(who|whom|whose|when|where)\b", question, re.IGNORECASE):
        return None
    if asks_who_is(question):  # who a named person is: a description, not another name
        return None
    for name, pattern, _ in _ANSWER_TYPES:
        if pattern.search(question):
            return name
    return None


_DEMONYMS = {
    "american", "asian", "british", "chinese", "english", "european", "french", "german", "indian",
    "italian", "japanese", "korean", "russian", "spanish", "african", "canadian", "australian",
    "dutch", "swedish", "irish", "scottish", "western", "eastern", "northern", "southern",
}  # fmt: skip
_CAPS = re.compile(r"(?<![“\"‘'])\b[A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*)*")


def _new_names(sentence: str, question: str, min_words: int) -> bool:
    """A capitalised name of at least `min_words` words that the question does not contain.

    The sentence's first word and words right after an opening quote are skipped: they are
    capitalised by position, not because they are names.
    """
    known = {w.removesuffix("'s") for w in words(question)} | {"i", "i'm", "i've", "i'd", "i'll"}
    for m in _CAPS.finditer(sentence):
        if m.start() == 0 or re.search(r"[.!?:]\s*$", sentence[: m.start()]):
            continue
        parts = [w.lower().replace("’", "'").strip("'‘.,;:!?()").removesuffix("'s") for w in m.group(0).split()]
        # "Alibaba Cloud" is not new when the question names Alibaba; nationality adjectives
        # ("Chinese heritage") are capitalised without naming anyone or anywhere.
        if len(parts) >= min_words and not (set(parts) & known) and not (set(parts) <= _DEMONYMS):
            return True
    return False


def holds_type(kind: str | None, sentence: str, question: str) -> bool:
    if kind is None:
        return True
    if kind == "person":  # a person is named with at least two words ("Wanli Min")
        return _new_names(sentence, question, 2)
    if kind == "place":  # a place or an employer can be one word ("Oracle")
        return _new_names(sentence, question, 1)
    pattern = next(p for n, _, p in _ANSWER_TYPES if n == kind)
    return bool(pattern.search(sentence)) and (kind != "number" or counts_what_is_asked(sentence, question))


def counts_what_is_asked(sentence: str, question: str) -> bool:
    """For "how many X": the sentence speaks of X (by its stem: "goal" counts "goals"), or counts
    something by another word ("how many children": "320 pupils"), with a number that is not part
    of a date ("two weeks ago", "in 2019", "3 May"). Which of those answers best is the scores' work: a
    sentence that names X shares a word with the question."""
    counted = _COUNTED.search(question)
    if not counted:
        return True
    stems = _STEMS.tokens(counted.group(1))
    if not stems or set(stems) & set(_STEMS.tokens(sentence)):
        return True
    dated = {i for m in _DATE.finditer(sentence) for i in range(*m.span())}
    return any(m.group(1).lower() not in STOP and m.start() not in dated for m in _COUNT.finditer(sentence))


@dataclass
class Answer:
    text: str
    abstained: bool
    quotes: list[Quote] = field(default_factory=list)
    evidence: float = 0.0  # the abstention model's odds that the passages answer (as a probability)

    @property
    def citations(self) -> list[int]:
        return sorted({q.n for q in self.quotes})

    @property
    def verified(self) -> bool:
        """Every statement is a quote with its citation; an abstention claims nothing."""
        return self.abstained or bool(self.citations)


# What makes a sentence the answer (its weights are fitted: service/rag/params.py, rag-tune).
SENTENCE_FEATURES = (
    "similarity",  # cosine(question or its topic, the sentence as ingest stored its vector)
    "lexical",  # the IDF-weighted share of the question's words it uses
    "opening",  # an interview answer's first sentences, when the interviewer asked what the user asks
    "lead",  # its passage's retrieval score less the best passage's: answers come from the best
             # passage unless another holds a clearly better sentence
)
ASKED_FLOOR = 0.3  # cosine of the user's and the interviewer's question under which they asked different things

# The evidence features of a question's best answer sentence, the abstention model's inputs
# (service/rag/params.py): whether the transcripts answer it is fitted on them (rag-tune).
EVIDENCE_FEATURES = (
    "sentence",  # the best sentence's own score: cosine + lexical overlap (+ an interview answer's opening)
    "overlap",  # the IDF-weighted share of the question's words the best sentence itself uses: a
                # sentence of the kind asked for ("$30b GMV" for "what does an instance cost") that
                # shares none of what was asked about is no answer to it
    "lead",  # its passage's retrieval score less the best passage's (0 when it is the best passage)
    "top",  # the best passage's retrieval score, in σ over the index
    "unknown",  # the share of the question's specific topic words no transcript uses in any form
    "missing",  # the IDF-weighted share of its topic words the passages never use
    "names_only",  # the best sentence's passage shares only the question's names, none of its topic
    "named",  # the question asks what a speaker it names said, and the best passage has their words
)


class ExtractiveAnswerer:
    """Score, rank and quote the sentences of the evidence's passages."""

    margin = 0.25
    max_sentences = 3
    # another passage's best sentence is quoted too (what was said, not a typed fact) when it
    # answers within this of the best one: the same point made in another turn, or by another speaker
    other_passage_margin = 0.2

    def __init__(self, params: Params):
        params.check("abstention", params.abstention.weights, EVIDENCE_FEATURES)
        params.check("sentences", params.sentences, SENTENCE_FEATURES)
        self.params = params

    def sentence_features(self, evidence: Evidence) -> list[tuple[Passage, Sentence, dict[str, float]]]:
        """Each sentence of the passages with its SENTENCE_FEATURES."""
        if not evidence.passages:
            return []
        qtokens = set(evidence.tokens)
        qweight = sum(evidence.weights[t] for t in qtokens) or 1.0
        top = evidence.passages[0].score
        out = []
        for passage in evidence.passages:
            for s in passage.sentences:
                overlap = qtokens.intersection(s.tokens)
                opening = 0.0
                if passage.first_piece and s.index < 2:
                    opening = max(0.0, passage.asked - ASKED_FLOOR) / (1 + s.index)
                out.append((passage, s, {
                    "similarity": s.similarity,
                    "lexical": sum(evidence.weights[t] for t in overlap) / qweight,
                    "opening": opening,
                    "lead": passage.score - top,
                }))
        return out

    def score_sentences(self, evidence: Evidence) -> list[Quote]:
        """Score each sentence of the passages as an answer to the question: the fitted weighted
        sum of its SENTENCE_FEATURES (`base`: without its passage's lead, how well the sentence
        itself answers)."""
        w = self.params.sentences
        quotes = []
        for passage, s, f in self.sentence_features(evidence):
            base = sum(w.get(k, 0.0) * f[k] for k in ("similarity", "lexical", "opening"))
            score = base + w.get("lead", 0.0) * f["lead"]
            quotes.append(Quote(passage.n, s.text, s.start, s.end, score, base, s.speaker or passage.speaker,
                                f["lexical"], s.index))
        return quotes

    @staticmethod
    def answering(evidence: Evidence, quotes: list[Quote]) -> list[Quote]:
        """The sentences that may answer: when the question names speakers and asks what they
        said, their sentences (another speaker's line in the same passage, "Thank you, Mr.
        Poilievre.", is not what they said), if the passages hold any."""
        if evidence.speakers and asks_what_was_said(evidence.question):
            return [q for q in quotes if q.speaker in evidence.speakers] or quotes
        return quotes

    @staticmethod
    def best(question: str, quotes: list[Quote]) -> tuple[Quote | None, list[Quote], list[Quote]]:
        """The best sentence of the kind asked for (None: no sentence holds one), the sentences
        of that kind best first, and all of them best first."""
        kind = answer_type(question)
        ranked = sorted(quotes, key=lambda q: -q.score)
        who_said = asks_who_said(question)
        typed = [q for q in ranked if holds_type(kind, q.text, question) or (who_said and names_a_speaker(q, question))]
        return (typed[0] if typed else None), typed, ranked

    def features(self, evidence: Evidence, best: Quote) -> dict[str, float]:
        """The evidence features (EVIDENCE_FEATURES) of the best sentence."""
        passage = next(p for p in evidence.passages if p.n == best.n)
        top = evidence.passages[0]
        said = {top.speaker} | {s.speaker for s in top.sentences}
        return {
            "sentence": best.base,
            "overlap": best.overlap,
            "lead": passage.score - top.score,
            "top": top.score,
            "unknown": evidence.unknown,
            "missing": evidence.missing,
            # (not when the question names the speaker: what X said about Swansea University may
            # well be only about Swansea University)
            "names_only": float(passage.names_only and best.speaker not in evidence.speakers),
            "named": float(bool(said & evidence.speakers) and asks_what_was_said(evidence.question)),
        }

    def evidence_features(self, evidence: Evidence) -> dict[str, float] | None:
        """The features the abstention model weighs for this evidence: those of the best sentence
        (of a digest: the sentence that answers best on its own). None: nothing to weigh (no
        sentence of the kind asked for, or a pinned follow-up, which quotes the turns it points at)."""
        if evidence.pinned:
            return None
        quotes = self.answering(evidence, self.score_sentences(evidence))
        if is_digest(evidence.question):
            best = max(quotes, key=lambda q: q.base, default=None)
        else:
            best, _, _ = self.best(evidence.question, quotes)
        return self.features(evidence, best) if best else None

    def odds(self, evidence: Evidence, quote: Quote) -> float:
        """The abstention model's probability that `quote` answers the question."""
        return self.params.abstention.probability(self.features(evidence, quote))

    def answer(self, evidence: Evidence) -> Answer:
        """Quote the best sentence of the kind asked for, with what completes it, or abstain; a
        digest for "summarize …"; the speakers and their words for "who said …"."""
        quotes = self.score_sentences(evidence)
        if evidence.pinned:
            return self.pinned(quotes, evidence.pinned)
        quotes = self.answering(evidence, quotes)
        if is_digest(evidence.question):
            return self.digest(evidence, quotes)
        question = evidence.question
        kind = answer_type(question)
        who_said = asks_who_said(question)
        best, typed, ranked = self.best(question, quotes)
        if best is None:  # no sentence holds the kind of answer asked for
            return Answer(ABSTAIN_TEXT, True, evidence=0.0)
        strength = self.odds(evidence, best)
        if should_abstain(strength, 0.5):
            return Answer(ABSTAIN_TEXT, True, evidence=round(strength, 4))
        if who_said:
            chosen = [best] + [q for q in typed if q.speaker != best.speaker and q.score >= best.score - self.margin]
            return self.by_speaker(self.one_per_passage(chosen)[: self.max_sentences], strength)
        before, after = self.neighbours(quotes, best)
        if kind:  # a date, a number, a name: what follows is quoted only if it holds one too
            after = [q for q in after if q in typed]
        chosen = [*before, best, *after]
        # A question of a kind ("who…") often has several answers in the same passage; then the
        # strongest other sentences, if close: a second or third quote only when it adds.
        extras = [q for q in typed if q.n == best.n] if kind else []
        if not kind:  # what was said: another passage that says it about as well (another turn)
            extras += [q for q in self.one_per_passage(sorted(quotes, key=lambda q: -q.base))
                       if q.n != best.n and q.base >= best.base - self.other_passage_margin]
        extras += [q for q in (typed if kind else ranked) if q.score >= best.score - self.margin]
        lead = len(chosen)
        for q in extras:
            if len(chosen) >= self.max_sentences:
                break
            if q not in chosen:
                chosen.append(q)
        chosen[lead:] = sorted(chosen[lead:], key=lambda q: (q.n, q.start))  # the rest in reading order
        if len({q.speaker for q in chosen}) > 1:
            return self.by_speaker(chosen, strength)
        speaker = chosen[0].speaker
        body = " ".join(f"“{q.text}” [{q.n}]" for q in chosen)
        return Answer(f"{speaker}: {body}" if speaker else body, False, chosen, round(strength, 4))

    def digest(self, evidence: Evidence, quotes: list[Quote]) -> Answer:
        """The main points across the passages: the best sentence of each passage, where the
        abstention model says it answers on its own, laid out as a summary (service/rag/summary.py:
        by transcript, then speaker; a question with its answer; whole sentences; nothing twice)."""
        ranked = self.one_per_passage(sorted(quotes, key=lambda q: -q.base))
        odds = [self.odds(evidence, q) for q in ranked]
        chosen = [q for q, p in zip(ranked, odds) if not should_abstain(p, 0.5)]
        strength = max(odds, default=0.0)
        if not chosen:
            return Answer(ABSTAIN_TEXT, True, evidence=round(strength, 4))
        text, cited = summarise(evidence, chosen, quotes)
        return Answer(text, False, cited, round(strength, 4))

    def pinned(self, quotes: list[Quote], passages: int) -> Answer:
        """A follow-up that points at turns ("what did she say next?", "did anyone disagree?"):
        what those turns say, the sentence closest to the conversation's subject from each."""
        inside = [q for q in quotes if q.n <= passages]
        if not inside:
            return Answer(ABSTAIN_TEXT, True)
        chosen = self.one_per_passage(sorted(inside, key=lambda q: -q.base))
        chosen.sort(key=lambda q: q.n)
        if passages == 1:  # one turn: where it starts, and its sentence closest to the subject
            first = min(inside, key=lambda q: q.start)
            chosen = [first] + [q for q in chosen if q is not first]
        return self.by_speaker(chosen, max(q.base for q in chosen))

    @staticmethod
    def one_per_passage(quotes: list[Quote]) -> list[Quote]:
        seen: set[int] = set()
        out = []
        for q in quotes:
            if q.n not in seen:
                seen.add(q.n)
                out.append(q)
        return out

    @staticmethod
    def by_speaker(chosen: list[Quote], strength: float) -> Answer:
        """One line a speaker, their quotes in passage order: `Name: “…” [1] “…” [4]`."""
        lines: dict[str, list[Quote]] = {}
        for q in chosen:
            lines.setdefault(q.speaker, []).append(q)
        text = "\n".join(
            (f"{speaker}: " if speaker else "") + " ".join(f"“{q.text}” [{q.n}]" for q in qs)
            for speaker, qs in lines.items()
        )
        return Answer(text, False, chosen, round(strength, 4))

    @staticmethod
    def neighbours(quotes: list[Quote], best: Quote) -> tuple[list[Quote], list[Quote]]:
        """The sentence of the same passage and speaker that completes the best one, before or after it.

        When the best one opens with a pronoun ("I worked there…"), the one before says what it
        refers to; else the one after it.
        """
        same = [q for q in quotes if q.n == best.n and q.speaker == best.speaker]  # their words only
        idx = same.index(best)
        if idx > 0 and set(words(best.text)[:4]) & _OPENERS:
            return [same[idx - 1]], []
        if idx + 1 < len(same):
            return [], [same[idx + 1]]
        return [], []


_NOT_NAMES = {"", "(unnamed speaker)", "interviewer", "interviewee", "host", "q", "a", "speaker"}


def names_a_speaker(quote: Quote, question: str) -> bool:
    """A who-question is answered by who said the sentence: a named speaker the question does
    not already name."""
    name = quote.speaker
    if name.casefold() in _NOT_NAMES or not name[:1].isupper():
        return False
    asked = set(words(question))
    return not (set(words(name)) & asked)
