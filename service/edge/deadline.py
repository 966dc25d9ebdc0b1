"""The request deadline (REQUEST_TIMEOUT): a 504, or an `error` event in a stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import aclosing
from typing import TypeVar

from service.rag.errors import AnswerError

T = TypeVar("T")


class RequestTimeout(AnswerError):
    """The whole answer (retrieval and generation) took longer than REQUEST_TIMEOUT: a 504, or an
    `error` event in a stream, whatever was slow."""

    status = 504

    def __init__(self, seconds: float):
        super().__init__(f"The answer took longer than the service's limit of {seconds:g} s "
                         "(REQUEST_TIMEOUT) and was stopped. Try again, or ask a shorter question.")


async def deadline(awaitable: Awaitable[T], seconds: float) -> T:
    """Await within `seconds` (0: no limit), else RequestTimeout. Work in a thread is abandoned,
    not killed: the event loop stays free and the thread finishes on its own."""
    if not seconds:
        return await awaitable
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise RequestTimeout(seconds) from None


async def deadline_stream(events: AsyncIterator[T], seconds: float) -> AsyncIterator[T]:
    """Pass events through until `seconds` from now; then close the source (which cancels an LLM
    request) and raise RequestTimeout, which the SSE layers send as an `error` event."""
    stop = asyncio.get_running_loop().time() + seconds if seconds else None
    async with aclosing(events) as stream:
        while True:
            try:
                async with asyncio.timeout_at(stop):
                    event = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise RequestTimeout(seconds) from None
            yield event
