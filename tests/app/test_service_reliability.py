"""The service stays up: a killed worker is replaced while the other answers; slow clients are
timed out; the connection cap and the request limit answer 503 with Retry-After; a flood of slow
clients under a tiny open-file limit neither floods the log nor stops the service; repeated log
records are rate-limited and every record carries the request id.

Real ``compensa serve`` processes on free loopback ports (see tests/app/test_serve.py), raw
sockets for the misbehaving clients; every loop is bounded and every server is stopped.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import threading
import time

import httpx
import pytest

from compensa.app.logs import JsonFormatter, RateLimitFilter, RequestIdFilter, TEXT_FORMAT, request_id_var
from tests.app.test_serve import serving

CASE = b'{"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"]}'


# raw HTTP clients


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and the seconds that took."""
    started, data = time.monotonic(), b""
    sock.settimeout(0.2)
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


def _post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def _header(response: bytes, name: str) -> str | None:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _read_response(sock: socket.socket, limit: float = 10) -> bytes:
    """One complete response with a Content-Length body (the connection may stay open)."""
    sock.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    length = int(_header(data, "content-length") or 0)
    while len(data.split(b"\r\n\r\n", 1)[1]) < length:
        data += sock.recv(65536)
    return data


# a killed worker


class _Consulting(threading.Thread):
    """Consults in a loop, a new connection per request (so a request can land on either worker),
    recording (time, status or the name of the transport error) until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url, self.outcomes, self.halt = url, [], threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                status = httpx.post(self.url + "/v1/consult", content=CASE, timeout=5,
                                    headers={"content-type": "application/json"}).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.outcomes.append((time.monotonic(), status))
            time.sleep(0.02)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)

    def between(self, start: float, end: float) -> list:
        return [s for t, s in self.outcomes if start < t < end]


def test_a_killed_worker_is_replaced_while_the_other_keeps_answering(tmp_path):
    with serving(tmp_path, workers=2) as served:
        first = served.workers()
        assert len(first) == 2
        consulting = _Consulting(served.url)
        consulting.start()
        try:
            time.sleep(0.5)
            killed_at = time.monotonic()
            os.kill(first[0], signal.SIGKILL)
            served.wait_for_log("Application startup complete", 3, timeout=60)  # the replacement is up
            replaced_at = time.monotonic()
            time.sleep(1.0)
        finally:
            consulting.stop()
        now = served.workers()
        assert len(now) == 2 and first[0] not in now and first[1] in now
        assert f"Child process [{first[0]}] died" in served.log()
        assert httpx.get(served.url + "/healthz", timeout=5).status_code == 200
    assert len(consulting.between(killed_at, replaced_at)) >= 5, "nothing answered while the worker was replaced"
    failures = [s for _, s in consulting.outcomes if s != 200]
    # at most the request the killed worker was answering fails, and only as a broken connection
    assert len(failures) <= 1 and all(isinstance(s, str) for s in failures), failures


# slow clients, caps and limits: one server with short timeouts and small limits


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    options = ("--header-timeout", "1", "--body-timeout", "1", "--max-connections", "16",
               "--max-requests-in-flight", "1")
    with serving(tmp_path_factory.mktemp("guarded"), *options) as served:
        yield served
        assert "Traceback" not in served.log()


def test_silent_half_sent_and_trickled_headers_get_408_and_are_closed(guarded):
    silent, half, trickle = (_connect(guarded.port) for _ in range(3))
    half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    results = {}

    def drip():  # a header byte every 0.1 s for 0.9 s: an idle timeout would wait until 1.9 s
        for byte in b"GET /healthz":
            trickle.send(bytes([byte]))
            time.sleep(0.1)
            if time.monotonic() - started > 0.85:
                break

    dripping = threading.Thread(target=drip)
    dripping.start()
    for name, sock in (("silent", silent), ("half", half), ("trickle", trickle)):
        results[name] = _read_until_closed(sock, 8)[0], time.monotonic() - started
    dripping.join(timeout=15)
    for name, (data, elapsed) in results.items():
        assert _status(data) == 408, (name, data)
        assert 0.8 < elapsed < 1.7, f"{name}: closed after {elapsed:.1f} s (header timeout 1 s)"
        sock = {"silent": silent, "half": half, "trickle": trickle}[name]
        sock.close()


def test_the_next_request_on_a_keep_alive_connection_has_a_header_deadline_too(guarded):
    with _connect(guarded.port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _status(_read_response(sock)) == 200
        time.sleep(0.5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half of the next request
        data, elapsed = _read_until_closed(sock, 8)
    assert _status(data) == 408 and 0.8 < elapsed < 3.0, (data, elapsed)


@pytest.mark.parametrize("trickle", [False, True])
def test_a_slow_body_gets_408_and_is_closed(guarded, trickle):
    with _connect(guarded.port) as sock:
        request = _post("/v1/consult", CASE)
        sock.sendall(request[: request.index(b"\r\n\r\n") + 4 + 5])  # headers and 5 bytes of the body
        started = time.monotonic()
        if trickle:  # a body byte every 0.1 s for 0.8 s: an idle timeout would wait until 1.8 s
            for byte in CASE[5:13]:
                sock.send(bytes([byte]))
                time.sleep(0.1)
        data, _ = _read_until_closed(sock, 8)
        elapsed = time.monotonic() - started
    assert _status(data) == 408 and 0.8 < elapsed < 1.6, (data, elapsed)
    assert httpx.post(guarded.url + "/v1/consult", content=CASE, timeout=5,
                      headers={"content-type": "application/json"}).status_code == 200


def test_over_the_connection_cap_a_client_gets_503_with_retry_after_and_is_closed(guarded):
    held = [_connect(guarded.port) for _ in range(16)]
    try:
        time.sleep(0.1)
        with _connect(guarded.port) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data, elapsed = _read_until_closed(extra, 5)
        assert _status(data) == 503 and _header(data, "retry-after") == "1", data
        assert elapsed < 0.5, "the refused connection was not closed at once"
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # the accepted ones are served
        assert _status(_read_response(held[0])) == 200
        with _connect(guarded.port) as silent:  # refused too, and told so within a second
            data, elapsed = _read_until_closed(silent, 5)
        assert _status(data) == 503 and elapsed < 2.0, (data, elapsed)
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(guarded.url + "/healthz", timeout=5).status_code == 200


def _burst(port: int, count: int) -> list[bytes]:
    """``count`` consultations sent at the same moment, on connections opened beforehand."""
    socks = [_connect(port) for _ in range(count)]
    try:
        for sock in socks:
            sock.sendall(_post("/v1/consult", CASE))
        return [_read_response(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def test_over_the_request_limit_requests_get_503_with_retry_after_and_nothing_else(guarded):
    replies: list[bytes] = []
    for _ in range(5):  # bursts of 12 simultaneous consultations with a limit of 1 in flight
        replies += _burst(guarded.port, 12)
        if any(_status(r) == 503 for r in replies):
            break
        time.sleep(0.5)
    assert {_status(r) for r in replies} == {200, 503}, [r[:40] for r in replies]
    assert all(_header(r, "retry-after") == "1" for r in replies if _status(r) == 503)
    assert httpx.get(guarded.url + "/healthz", timeout=5).status_code == 200


# a flood of slow clients under a tiny open-file limit


def _slow_clients(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that send half a request's headers and then nothing."""
    wave = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            wave.append(sock)
        except OSError:
            pass
    return wave


def _answers(url: str) -> bool:
    with httpx.Client(base_url=url, timeout=5) as client:
        consulted = client.post("/v1/consult", content=CASE, headers={"content-type": "application/json"})
        return client.get("/healthz").status_code == 200 and consulted.status_code == 200


def test_slow_clients_under_a_tiny_open_file_limit_neither_flood_the_log_nor_stop_the_service(tmp_path):
    with serving(tmp_path, "--header-timeout", "1", open_files=160) as served:
        before = len(served.log().encode())
        clients = []
        try:
            for _ in range(3):  # three waves of 150 slow clients, far more than 160 descriptors allow
                clients += _slow_clients(served.port, 150)
                time.sleep(0.5)
            refused = [_status(_read_until_closed(s, 0.05)[0]) for s in clients[-100:]].count(503)
        finally:
            for sock in clients:
                sock.close()
        time.sleep(1.5)
        assert _answers(served.url), "the service does not answer after the slow clients left"
        grown = len(served.log().encode()) - before
        assert served.stop() == 0
    assert refused > 0, "no client was refused with 503 over the connection cap"
    log = served.log()
    assert grown < 20_000, f"{grown} bytes of log for 450 slow clients"
    assert "Traceback" not in log and "out of system resource" not in log
    assert "suppressed" in log and "similar messages" in log


# log records: rate limit, request id, JSON


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def captured():
    """A logger whose records go through the request-id and rate-limit filters into a buffer."""
    clock, stream = _Clock(), io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    limiter = RateLimitFilter(burst=5, period=10, clock=clock)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(limiter)
    root = logging.getLogger("compensa.test")
    access = logging.getLogger("uvicorn.access")
    saved = [(lg, lg.handlers[:], lg.propagate, lg.level) for lg in (root, access)]
    for lg in (root, access):
        lg.handlers[:] = [handler]
        lg.propagate = False
        lg.setLevel(logging.INFO)
    yield root, access, stream, clock, limiter
    for lg, handlers, propagate, level in saved:
        lg.handlers[:], lg.propagate = handlers, propagate
        lg.setLevel(level)


def test_identical_records_are_rate_limited_then_summarised(captured):
    log, access, stream, clock, limiter = captured
    for fd in range(1000):
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            log.exception("accept() failed on descriptor %d", fd)
    log.warning("a different message")
    for port in range(50):
        access.info('%s - "GET /healthz HTTP/1.1" %d', f"127.0.0.1:{port}", 200)
    text = stream.getvalue()
    assert (text.count("accept() failed"), text.count("Traceback"), text.count("GET /healthz")) == (5, 5, 50)
    assert "a different message" in text
    assert "suppressed" not in text
    clock.now += 11
    log.error("accept() failed on descriptor %d", 7)  # a new period: the summary comes first
    text = stream.getvalue()
    assert "suppressed 995 similar messages (at most 5 per 10 s): accept() failed on descriptor %d" in text
    assert text.index("suppressed 995") < text.rindex("accept() failed on descriptor 7")


def test_messages_differing_only_in_numbers_count_as_the_same(captured):
    log, _, stream, clock, limiter = captured
    for pid in range(100):
        log.warning(f"Child process [{pid}] died")
    assert stream.getvalue().count("died") == 5
    limiter.flush()
    assert "suppressed 95 similar messages" in stream.getvalue()


def test_every_record_carries_the_request_id_in_text_and_json(captured):
    log, _, stream, _, _ = captured
    token = request_id_var.set("abc123")
    try:
        log.info("answered")
    finally:
        request_id_var.reset(token)
    log.info("outside a request")
    lines = stream.getvalue().splitlines()
    assert "request_id=abc123" in lines[0] and "request_id=-" in lines[1]
    record = logging.LogRecord("compensa.x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed here" and entry["level"] == "ERROR" and entry["request_id"] == "-"
    assert entry["logger"] == "compensa.x" and entry["time"].endswith("Z")
