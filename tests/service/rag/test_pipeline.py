"""The pipeline's one decision tree, on the real sample index (real model, real Chroma).

`astream` is the pipeline and `run`/`answer` drain it, so the three give one response; the stages
hand data forward (retrieve -> rerank -> evidence -> answer) and no rag module imports one that
comes after it. Where an LLM is needed it is a scripted one (LangChain's GenericFakeChatModel).
"""

from __future__ import annotations

import ast
import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from ingest import store as ix
from service.rag.abstain import ABSTAIN_TEXT, NOTHING_NEW_TEXT
from service.rag.chat_types import ChatRequest
from service.rag.errors import LLMUnavailable
from service.rag.evidence import EvidenceBuilder
from service.rag.extractive import ExtractiveAnswerer
from service.rag.llm import LLMAnswerer
from service.rag.pipeline import ChatPipeline, DoneEvent, SourcesEvent, TokenEvent
from service.rag.rerank import TopK
from service.rag.retrieve import Retrieval, Retriever

RAG = Path(__file__).resolve().parents[3] / "service" / "rag"
QUESTION = "Where did Xuan Jin work before joining Alibaba?"
UNANSWERABLE = "What is the price of bananas on Mars?"


@pytest.fixture(scope="module")
def retriever(llm_index, embedder, tmp_path_factory):
    from service.settings import ServiceSettings

    chroma = tmp_path_factory.mktemp("pipeline") / "chroma"
    shutil.copytree(llm_index / "chroma", chroma, ignore=shutil.ignore_patterns("owner.lock"))
    settings = ServiceSettings(_env_file=None, chroma_path=chroma, transcripts_dir=llm_index / "transcripts")
    return Retriever(settings, embedder, ix.chroma_client(settings))


def pipeline(retriever, replies: list[str] | None = None, **kw) -> ChatPipeline:
    llm = None
    if replies is not None:
        llm = LLMAnswerer(kw.pop("model", None) or GenericFakeChatModel(messages=iter(AIMessage(r) for r in replies)),
                          budget_tokens=2000, base_url="http://fake/v1", timeout=5)
    return ChatPipeline(retriever, EvidenceBuilder(retriever.embedder), ExtractiveAnswerer(retriever.params), 5, llm=llm, **kw)


def request(question: str, top_k: int | None = None) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": question}], top_k=top_k)


def events(p: ChatPipeline, req: ChatRequest) -> list:
    """The events of one answer; an error raised on the way ends the list."""
    async def collect():
        got = []
        try:
            async for e in p.astream(req):
                got.append(e)
        except Exception as exc:  # noqa: BLE001 - the SSE layers send it as an `error` event
            got.append(exc)
        return got

    return asyncio.run(collect())


def without_timings(response) -> dict:
    return response.model_dump(exclude={"timings"})


@pytest.mark.parametrize("question", [QUESTION, UNANSWERABLE])
def test_run_answer_and_stream_give_one_response(retriever, question):
    p = pipeline(retriever)
    got = events(p, request(question))
    sources, *tokens, done = got
    assert isinstance(sources, SourcesEvent) and isinstance(done, DoneEvent)
    assert all(isinstance(t, TokenEvent) for t in tokens)
    assert "".join(t.text for t in tokens) == done.response.answer
    assert sources.sources == done.response.sources
    assert without_timings(p.run(request(question))) == without_timings(done.response)
    assert without_timings(asyncio.run(p.answer(request(question)))) == without_timings(done.response)
    timings = p.run(request(question)).timings
    assert 0 < timings.retrieval_ms <= timings.first_token_ms <= timings.total_ms
    assert done.response.index_generation == 1


def test_the_retriever_hands_over_every_candidate_and_the_reranker_keeps_k(retriever):
    candidates = retriever.retrieve(QUESTION, [])
    scores = [h.score for h in candidates.hits]
    assert len(candidates.hits) > 5 and scores == sorted(scores, reverse=True)
    kept = TopK().rerank(candidates, 3)
    assert [h.id for h in kept.hits] == [h.id for h in candidates.hits[:3]]
    assert [h.id for h in retriever.retrieve(QUESTION, [], 3).hits] == [h.id for h in kept.hits]


class Reversed:
    """A reranker that puts the top k in reverse order (as a cross-encoder might reorder them)."""

    def rerank(self, retrieval: Retrieval, k: int) -> Retrieval:
        return replace(retrieval, hits=retrieval.hits[:k][::-1])


def test_a_reranker_decides_the_passages_and_their_numbers(retriever):
    plain = pipeline(retriever).run(request(QUESTION, top_k=3))
    reranked = pipeline(retriever, reranker=Reversed()).run(request(QUESTION, top_k=3))
    assert [s.id for s in reranked.sources] == [s.id for s in plain.sources][::-1]
    assert [s.n for s in reranked.sources] == [1, 2, 3]
    assert "Oracle" in reranked.answer and "Oracle" in plain.answer
    assert (plain.citations, reranked.citations) == ([1], [3])


def test_the_evidence_holds_what_the_answerer_weighs(retriever):
    retrieval = TopK().rerank(retriever.retrieve(QUESTION, []), 5)
    ev = EvidenceBuilder(retriever.embedder).build(retrieval)
    assert [p.n for p in ev.passages] == [1, 2, 3]
    assert [p.score for p in ev.passages] == [h.score for h in retrieval.hits[:3]]
    first = ev.passages[0]
    assert first.speaker == "Xuan Jin" and first.first_piece
    assert first.sentences[0].text.startswith("I started off doing software engineering")
    assert [s.index for s in first.sentences] == list(range(len(first.sentences)))
    assert set(ev.weights) == set(ev.tokens) and all(w > 0 for w in ev.weights.values())
    assert ExtractiveAnswerer(retriever.params).answer(ev).text == pipeline(retriever).run(request(QUESTION)).answer


# --- llm mode -------------------------------------------------------------------------------------
INTRO = "sat down with Xuan Jin, Lead Solutions Architect at Alibaba Cloud"


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "Who is Xuan Jin?"}],
    [{"role": "user", "content": "What is Xuan Jin's job title?"}],
    [{"role": "user", "content": "What is the interviewee's job title?"}],  # one interviewee: named
    [{"role": "user", "content": "Who is the interviewee?"},
     {"role": "assistant", "content": f"“The Leadership Network {INTRO}.” [1]"},
     {"role": "user", "content": "What is his job title?"}],
])
def test_who_a_person_is_is_answered_where_the_transcript_introduces_him(retriever, messages):
    """His own turns never say his title; the intro does (the speaker boost would bury it)."""
    r = pipeline(retriever).run(ChatRequest(messages=messages))
    assert not r.abstained and INTRO in r.answer, r.answer
    assert INTRO in r.sources[0].text


def test_llm_answer_is_verified_and_cleaned(retriever):
    p = pipeline(retriever, ["He worked at Oracle [1] and Cisco [9]. See https://evil.example/x"])
    response = p.run(request(QUESTION))
    assert (response.answer, response.citations, response.mode) == (
        "He worked at Oracle [1] and Cisco. See (link removed)", [1], "llm")
    # the evidence check's score, as the built-in answerer computes it on the same passages
    assert response.evidence == pipeline(retriever).run(request(QUESTION)).evidence
    assert response.evidence > 0.5 and response.index_generation == 1  # better than even odds


def test_the_evidence_check_answers_without_the_model_and_keeps_the_index_generation(retriever):
    p = pipeline(retriever, [])  # a model with nothing to say: asking it would fail
    response = p.run(request(UNANSWERABLE))
    assert (response.answer, response.abstained, response.mode) == (ABSTAIN_TEXT, True, "llm")
    assert (response.citations, response.verified, response.index_generation) == ([], True, 1)


class Down(GenericFakeChatModel):
    """A model whose server cannot be reached."""

    def _stream(self, *a, **kw):
        raise httpx.ConnectError("down")

    async def _astream(self, *a, **kw):
        raise httpx.ConnectError("down")
        yield


@pytest.mark.parametrize("fallback", [True, False])
def test_an_llm_that_is_down_falls_back_to_quoting_only_when_allowed(retriever, fallback):
    p = pipeline(retriever, [], model=Down(messages=iter([])), fallback=fallback)
    got = events(p, request(QUESTION))
    if not fallback:
        with pytest.raises(LLMUnavailable, match="cannot be reached"):
            p.run(request(QUESTION))
        assert [type(e) for e in got] == [SourcesEvent, LLMUnavailable]
        assert p.active == 0
        return
    assert sum(isinstance(e, SourcesEvent) for e in got) == 1  # the sources already sent stand
    response = got[-1].response
    assert response.mode == "extractive" and response.answer.startswith("Xuan Jin: “I started off")
    assert [s.id for s in response.sources] == [s.id for s in got[0].sources]
    assert without_timings(p.run(request(QUESTION))) == without_timings(response)
    assert p.active == 0


# --- the shape of service/rag ---------------------------------------------------------------------
def rag_imports() -> dict[str, set[str]]:
    """service.rag module -> the service.rag modules it imports (top level or inside functions)."""
    graph = {}
    for path in RAG.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[path.stem] = {n.module.rsplit(".", 1)[1] for n in ast.walk(tree)
                            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("service.rag.")}
    return graph


def test_no_import_cycles_and_no_private_names_across_modules():
    graph = rag_imports()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module not in done:
            for dep in graph.get(module, ()):
                visit(dep, (*path, module))
            done.add(module)

    for module in graph:
        visit(module, ())
    for path in RAG.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("service", "ingest")):
                assert not [a.name for a in node.names if a.name.startswith("_")], f"{path.name}: {node.module}"


def test_the_answerer_reads_no_store_and_runs_no_model():
    tree = ast.parse((RAG / "extractive.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"__future__", "re", "dataclasses", "service.rag.abstain", "service.rag.evidence",
                        "service.rag.intent", "service.rag.params", "service.rag.summary", "service.rag.text"}


def test_a_follow_up_that_finds_nothing_new_says_so_instead_of_repeating(retriever):
    """Asked again after its answer, a question finds the sentences already quoted: the answer says
    there is nothing more, and does not give the same quotes word for word."""
    p = pipeline(retriever)
    first = p.run(request(QUESTION))
    assert not first.abstained and first.answer
    again = p.run(ChatRequest(messages=[
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.answer},
        {"role": "user", "content": QUESTION},
    ]))
    assert again.answer == NOTHING_NEW_TEXT and again.abstained and again.answer != first.answer
    assert again.sources  # the passages are still listed
