"""ASGI middleware of the service, outermost first: request id, security headers, API keys, body limit.

- :class:`RequestId` takes the client's ``X-Request-ID`` when it is a safe token (letters, digits,
  ``._:-``, at most 64) or makes one; it is set for logging (``compensa.app.logs.request_id_var``)
  and sent back on **every** response, the 413s and 500s included.
- :class:`SecurityHeaders` sends ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy`` on every
  response, and on HTML pages a Content-Security-Policy with no inline script and no eval, and
  ``frame-ancestors`` from a setting (default ``'self'``; an EHR's origin is added there to embed it).
- :class:`ApiKeys` (only when keys are set) answers 401 to a request without a valid
  ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``, except for the probes, the pages and their
  assets, and CDS Hooks (whose requests carry the EHR's JWT instead). It runs before the body is read.
- :class:`BodyLimit` reads the whole body first and refuses more than the limit with 413, so a
  chunked body that grows past it gets a 413 too and the app never sees a partial body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable, Sequence

__all__ = ["ApiKeys", "BodyLimit", "RequestId", "SecurityHeaders", "content_security_policy"]

_SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value
    return None


async def answer_json(send, status: int, detail: object, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """Send a small JSON response straight from ASGI middleware."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class RequestId:
    """Give every request an id (the client's, if safe) and put it on every response and log line."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from compensa.app.logs import request_id_var

        given = (_header(scope, b"x-request-id") or b"").decode("latin-1").strip()
        rid = given if _SAFE_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


def content_security_policy(frame_ancestors: str = "'self'") -> str:
    """The page's CSP: scripts, styles and connections from this origin only; no inline script or eval."""
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            f"frame-ancestors {frame_ancestors}")


class SecurityHeaders:
    """nosniff and Referrer-Policy everywhere; CSP with frame-ancestors on HTML responses."""

    def __init__(self, app, frame_ancestors: str = "'self'"):
        self.app = app
        self.csp = content_security_policy(frame_ancestors).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith((b"text/html", b"image/svg")):
                    headers.append((b"content-security-policy", self.csp))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ApiKeys:
    """Refuse (401, JSON ``{"detail", "request_id"}``, ``WWW-Authenticate``) every request that does not
    carry one of ``keys`` as ``X-API-Key`` or ``Authorization: Bearer``, except the paths in
    :attr:`OPEN` and under :attr:`OPEN_PREFIXES`. Keys are compared in constant time
    (:func:`hmac.compare_digest`, every key tried) and never logged or echoed."""

    #: Probes and pages: the pages are served without a key (their API calls need one).
    OPEN = frozenset({"/healthz", "/readyz", "/", "/quiz", "/kb", "/cds-services"})
    #: Page assets, and CDS Hooks (an EHR authenticates with a JWT, checked by the CDS routes).
    OPEN_PREFIXES = ("/static/", "/cds-services/")

    def __init__(self, app, keys: Iterable[str]):
        self.app = app
        # compared as SHA-256 digests: compare_digest's time can tell a key's length, a digest's cannot
        self.keys = tuple(hashlib.sha256(key.encode()).digest() for key in keys)
        if not self.keys:
            raise ValueError("ApiKeys needs at least one key")

    def _valid(self, given: bytes) -> bool:
        digest = hashlib.sha256(given).digest()
        found = False
        for key in self.keys:  # no early exit: the time does not tell which key (or whether one) matched
            found |= hmac.compare_digest(digest, key)
        return found

    def _given(self, scope) -> list[bytes]:
        given = []
        for name, value in scope.get("headers") or ():
            if name == b"x-api-key":
                given.append(value.strip())
            elif name == b"authorization":
                scheme, _, token = value.strip().partition(b" ")
                if scheme.lower() == b"bearer":
                    given.append(token.strip())
        return given

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path in self.OPEN or path.startswith(self.OPEN_PREFIXES):
            return await self.app(scope, receive, send)
        given = self._given(scope)
        if any(self._valid(value) for value in given):
            return await self.app(scope, receive, send)
        if given:
            detail, challenge = "the API key is not valid", b'Bearer realm="compensa", error="invalid_token"'
        else:
            detail, challenge = ("an API key is required: send it as X-API-Key: <key> or Authorization: Bearer <key>",
                                 b'Bearer realm="compensa"')
        rid = scope.get("state", {}).get("request_id", "-")
        body = json.dumps({"detail": detail, "request_id": rid}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", challenge), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Read the whole body first; refuse more than ``limit`` bytes with 413 (400 for a bad Content-Length).

    ``larger`` gives some path prefixes a limit of their own: a CDS Hooks request carries the EHR's
    prefetched FHIR resources, far bigger than a case."""

    def __init__(self, app, limit: int, larger: dict[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.larger = tuple((larger or {}).items())

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.larger:
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self._limit_for(scope.get("path", "")) if self.larger else self.limit
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return await answer_json(send, 400, "malformed Content-Length header")
            if int(declared) > limit:
                return await self._refuse(send, limit)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await self._refuse(send, limit)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send, limit: int):
        await answer_json(send, 413, f"request body larger than {limit} bytes")
