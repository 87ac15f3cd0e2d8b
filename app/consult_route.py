"""``POST /v1/consult`` answered in plain ASGI, in front of the FastAPI app.

The service's one hot route: every consultation went through FastAPI's whole stack (its error,
telemetry, body-limit and exit-stack middleware, the router, dependency solving, a ``Request``
object) for what is, once :class:`~compensa.app.middleware.BodyLimit` has buffered the body, a
parse, a consultation and a byte string. :class:`ConsultRoute` answers exactly ``POST /v1/consult``
itself and hands every other request to the app untouched. The FastAPI route stays registered:
``/openapi.json`` documents it, and requests this class does not take (a ``root_path``) still
reach it, with the same code behind both.

Errors are answered by the app's own exception handlers, looked up as Starlette does (the
exception's classes in MRO order, else the handler for ``Exception``), so a 415, 422, 503 or 500
has the same status, headers and bytes either way; after a 500 the exception is raised again, as
Starlette's ``ServerErrorMiddleware`` does, so the server logs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

__all__ = ["ConsultRoute", "json_bytes_response"]

PATH = "/v1/consult"


def json_bytes_response(body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The raw headers Starlette's ``Response(body, media_type="application/json")`` sends, and the body."""
    return [(b"content-length", str(len(body)).encode("latin-1")), (b"content-type", b"application/json")], body


class ConsultRoute:
    """Answer ``POST /v1/consult`` with ``answer(scope, body)`` (the report's JSON bytes); pass every
    other request to ``app``. ``handlers`` are the app's exception handlers (``app.exception_handlers``)."""

    def __init__(self, app, answer: Callable[[dict, bytes], Awaitable[bytes]], handlers: dict):
        self.app = app
        self.answer = answer
        self.handlers = handlers  # the app's own dict, read when an error happens

    def _handler(self, exc: Exception):
        """The handler Starlette would pick: by the exception's classes (ExceptionMiddleware), else the
        one for 500/Exception (ServerErrorMiddleware); ``None`` for none (not in this service)."""
        for cls in type(exc).__mro__:
            if cls is not Exception and cls in self.handlers:
                return self.handlers[cls], False
        return self.handlers.get(500, self.handlers.get(Exception)), True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or scope.get("root_path"):
            return await self.app(scope, receive, send)
        try:
            body = await _read_body(receive)
            headers, content = json_bytes_response(await self.answer(scope, body))
        except Exception as exc:  # noqa: BLE001 - answered by the app's own handlers (a 500 is raised again)
            return await self._failed(scope, receive, send, exc)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": content})
        except Exception as exc:  # the server's send failed once the answer had started
            handler, unexpected = self._handler(exc)
            if unexpected and handler is not None and is_async_callable(handler):
                await handler(Request(scope), exc)  # it logs; its answer is not sent (Starlette's way)
            raise

    async def _failed(self, scope, receive, send, exc: Exception) -> None:
        handler, unexpected = self._handler(exc)
        if handler is None:
            raise exc
        request = Request(scope) if unexpected else Request(scope, receive)
        if is_async_callable(handler):
            response = await handler(request, exc)
        else:
            response = await run_in_threadpool(handler, request, exc)
        if response is not None:
            await response(scope, receive, send)
        if unexpected:
            raise exc  # so the server logs it, as after Starlette's ServerErrorMiddleware
        exc.__traceback__ = None


async def _read_body(receive) -> bytes:
    """The whole request body (``BodyLimit`` has already read it: one message)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            from starlette.requests import ClientDisconnect

            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)

