"""A topic across the folder: which transcripts and which speakers talk about it, and how much.

The topic is searched as a question is, over single turns (a turn has one speaker), within the
request's scope. A turn is *about the topic* when its fused score is within `gap` of the best
turn's; the gap is fitted (params.json `topics`, service/tune.py): the distance below the best
turn of the median turn the train sets mark as answering a question. Each turn about the topic
weighs by how far it clears that line (from 0 at the line to 1 for the best turn).

A transcript's, a speaker's and a (transcript, speaker) cell's weight is the sum over their turns:
they are ranked by it ("how much of each is about the topic"), and the count of turns is given
beside it. Each one's best quote is the sentence of its best turn closest in meaning to the topic
(the sentence vectors ingest stored; nothing is encoded here but the topic).

Nothing here reads the question's wording: the same map answers "Which hearing discussed …?"
(service/rag/pipeline.py) and POST /v1/topics (service/api/routes/topics.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest import store as ix
from service.rag.library_types import TopicGroup, TopicQuote, TopicResult
from service.rag.retrieve import Hit, Retrieval
from service.rag.text import natural

POOL = 400  # turns scored for a topic (the best first); those within the gap of the best are kept
QUOTED_TURNS = 3  # a group is quoted by the best sentence of its first turns (a short top turn says little)


@dataclass(frozen=True)
class Said:
    """A sentence quoted for a group: its text, span in the source file, and its turn."""

    text: str
    start: int
    end: int
    hit: Hit
    similarity: float  # how well it answers the topic (the sentence model's score)


@dataclass
class Group:
    """The turns about the topic of one transcript, one speaker, or one speaker in one transcript."""

    transcript: str = ""
    speaker: str = ""
    weight: float = 0.0
    turns: list[tuple[Hit, float]] = field(default_factory=list)  # (turn, weight), best first
    quote: Said | None = None

    @property
    def best(self) -> Hit:
        return self.turns[0][0]

    @property
    def transcript_count(self) -> int:
        return len({h.meta.get(ix.K_TRANSCRIPT) for h, _ in self.turns})


@dataclass
class TopicMap:
    retrieval: Retrieval  # the turns scored (best first), as the retriever found them
    turns: list[tuple[Hit, float]]  # the turns about the topic, best first, with their weight
    transcripts: list[Group]
    speakers: list[Group]
    cells: list[Group]


def about(retrieval: Retrieval, gap: float) -> list[tuple[Hit, float]]:
    """The hits within `gap` of the best one's score, each weighed by how far it clears the line;
    one hit a turn (its best piece)."""
    if not retrieval.hits:
        return []
    line = retrieval.hits[0].score - gap
    out, seen = [], set()
    for h in retrieval.hits:
        if h.score <= line:
            break
        turn = (h.meta.get(ix.K_TRANSCRIPT), h.meta.get(ix.K_TURN))  # a long turn's pieces: its best one
        if turn not in seen:
            seen.add(turn)
            out.append((h, (h.score - line) / gap))
    return out


def group(turns: list[tuple[Hit, float]], key) -> list[Group]:
    """The turns grouped by `key(meta)` -> (transcript, speaker), heaviest group first."""
    groups: dict[tuple[str, str], Group] = {}
    for hit, weight in turns:
        k = key(hit.meta)
        g = groups.setdefault(k, Group(*k))
        g.weight += weight
        g.turns.append((hit, weight))
    return sorted(groups.values(), key=lambda g: (-g.weight, g.transcript, g.speaker))


def map_topic(retrieval: Retrieval, gap: float, best_sentences) -> TopicMap:
    """The topic map of a single-turn retrieval (`Retriever.retrieve(..., single_turns=True)`).

    `best_sentences(retrieval, hits)` gives each hit's best sentence as an answer to the topic
    (hit id -> Said): the built-in answerer's fitted sentence model (service/rag/pipeline.py).
    """
    turns = about(retrieval, gap)
    transcripts = group(turns, lambda m: (m.get(ix.K_TRANSCRIPT, ""), ""))
    speakers = group(turns, lambda m: ("", m.get(ix.K_SPEAKER, "")))
    cells = group(turns, lambda m: (m.get(ix.K_TRANSCRIPT, ""), m.get(ix.K_SPEAKER, "")))
    every = [*transcripts, *speakers, *cells]
    tried = {h.id: h for g in every for h, _ in g.turns[:QUOTED_TURNS]}
    best = best_sentences(retrieval, list(tried.values()))
    for g in every:
        said = [best[h.id] for h, _ in g.turns[:QUOTED_TURNS] if h.id in best]
        g.quote = max(said, key=lambda q: q.similarity) if said else whole(g.best)
    return TopicMap(retrieval, turns, transcripts, speakers, cells)


def whole(hit: Hit) -> Said:
    """A turn quoted whole (one whose sentences are not stored)."""
    return Said(hit.text, int(hit.meta.get(ix.K_START, 0)), int(hit.meta.get(ix.K_END, 0)), hit, hit.dense)


# --- "Which hearing discussed …?", "Who talked about …?": answers at the level of groups --------
LISTED = 5  # transcripts (or speakers) an answer names (the rest are counted)


def _who(group: Group, cells: list[Group]) -> list[str]:
    """The speakers of a transcript's turns about the topic, the heaviest first (two at most)."""
    return [c.speaker for c in cells if c.transcript == group.transcript and c.speaker][:2]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _title(hit: Hit) -> str:
    return hit.meta.get(ix.K_TITLE) or hit.meta.get(ix.K_TRANSCRIPT, "")


def _listing(groups: list[Group], listed: int, what: str, line) -> tuple[list[Hit], str, list[Said]]:
    """The first `listed` groups, one numbered line each (`line(group)`, then the group's best
    quote, cited), the rest counted. Citation n is hits[n-1]: each group's quoted turn."""
    shown, rest = groups[:listed], groups[listed:]
    lines = [f"{n}. {line(g)} “{g.quote.text}” [{n}]" for n, g in enumerate(shown, 1)]
    head = (f"One {what} talks about this:" if len(groups) == 1
            else f"These {what}s talk about this, the most first:")
    tail = (f"\n\n{_plural(len(rest), 'more ' + what)} touch on it "
            f"({_plural(sum(len(g.turns) for g in rest), 'turn')}).") if rest else ""
    return [g.quote.hit for g in shown], head + "\n\n" + "\n".join(lines) + tail, [g.quote for g in shown]


def transcripts_answer(topic_map: TopicMap, listed: int = LISTED) -> tuple[list[Hit], str, list[Said]]:
    """The transcripts that talk about the topic, the most first: each with its title, how many of
    its turns are about it, who says most of it, and its best quote. Returns the hits cited (each
    transcript's quoted turn, in the order named: citation n is hits[n-1]), the answer's text with
    [n] citations, and the quotes."""

    def line(g: Group) -> str:
        title = _title(g.best)
        name = f"**{title}**" + (f" ({g.transcript})" if title != g.transcript else "")
        who = _who(g, topic_map.cells)
        said = f", mostly {' and '.join(who)}" if len(who) > 1 else f", by {who[0]}" if who else ""
        return f"{name}: {_plural(len(g.turns), 'turn')} on it{said}."

    return _listing(topic_map.transcripts, listed, "transcript", line)


def speakers_answer(topic_map: TopicMap, listed: int = LISTED) -> tuple[list[Hit], str, list[Said]]:
    """The speakers who talk about the topic, the most first: each with their role (where the
    transcripts give it), how many of their turns are about it and in how many transcripts, and
    their best quote, with the transcript it is from. Returns what `transcripts_answer` does."""

    def line(g: Group) -> str:
        role = g.best.meta.get(ix.K_ROLE) or ""
        name = f"**{g.speaker}**" + (f" ({role})" if role and role.casefold() != g.speaker.casefold() else "")
        if g.transcript_count == 1:
            return f"{name}: {_plural(len(g.turns), 'turn')} on it, in {_title(g.best)}."
        return (f"{name}: {_plural(len(g.turns), 'turn')} on it in {_plural(g.transcript_count, 'transcript')};"
                f" in {_title(g.quote.hit)}:")

    return _listing([g for g in topic_map.speakers if g.speaker], listed, "speaker", line)


# --- POST /v1/topics: the map as the API gives it --------------------------------------------
def _quote(said: Said) -> TopicQuote:
    m = said.hit.meta
    return TopicQuote(text=said.text, transcript=m.get(ix.K_TRANSCRIPT, ""), title=m.get(ix.K_TITLE, ""),
                      speaker=m.get(ix.K_SPEAKER, ""), turn=int(m.get(ix.K_TURN, 0)),
                      timestamp=m.get(ix.K_TIMESTAMP, "") or "", start=said.start, end=said.end)


def _group(g: Group) -> TopicGroup:
    return TopicGroup(transcript=g.transcript or None, title=g.best.meta.get(ix.K_TITLE) if g.transcript else None,
                      speaker=g.speaker or None, turns=len(g.turns), weight=round(g.weight, 3),
                      transcript_count=g.transcript_count, quote=_quote(g.quote))


def result(topic: str, topic_map: TopicMap | None, generation: int, track: str | None,
           best_sentences) -> TopicResult:
    """The API's view of a topic map (None: the transcripts do not cover the topic); with `track`,
    that speaker's turns about the topic in transcript order, each with its best sentence."""
    if topic_map is None:
        return TopicResult(topic=topic, found=False, track=[] if track else None, index_generation=generation)
    out = TopicResult(topic=topic, found=True, turns=len(topic_map.turns),
                      transcripts=[_group(g) for g in topic_map.transcripts],
                      speakers=[_group(g) for g in topic_map.speakers],
                      cells=[_group(g) for g in topic_map.cells], index_generation=generation)
    if track:
        mine = sorted((h for h, _ in topic_map.turns if h.meta.get(ix.K_SPEAKER) == track),
                      key=lambda h: (natural(h.meta.get(ix.K_TRANSCRIPT, "")), int(h.meta.get(ix.K_TURN, 0))))
        best = best_sentences(topic_map.retrieval, mine)
        out.track = [_quote(best.get(h.id) or whole(h)) for h in mine]
    return out
