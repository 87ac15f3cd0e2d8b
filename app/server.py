"""Run the HTTP service in one or several worker processes.

We create the listening socket ourselves and hand it to uvicorn: to ``uvicorn.Server`` for one
worker, to uvicorn's own supervisor (``uvicorn.supervisors.Multiprocess``) for several, which
starts the workers, pings them, and replaces one that dies while the others keep answering.
With several workers the parent only binds the address (``SO_REUSEPORT``, never listening) and
every worker listens on a socket of its own bound the same way
(:class:`~compensa.app.protocol.GuardedSocket` is rebuilt so in each worker): the kernel spreads
connections evenly. One socket shared by all workers was measured and rejected: whichever worker
woke first took every waiting connection (7 of 8 keep-alive clients on one of two workers), so
two workers used one core (~40 instead of ~65 req/s at concurrency 8). The price of one socket
per worker: connections still queued (not yet accepted) at a worker that dies are reset.

Nagle: asyncio only sets ``TCP_NODELAY`` on connections accepted from sockets created with
``IPPROTO_TCP``; uvicorn's own ``--workers`` sockets left Nagle's algorithm on, which met delayed
ACKs and cost ~40 ms per keep-alive request in our benchmark (52 ms instead of 9 ms at
concurrency 1). So the socket is created with ``IPPROTO_TCP``, and the protocol
(:class:`compensa.app.protocol.GuardedH11Protocol`) also sets ``TCP_NODELAY`` on every accepted
connection, whoever made the socket; ``tests/app/test_serve.py`` checks both.

Slow clients, overload and log floods are handled by the protocol (read timeouts, a connection
cap, a request limit; see :mod:`compensa.app.protocol`) and by :mod:`compensa.app.logs`. The
connection cap is kept below the open-file limit, whose soft value is raised to the hard one.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import signal
import socket

from compensa.app.logs import configure_logging, log_config
from compensa.app.protocol import GuardedSocket, Limits, reuse_port_socket

__all__ = ["APP", "check_address", "connection_cap", "listening_socket", "raise_open_file_limit", "run"]

log = logging.getLogger("compensa.server")

APP = "compensa.app.http:app_factory"
#: Seconds a stopping worker waits for requests in progress before it closes them.
GRACEFUL_SHUTDOWN = 10


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listening_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A bound TCP socket created with ``IPPROTO_TCP`` (so asyncio sets ``TCP_NODELAY``) that does not
    accept connections into the last descriptors (:class:`~compensa.app.protocol.GuardedSocket`);
    uvicorn (asyncio) makes it listen. ``reuse_port``: bound with ``SO_REUSEPORT``, so that every
    worker process gets a socket of its own on the same address."""
    if reuse_port:
        return reuse_port_socket(_family(host), socket.IPPROTO_TCP, (host, port))
    sock = GuardedSocket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def check_address(host: str, port: int) -> None:
    """Fail with a usage error (exit 2) when the address cannot be listened on (in use, bad host)."""
    from compensa.errors import UsageError

    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from exc


def _bind(host: str, port: int, reuse_port: bool) -> socket.socket:
    from compensa.errors import UsageError

    try:
        return listening_socket(host, port, reuse_port)
    except (OSError, OverflowError) as exc:  # e.g. taken since check_address()
        raise UsageError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from exc


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit (RLIMIT_NOFILE) to the hard one; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # pragma: no cover - e.g. above the kernel's nr_open
            pass
    return soft


def connection_cap(limits: Limits, open_files: int) -> Limits:
    """The limits with ``max_connections`` plus the refusals in progress safely below the open-file
    limit: a reserve of ``max(64, limit / 8)`` descriptors stays free for the worker's own files,
    pipes and sockets (and the accept guard's headroom). Raises UsageError when the limit is too
    low to serve at all."""
    from compensa.errors import UsageError

    if open_files == resource.RLIM_INFINITY:
        return limits
    reserve = max(64, open_files // 8)
    slack = min(limits.refusal_slack, reserve // 4)
    cap = min(limits.max_connections, open_files - reserve - slack)
    if cap < 1:
        raise UsageError(f"the open-file limit ({open_files}) is too low to serve: raise it (ulimit -n 1024)")
    if cap < limits.max_connections:
        log.warning("at most %d connections per worker (asked for %d): the open-file limit is %d",
                    cap, limits.max_connections, open_files)
    return dataclasses.replace(limits, max_connections=cap, refusal_slack=slack)


def run(host: str, port: int, workers: int = 1, log_level: str = "info", *, log_format: str = "text",
        limits: Limits | None = None) -> int:
    """Serve until interrupted (SIGINT/SIGTERM); returns the exit status (1: workers failed to start)."""
    from compensa.app.protocol import ServiceConfig

    configure_logging(log_format, log_level)
    limits = connection_cap(limits or Limits(), raise_open_file_limit())
    sock = _bind(host, port, reuse_port=workers > 1 and hasattr(socket, "SO_REUSEPORT"))
    shown = f"[{host}]" if ":" in host else host
    log.info("compensa serving on http://%s:%d/ (%d worker(s)); Ctrl-C to stop", shown, sock.getsockname()[1], workers)
    config = ServiceConfig(APP, factory=True, limits=limits, workers=workers, log_level=log_level,
                           log_config=log_config(log_format, log_level), access_log=True,
                           timeout_graceful_shutdown=GRACEFUL_SHUTDOWN)
    try:
        return _supervise(config, sock) if workers > 1 else _serve_here(config, sock)
    finally:
        sock.close()


def _stopped(signum, frame):
    raise SystemExit(0)


def _serve_here(config, sock: socket.socket) -> int:
    """One worker in this process. uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown;
    here that ends the process with status 0 (as the supervisor does), so exit hooks still run."""
    import uvicorn

    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits 3 when the app fails to start
        return 1 if exc.code else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _supervise(config, sock: socket.socket) -> int:
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()
    return 1 if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes) else 0
