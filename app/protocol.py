"""uvicorn's h11 protocol with the guards a public service needs (uvicorn 0.54 has none of them):

* **header timeout**: request headers must be complete within ``header_timeout`` seconds of the
  connection opening, or of the first byte of a later request on a keep-alive connection (between
  requests uvicorn's own keep-alive timeout applies); else ``408`` and the connection is closed;
* **body timeout**: the whole body must arrive within ``body_timeout`` seconds of the headers;
  else ``408`` (if no answer has started) and the connection is closed; the app sees a disconnect;
* **connection cap**: a worker keeps at most ``max_connections`` connections open; one more gets
  ``503`` with ``Retry-After`` and is closed, so slow clients cannot run the process out of file
  descriptors (EMFILE). The refusal is written when the request arrives (at most
  ``refusal_grace`` s later) so the client reads it rather than a reset; beyond
  ``refusal_slack`` refusals at once it is written and closed immediately;
* **request limit**: at most ``max_in_flight`` requests are inside the app per worker; one more
  gets ``503`` with ``Retry-After`` (uvicorn's ``limit_concurrency`` answers without it). The
  liveness and readiness probes are not limited;
* ``TCP_NODELAY`` on every accepted connection (see :mod:`compensa.app.server` for why);
* **accept guard** (:class:`GuardedSocket`, the listening socket): a connection accepted on a
  descriptor within :data:`FD_HEADROOM` of the open-file limit gets ``503`` at once and is closed,
  and accepting waits for the event loop's next turn; if ``accept()`` still fails with EMFILE, the
  socket rests for a second. (asyncio's accept loop otherwise retries ``accept()`` up to
  ``backlog`` times per wakeup after EMFILE, logging a traceback and scheduling a restart each
  time: the 157 MB log of the issue.)

Use it with :class:`ServiceConfig` (``ServiceConfig(app, limits=Limits(...), ...)``), which
carries the limits to every worker process.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import resource
import socket
import time
import weakref
from dataclasses import dataclass

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["FD_HEADROOM", "GuardedH11Protocol", "GuardedSocket", "Limits", "ServiceConfig"]

log = logging.getLogger("compensa.server")

#: Paths answered even when the request limit is reached (cheap probes an orchestrator relies on).
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})
#: Descriptors kept free above the last accepted connection, for the worker's own files and pipes.
FD_HEADROOM = 32
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


@dataclass(frozen=True)
class Limits:
    """Per-worker limits of :class:`GuardedH11Protocol` (times in seconds)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1000
    max_in_flight: int = 128
    retry_after: int = 1
    refusal_grace: float = 1.0
    refusal_slack: int = 64


class ServiceConfig(uvicorn.Config):
    """``uvicorn.Config`` that serves with :class:`GuardedH11Protocol` and carries its :class:`Limits`
    (the config is pickled to every worker process, so the limits travel with it)."""

    def __init__(self, app, *, limits: Limits | None = None, **kwargs) -> None:
        kwargs.update(http=GuardedH11Protocol, limit_concurrency=None, ws="none")  # no WebSocket routes
        super().__init__(app, **kwargs)
        self.limits = limits or Limits()


class _Gate:
    """Requests in flight in one server (one worker process)."""

    def __init__(self) -> None:
        self.in_flight = 0


_gates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _response(status: int, detail: str, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 response that closes the connection, written below h11."""
    body = json.dumps({"detail": detail}).encode()
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}", "content-type: application/json",
             f"content-length: {len(body)}", "connection: close"]
    if retry_after is not None:
        lines.append(f"retry-after: {retry_after}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


_REASONS = {408: "Request Timeout", 503: "Service Unavailable"}


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on a TCP transport's socket (no-op for other sockets)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - the peer already went away
            pass


class GuardedSocket(socket.socket):
    """A listening socket whose ``accept()`` keeps :data:`FD_HEADROOM` descriptors free (module doc).

    Passed to a spawned worker process (multiprocessing pickles it), a socket with ``SO_REUSEPORT``
    becomes a new socket of the worker's own, bound to the same address with ``SO_REUSEPORT``, so
    the kernel spreads connections over the workers; any other socket is shared (its descriptor is
    duplicated)."""

    _rest_until = 0.0

    def accept(self):
        """Accept a connection, unless the process is close to its open-file limit."""
        if time.monotonic() < self._rest_until:
            raise BlockingIOError(errno.EAGAIN, "resting after running out of descriptors")
        try:
            conn, address = super().accept()
        except OSError as exc:
            if exc.errno in _OUT_OF_RESOURCES:  # asyncio logs this one and retries in a second
                self._rest_until = time.monotonic() + 1.0
            raise
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft != resource.RLIM_INFINITY and conn.fileno() >= soft - FD_HEADROOM:
            _shed(conn, soft)
            raise BlockingIOError(errno.EAGAIN, "near the open-file limit")
        return conn, address

    def __reduce__(self):
        if hasattr(socket, "SO_REUSEPORT") and self.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
            return reuse_port_socket, (self.family, self.proto, self.getsockname())
        from multiprocessing.reduction import DupFd

        return _rebuild_guarded_socket, (DupFd(self.fileno()), self.family, self.type, self.proto)


def reuse_port_socket(family: int, proto: int, address: tuple) -> GuardedSocket:
    """A :class:`GuardedSocket` bound to ``address`` with ``SO_REUSEADDR`` and ``SO_REUSEPORT``."""
    sock = GuardedSocket(family, socket.SOCK_STREAM, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _rebuild_guarded_socket(duplicate, family, kind, proto) -> GuardedSocket:
    return GuardedSocket(family, kind, proto, fileno=duplicate.detach())


def _shed(conn: socket.socket, soft: int) -> None:
    log.warning("descriptor %d is near the open-file limit (%d): answering 503 and closing", conn.fileno(), soft)
    try:
        conn.setblocking(False)
        conn.send(_response(503, "the server is out of connections; retry later", 1))
    except OSError:
        pass
    finally:
        conn.close()


class GuardedH11Protocol(H11Protocol):
    """:class:`H11Protocol` with read timeouts, a connection cap and a request limit (module doc)."""

    def __init__(self, config, server_state, app_state, _loop=None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: Limits = getattr(config, "limits", None) or Limits()
        self.gate: _Gate = _gates.setdefault(server_state, _Gate())
        self.inner_app = self.app
        self.app = self._admit
        self._timer: asyncio.TimerHandle | None = None
        self._awaiting: str | None = None  # "headers" or "body" while a read deadline runs
        self._refused = False

    # connection life cycle

    def connection_made(self, transport) -> None:
        """Accept the connection (start the header deadline) or, over the cap, refuse it with 503."""
        already_open = len(self.connections)
        super().connection_made(transport)
        set_nodelay(transport)
        if already_open >= self.limits.max_connections:
            self._refuse(at_once=already_open >= self.limits.max_connections + self.limits.refusal_slack)
        else:
            self._await("headers")

    def data_received(self, data: bytes) -> None:
        """Feed h11 as uvicorn does; a refused connection answers its 503 now."""
        if self._refused:
            self._write_refusal()
            return
        super().data_received(data)

    def handle_events(self) -> None:
        """Let uvicorn process the events, then move the read deadline to the new state."""
        super().handle_events()
        self._track_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the read deadline, then let uvicorn clean up."""
        self._await(None)
        super().connection_lost(exc)

    # read deadlines

    def _track_reading(self) -> None:
        if self.transport.is_closing():
            self._await(None)
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._await("body")
        elif state is h11.IDLE:
            if self.timeout_keep_alive_task is None:  # part of a request arrived: headers are due
                self._await("headers")
        else:  # DONE, MUST_CLOSE, CLOSED: the request is in; the app's time is not a read timeout
            self._await(None)

    def _await(self, what: str | None) -> None:
        if what is not None and what == self._awaiting and self._timer is not None:
            return  # the deadline runs from when this part of the request became due
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._awaiting = what
        if what is not None:
            seconds = self.limits.header_timeout if what == "headers" else self.limits.body_timeout
            self._timer = self.loop.call_later(seconds, self._read_timed_out)

    def _read_timed_out(self) -> None:
        what, self._timer, self._awaiting = self._awaiting, None, None
        if self.transport.is_closing() or what is None:
            return
        seconds = self.limits.header_timeout if what == "headers" else self.limits.body_timeout
        log.warning("closed a connection from %s: request %s not received within %g s",
                    _peer(self.client), what, seconds)
        cycle = self.cycle if what == "body" else None
        if cycle is None or not cycle.response_started:
            self.transport.write(_response(408, f"request {what} not received within {seconds:g} s"))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() answers http.disconnect from now on
            cycle.message_event.set()
        self.transport.close()

    # connection cap

    def _refuse(self, at_once: bool) -> None:
        self._refused = True
        log.warning("connection limit reached (%d open in this worker): answering 503",
                    self.limits.max_connections)
        if at_once:
            self._write_refusal()
        else:
            self._timer = self.loop.call_later(self.limits.refusal_grace, self._write_refusal)

    def _write_refusal(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.transport.is_closing():
            self.transport.write(_response(503, "too many connections; retry later", self.limits.retry_after))
            self.transport.close()

    # request limit

    async def _admit(self, scope, receive, send) -> None:
        """The ASGI app as uvicorn sees it: the real app, or 503 + Retry-After over the limit."""
        gate = self.gate
        if gate.in_flight >= self.limits.max_in_flight and scope.get("path") not in UNLIMITED_PATHS:
            log.warning("request limit reached (%d in flight in this worker): answering 503", gate.in_flight)
            await _busy(send, self.limits.retry_after)
            return
        gate.in_flight += 1
        try:
            await self.inner_app(scope, receive, send)
        finally:
            gate.in_flight -= 1


async def _busy(send, retry_after: int) -> None:
    body = json.dumps({"detail": "the service is busy; retry later"}).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(retry_after).encode())]})
    await send({"type": "http.response.body", "body": body})


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"
