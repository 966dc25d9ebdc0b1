"""What can go wrong while answering, as errors that carry the HTTP status to report and a message
a person can act on. The routes, the SSE layers and the OpenAI facade report any `AnswerError`."""

from __future__ import annotations


class AnswerError(RuntimeError):
    """The answer could not be produced; `status` is the HTTP status to report, `detail` says why."""

    status = 500

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class LLMError(AnswerError):
    """The LLM server could not produce an answer."""

    status = 502


class LLMUnavailable(LLMError):
    status = 503


class LLMTimeout(LLMError):
    status = 504


class FilterError(AnswerError):
    """The request's `filters` name a transcript or speaker the index does not have (or a speaker
    who never speaks in the chosen transcripts): a request the client can correct, found before
    any retrieval."""

    status = 422
