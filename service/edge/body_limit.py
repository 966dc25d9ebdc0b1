"""Body size, type and arrival time: 415/413 before reading, 408 past BODY_TIMEOUT."""

from __future__ import annotations

import asyncio

from fastapi import HTTPException

from service.edge.asgi import CHAT_PATHS, UPLOAD_PATH, header, is_json, send_json


class BodyLimit:
    """415 for a chat request that is not JSON; 413 for a body over the limit: at once from
    Content-Length (nothing of it is read), or as soon as a chunked body's bytes pass it; 408
    when the body has not arrived in full `body_timeout` seconds after the request began."""

    def __init__(self, app, max_bytes: int, max_upload_bytes: int, body_timeout: float = 60.0):
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path")
        if path in CHAT_PATHS and scope.get("method") == "POST" and not is_json(header(scope, b"content-type")):
            return await send_json(send, 415, {"detail": "send the chat request as JSON, with the header "
                                                         "Content-Type: application/json"})
        limit = self.max_upload_bytes if path == UPLOAD_PATH else self.max_bytes
        detail = f"the request body is larger than this endpoint's limit of {limit:,} bytes"
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await send_json(send, 400, {"detail": "Content-Length is not a number"})
            if int(declared) > limit:
                return await send_json(send, 413, {"detail": detail}, {"Connection": "close"})
        seen, complete = 0, False
        deadline = asyncio.get_running_loop().time() + self.body_timeout

        async def counted():
            nonlocal seen, complete
            if complete:  # later calls only wait for a disconnect (streams): no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:  # FastAPI re-raises HTTPException from reading the body
                raise HTTPException(408, f"the request body did not arrive in full within "
                                         f"{self.body_timeout:g} s (the service's BODY_TIMEOUT); send "
                                         "the whole body at once", headers={"Connection": "close"}) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, detail, headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)
