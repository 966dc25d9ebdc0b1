"""The LLM answerer: a model on any OpenAI-compatible chat server, asked about the passages.

The passages are packed into the answer prompt up to a token budget, best first, as numbered
sources (`prepare`); the model's raw text is streamed (`astream`) for the pipeline to pass through
the output filters (service/rag/filters.py), which drop every `[n]` that does not point at a
source it was given. Follow-up questions are rewritten into standalone ones with the condense
prompt (`acondense`). Client failures become `LLMError`s that say what to do (`llm_error`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from ingest import store as ix
from service.rag.abstain import ABSTAIN_PHRASE
from service.rag.citations import check_answer
from service.rag.errors import LLMError, LLMTimeout, LLMUnavailable
from service.rag.passages import speakers_of
from service.rag.prompts import answer_prompt, condense_prompt, outline_prompt
from service.rag.retrieve import Hit
from service.settings import ServiceSettings

CHARS_PER_TOKEN = 4  # rough size of an English token; good enough for a budget
CONDENSE_MAX_TOKENS = 64
HISTORY_TURNS = 4  # messages of the conversation shown to the condense prompt
HISTORY_CHARS = 300  # an earlier answer is cut to this for the condense prompt


def llm_error(exc: BaseException, base_url: str, timeout: float) -> LLMError | None:
    """Translate a client exception into an error a person can act on (None: not an LLM error)."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException, TimeoutError)):
        return LLMTimeout(
            f"The language model server at {base_url} did not answer within {timeout:g} s. "
            "It may be overloaded; try again, or raise LLM_TIMEOUT."
        )
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError)):
        if _cut_off(exc):
            return LLMError(f"The language model server at {base_url} cut its answer off mid-stream (the "
                            "connection closed early). Try again.")
        return LLMUnavailable(
            f"The language model server at {base_url} cannot be reached. Start it (`make llm`) or "
            "set LLM_BASE_URL to a running OpenAI-compatible server; the rest of the service is up."
        )
    if isinstance(exc, openai.APIStatusError):
        message = exc.message if isinstance(exc.message, str) else str(exc)
        return LLMError(
            f"The language model server at {base_url} answered with HTTP {exc.status_code}: "
            f"{message[:300]}"
        )
    if isinstance(exc, ValueError):  # JSON that does not parse, a stream with no chunks (an HTML page)
        return LLMError(
            f"The language model server at {base_url} sent a reply that is not a valid OpenAI-compatible "
            f"chat completion ({type(exc).__name__}). Check that LLM_BASE_URL is its /v1 API."
        )
    return None


def _cut_off(exc: BaseException) -> bool:
    """A connection that broke after the answer had started (not one that never opened)."""
    for _ in range(6):
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            return True
        if (exc := exc.__cause__ or exc.__context__) is None:
            return False
    return False


# --- packing the sources --------------------------------------------------------------------
def format_source(n: int, hit: Hit) -> str:
    """One numbered source: who speaks, to which interviewer question, then the passage."""
    meta = hit.meta
    if len(speakers_of(meta)) > 1:  # a window of turns: each line names its speaker
        return f"[{n}] A conversation ({', '.join(speakers_of(meta))}):\n{hit.text}"
    asked = meta.get(ix.K_QUESTION, "")
    head = f"[{n}] {meta.get(ix.K_SPEAKER, '') or 'Speaker'}"
    if asked:
        head += f', answering "{asked[:120]}"'
    return f"{head}:\n{hit.text}"


def pack_sources(hits: list[Hit], budget_tokens: int) -> dict[int, str]:
    """Source number -> formatted source, best first, while they fit in the budget.

    A passage that does not fit is skipped and smaller later ones may still go in; the best
    passage always goes in, cut to the budget if it alone is too long. Numbers stay the
    passages' ranks, so `[n]` means the same source in the prompt and in the response.
    """
    budget = budget_tokens * CHARS_PER_TOKEN
    packed: dict[int, str] = {}
    used = 0
    for n, hit in enumerate(hits, 1):
        text = format_source(n, hit)
        if not packed and len(text) > budget:
            text = text[:budget]
        if used + len(text) > budget:
            continue
        packed[n] = text
        used += len(text) + 2
    return packed


# --- the answerer ---------------------------------------------------------------------------
@dataclass
class Prepared:
    """The prompt for one question and the source numbers it gives the model."""

    messages: list[BaseMessage]
    given: set[int] = field(default_factory=set)


class LLMAnswerer:
    """Answers from retrieved passages with a chat model (`ChatOpenAI` in the service)."""

    def __init__(self, llm: BaseChatModel, budget_tokens: int, base_url: str = "", timeout: float = 0.0):
        self.llm = llm
        # The cap goes out under both names (see `token_cap`), so bind the extra body with it too.
        extra = {**(getattr(llm, "extra_body", None) or {}), **token_cap(CONDENSE_MAX_TOKENS)}
        self.condenser = llm.bind(max_tokens=CONDENSE_MAX_TOKENS, extra_body=extra)
        self.budget_tokens = budget_tokens
        self.base_url = base_url
        self.timeout = timeout
        self.answer_prompt = answer_prompt()
        self.outline_prompt = outline_prompt()
        self.condense_prompt = condense_prompt()

    def error(self, exc: BaseException) -> LLMError | None:
        return llm_error(exc, self.base_url, self.timeout)

    # --- follow-ups
    def condense_input(self, question: str, earlier: list[tuple[str, str]]) -> str:
        lines = []
        for role, content in earlier[-HISTORY_TURNS:]:
            content = check_answer(content, set()).text  # citations mean nothing here
            if role == "assistant" and len(content) > HISTORY_CHARS:
                content = content[:HISTORY_CHARS].rsplit(" ", 1)[0] + " …"
            lines.append(f"{'User' if role == 'user' else 'Assistant'}: {content}")
        return self.condense_prompt.format(history="\n".join(lines), question=question)

    @staticmethod
    def clean_rewrite(text: str, question: str) -> str:
        """The model's rewrite, or the question itself when the rewrite is unusable."""
        line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
        line = re.sub(r"^(standalone question|question)\s*:\s*", "", line, flags=re.IGNORECASE).strip(" \"'“”")
        if not line or len(line) > 3 * len(question) + 200:
            return question
        return line

    async def acondense(self, question: str, earlier: list[tuple[str, str]]) -> str:
        try:
            reply = await self.condenser.ainvoke(self.condense_input(question, earlier))
        except Exception as exc:
            raise self.error(exc) or exc from exc
        return self.clean_rewrite(str(reply.content), question)

    # --- answers
    def prepare(self, question: str, hits: list[Hit], outline: str = "") -> Prepared:
        """The prompt for `question` from the passages; `outline`: a digest's points as the
        built-in answerer lays them out (service/rag/summary.py), for the model to write from."""
        packed = pack_sources(hits, self.budget_tokens)
        messages = self.answer_prompt.format_messages(
            sources="\n\n".join(packed.values()), question=question,
            outline="\n" + self.outline_prompt.format(outline=outline) if outline else "")
        return Prepared(messages, set(packed))

    async def astream(self, prepared: Prepared) -> AsyncIterator[str]:
        """Raw model text, piece by piece (errors translated to LLMError); cancelling the consumer
        closes the HTTP stream."""
        if not prepared.given:
            yield ABSTAIN_PHRASE  # nothing retrieved: nothing to answer from, no need to ask
            return
        try:
            async for chunk in self.llm.astream(prepared.messages):
                if chunk.content:
                    yield str(chunk.content)
        except Exception as exc:
            raise self.error(exc) or exc from exc

    async def aclose(self) -> None:
        """Close the HTTP client the chat model was given (see `build_llm_answerer`)."""
        if (client := getattr(self.llm, "http_async_client", None)) is not None:
            await client.aclose()


def token_cap(tokens: int) -> dict:
    """The answer-length cap as the extra body field `max_tokens`.

    ChatOpenAI sends `max_tokens` as `max_completion_tokens` (OpenAI's current name), which
    llama.cpp's server (llama-cpp-python 0.3) does not read: without this it generates until its
    context is full. Sent under both names, every OpenAI-compatible server sees the cap.
    """
    return {"max_tokens": tokens}


def build_llm_answerer(settings: ServiceSettings) -> LLMAnswerer:
    """`ChatOpenAI` against settings.llm_base_url, with our own async HTTP client (closed by `aclose`).
    The pipeline is async throughout (`ChatPipeline.run` drains it): the model is never called
    synchronously, so it is given no sync client. LangChain's `init_chat_model` builds it, so the
    provider is one word here (any OpenAI-compatible server speaks "openai")."""
    from langchain.chat_models import init_chat_model

    llm = init_chat_model(
        settings.llm_model,
        model_provider="openai",
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout,
        stream_chunk_timeout=settings.llm_timeout,
        max_retries=0,  # a dead server should be reported now, not after back-off retries
        extra_body={**token_cap(settings.llm_max_tokens), **settings.llm_extra_body},
        http_async_client=httpx.AsyncClient(timeout=settings.llm_timeout),
    )
    return LLMAnswerer(llm, settings.context_budget_tokens, settings.llm_base_url, settings.llm_timeout)
