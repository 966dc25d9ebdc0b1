"""`filters` on POST /v1/chat and on the OpenAI facade: the real app through its lifespan over a real
Chroma index of the sample interview and a committee hearing, with the real embedding model."""

from __future__ import annotations

import json

import openai
import pytest

from service.rag.scope import Scope
from tests.fixtures.hearing import HEARING_ID, SAMPLE_ID
from tests.fixtures.sse import sse

STE_MARIE = "Gabriel Ste-Marie"


@pytest.fixture(scope="module")
def client(library_client):
    return library_client


def ask(client, question: str, filters=None, **extra):
    body = {"messages": [{"role": "user", "content": question}], **extra}
    if filters is not None:
        body["filters"] = filters
    return client.post("/v1/chat", json=body)


def sources(r) -> list[dict]:
    assert r.status_code == 200, r.text
    return r.json()["sources"]


def test_a_transcript_filter_keeps_every_source_in_that_transcript(client):
    question = "When was Alibaba Cloud started?"
    assert sources(ask(client, question))[0]["transcript"] == SAMPLE_ID  # unfiltered: the interview
    found = sources(ask(client, question, {"transcripts": [HEARING_ID]}, top_k=10))
    assert found and {s["transcript"] for s in found} == {HEARING_ID}
    found = sources(ask(client, "What is the fiscal anchor?", {"transcripts": [SAMPLE_ID]}))
    assert found and {s["transcript"] for s in found} == {SAMPLE_ID}


def test_a_speaker_filter_keeps_every_source_to_that_speakers_turns(client):
    question = "Who pays back the wage subsidy when companies abuse it?"
    assert {s["speaker"] for s in sources(ask(client, question, top_k=10))} != {STE_MARIE}
    found = sources(ask(client, question, {"speakers": ["Ste-Marie"]}, top_k=10))
    # both of his turns, and nothing else
    assert {s["id"] for s in found} == {f"{HEARING_ID}#t004p01", f"{HEARING_ID}#t006p01"}
    assert {s["speaker"] for s in found} == {STE_MARIE}


@pytest.mark.parametrize(
    "written", ["Ste-Marie", "Mr. Ste-Marie", "Mr. Gabriel Ste-Marie (Joliette, BQ)"]
)
def test_a_speaker_may_be_written_as_people_write_them(client, written):
    found = sources(ask(client, "What about the dairy farmers?", {"speakers": [written]}))
    assert found and {s["speaker"] for s in found} == {STE_MARIE}


def test_transcripts_and_speakers_together(client):
    filters = {"transcripts": [HEARING_ID], "speakers": ["Mr. Poilievre", "The Chair"]}
    found = sources(
        ask(client, "What did they say about the deficit and the debt?", filters, top_k=10)
    )
    assert found and {s["transcript"] for s in found} == {HEARING_ID}
    assert {s["speaker"] for s in found} == {"Pierre Poilievre", "Jane Roe"}
    assert "Poilievre" in found[0]["speaker"]  # the deficit question is his


def test_empty_filters_limit_nothing(client):
    question = "When was Alibaba Cloud started?"
    plain = ask(client, question).json()
    for filters in ({}, {"transcripts": [], "speakers": []}, {"transcripts": None}):
        body = ask(client, question, filters).json()
        assert [s["id"] for s in body["sources"]] == [s["id"] for s in plain["sources"]]
        assert body["answer"] == plain["answer"]


def test_a_filtered_stream_keeps_to_the_scope(client):
    payload = {
        "messages": [{"role": "user", "content": "When was Alibaba Cloud started?"}],
        "filters": {"transcripts": [HEARING_ID]},
        "stream": True,
    }
    with client.stream("POST", "/v1/chat", json=payload) as r:
        assert r.status_code == 200
        events = [(name, json.loads(data)) for name, data in sse(r.iter_lines())]
    assert events[0][0] == "sources" and events[-1][0] == "done"
    assert {s["transcript"] for s in events[-1][1]["sources"]} == {HEARING_ID}


def test_the_where_clause_selects_the_same_chunks_in_chroma(client):
    """Scope.where() on the live chunk collection picks exactly the chunks Scope.allows."""
    snap = client.app.state.pipeline.retriever.snap
    for scope in (
        Scope(frozenset({HEARING_ID}), None),
        Scope(None, frozenset({STE_MARIE, "Xuan Jin"})),
        Scope(frozenset({HEARING_ID}), frozenset({STE_MARIE, "Jane Roe"})),
    ):
        got = snap.chunks.get(where=scope.where(), include=[])
        assert set(got["ids"]) == {
            cid for cid, (_, meta) in snap.docs.items() if scope.allows(meta)
        }
        assert got["ids"]


UNKNOWN = [
    ({"transcripts": ["no-such-hearing"]}, ["filters.transcripts", "'no-such-hearing'"]),
    ({"transcripts": ["committees/finance-hearings"]}, [f"did you mean '{HEARING_ID}'"]),
    ({"speakers": ["Nobody Atall"]}, ["filters.speakers", "'Nobody Atall'"]),
    (
        {"transcripts": [HEARING_ID], "speakers": ["Xuan Jin"]},
        [f"'Xuan Jin' never speaks in the transcript '{HEARING_ID}'"],
    ),
    (
        {"transcripts": [SAMPLE_ID], "speakers": ["Mr. Ste-Marie"]},
        [f"'Mr. Ste-Marie' ({STE_MARIE}) never speaks in the transcript '{SAMPLE_ID}'"],
    ),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("filters,fragments", UNKNOWN)
def test_a_filter_that_names_nothing_is_a_json_422_naming_it(client, filters, fragments, stream):
    """Streaming or not: a JSON 422 before any answer (never an SSE `error` event)."""
    r = ask(client, "What about the wage subsidy?", filters, stream=stream)
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    detail = r.json()["detail"]
    for fragment in [*fragments, "GET /v1/transcripts"]:
        assert fragment in detail


@pytest.mark.parametrize(
    "filters,fragment",
    [
        ({"speakers": [""]}, "filters.speakers.0: String should have at least 1 character"),
        ({"speakers": ["   "]}, "filters.speakers.0: String should have at least 1 character"),
        (
            {"transcripts": ["x" * 201]},
            "filters.transcripts.0: String should have at most 200 characters",
        ),
        (
            {"transcripts": [f"t{i}" for i in range(101)]},
            "filters.transcripts: List should have at most 100 items",
        ),
        ({"speakers": "Ste-Marie"}, "filters.speakers: Input should be a valid list"),
        ({"speakers": [5]}, "filters.speakers.0: Input should be a valid string"),
        ({"speaker": ["Ste-Marie"]}, "filters.speaker: Extra inputs are not permitted"),
        ("Ste-Marie", "filters: Input should be a valid dictionary"),
    ],
)
def test_malformed_filters_are_422_naming_the_field(client, filters, fragment):
    for stream in (False, True):
        r = ask(client, "What about the wage subsidy?", filters, stream=stream)
        assert r.status_code == 422 and fragment in r.json()["detail"], r.text


# --- the OpenAI facade: `filters` as an extra body field ---------------------------------------
@pytest.fixture(scope="module")
def oa(client):
    return openai.OpenAI(
        base_url=f"{client.base_url}/v1", api_key="unused", http_client=client, max_retries=0
    )


MESSAGES = [{"role": "user", "content": "When was Alibaba Cloud started?"}]


def test_openai_facade_takes_filters_in_the_extra_body(client, oa):
    filters = {"transcripts": [HEARING_ID], "speakers": ["Morneau"]}
    done = oa.chat.completions.create(
        model="transcript-rag", messages=MESSAGES, extra_body={"filters": filters}
    )
    found = done.model_extra["sources"]
    assert found and {(s["transcript"], s["speaker"]) for s in found} == {
        (HEARING_ID, "Bill Morneau")
    }
    plain = ask(client, MESSAGES[0]["content"], filters).json()
    assert done.choices[0].message.content == plain["answer"] and found == plain["sources"]
    chunks = list(
        oa.chat.completions.create(
            model="transcript-rag", messages=MESSAGES, stream=True, extra_body={"filters": filters}
        )
    )
    assert chunks[-1].model_extra["sources"] == plain["sources"]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_facade_reports_a_bad_filter_as_a_422(oa, stream):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        oa.chat.completions.create(
            model="transcript-rag",
            messages=MESSAGES,
            stream=stream,
            extra_body={"filters": {"speakers": ["Nobody Atall"]}},
        )
    assert caught.value.status_code == 422
    assert (
        "filters.speakers: no speaker in the index is called 'Nobody Atall'"
        in caught.value.body["detail"]
    )


def test_openai_facade_rejects_malformed_filters(client):
    r = client.post(
        "/v1/chat/completions", json={"messages": MESSAGES, "filters": {"speakers": [""]}}
    )
    assert r.status_code == 422 and "filters.speakers.0" in r.json()["detail"]
