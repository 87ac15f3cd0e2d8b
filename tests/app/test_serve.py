"""`compensa serve`: loopback by default, several workers serve the same port, clean shutdown,
TCP_NODELAY on accepted connections, JSON logs, bad options refused with exit 2.

The helpers here (:func:`serving`, :class:`Served`) start a real ``compensa serve`` process on a
free loopback port and always stop it; tests/app/test_service_reliability.py uses them too.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from compensa.app.cli import main, serve

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A running ``compensa serve`` process: its port, its log (stderr) and how to stop it."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process, self.port, self.log_path = process, port, log_path
        self.url = f"http://127.0.0.1:{port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            assert self.process.poll() is None, f"server exited ({self.process.returncode}):\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"{text!r} x{count} not logged in {timeout} s:\n{self.log()[-3000:]}"
            time.sleep(0.1)

    def wait_ready(self, workers: int = 1, timeout: float = 90) -> None:
        self.wait_for_log("Application startup complete", workers, timeout)
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server started but /healthz does not answer"
            time.sleep(0.1)

    def workers(self) -> list[int]:
        """The pids of the worker processes (children of the server that run uvicorn)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.process.pid and b"resource_tracker" not in cmdline:
                pids.append(int(entry.name))
        return sorted(pids)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM the whole process group; SIGKILL it if it does not exit in time. Returns the status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return self.process.returncode


@contextmanager
def serving(directory: Path, *options: str, workers: int = 1, open_files: int | None = None):
    """Run ``compensa serve`` with ``options`` until the block ends (the process is always stopped)."""
    port = free_port()
    log_path = directory / f"serve-{port}.log"

    def limit_open_files():  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "compensa", "serve", "--port", str(port), "--workers", str(workers), *options],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
            preexec_fn=limit_open_files if open_files else None)
    served = Served(process, port, log_path)
    try:
        served.wait_ready(workers)
        yield served
    finally:
        served.stop()


def test_binds_loopback_by_default():
    defaults = {p.name: p.default for p in serve.params}
    assert defaults["host"] == "127.0.0.1" and defaults["workers"] == 1
    assert defaults["header_timeout"] == 10 and defaults["body_timeout"] == 30 and defaults["log_format"] == "text"


def _keep_alive_latencies(client: httpx.Client, count: int = 25) -> list[float]:
    """Milliseconds per GET /healthz on one keep-alive connection (Nagle + delayed ACK add ~40 ms)."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _json_records(log: str) -> list[dict]:
    records = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is JSON
    assert any("compensa serving on http://127.0.0.1:" in r["message"] for r in records)
    missing = [r for r in records if not {"time", "level", "logger", "message", "request_id"} <= r.keys()]
    assert not missing, missing[:3]
    return records


def test_two_workers_serve_answer_fast_log_json_lines_and_stop_cleanly(tmp_path):
    with serving(tmp_path, "--log-format", "json", workers=2) as served:
        assert len(served.workers()) == 2
        with httpx.Client(base_url=served.url) as client:
            replies = [client.post("/v1/consult", json={"pain": ["lower_back"]}) for _ in range(20)]
            latency = statistics.median(_keep_alive_latencies(client))
        status = served.stop()
    assert status == 0
    assert len({r.json()["kb_version"] for r in replies}) == 1
    assert latency < 30, f"keep-alive requests take {latency:.0f} ms: is TCP_NODELAY off?"
    _check_access_lines(_json_records(served.log()), replies)


def _check_access_lines(records: list[dict], replies: list[httpx.Response]) -> None:
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert len(access) >= 45 and any("POST /v1/consult" in r["message"] for r in access)
    request_ids = {r.headers.get("x-request-id") for r in replies} - {None}
    assert request_ids <= {r["request_id"] for r in access}, "access lines do not carry the request id"
    assert not any("Evidence(" in r["message"] for r in records), "case content in the log"


def _guarded_server(sock: socket.socket):
    import uvicorn

    from compensa.app.protocol import ServiceConfig

    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    server = uvicorn.Server(ServiceConfig(app, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "in-process server did not start"
        time.sleep(0.01)
    return server, thread


@pytest.mark.parametrize("made_by", ["listening_socket", "plain socket (proto 0)"])
def test_accepted_connections_have_tcp_nodelay(made_by):
    from compensa.app.server import listening_socket

    if made_by == "listening_socket":
        sock = listening_socket("127.0.0.1", 0)
        assert sock.proto == socket.IPPROTO_TCP
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
    server, thread = _guarded_server(sock)
    try:
        with socket.create_connection(sock.getsockname(), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(1024).startswith(b"HTTP/1.1 200")
            (connection,) = server.server_state.connections
            accepted = connection.transport.get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.mark.parametrize("option, value", [("--header-timeout", "0"), ("--body-timeout", "-1"),
                                           ("--max-connections", "0"), ("--max-requests-in-flight", "x"),
                                           ("--log-format", "xml"), ("--log-level", "loud")])
def test_bad_serve_options_exit_2_naming_the_option(capsys, option, value):
    code = main(["serve", option, value])
    err = capsys.readouterr().err
    assert code == 2 and option in err and "Traceback" not in err


def test_the_connection_cap_stays_below_the_open_file_limit():
    from compensa.app.protocol import Limits
    from compensa.app.server import connection_cap
    from compensa.errors import UsageError

    assert connection_cap(Limits(max_connections=1000), 1 << 20).max_connections == 1000
    tight = connection_cap(Limits(max_connections=5000), 1024)
    assert tight.max_connections + tight.refusal_slack <= 1024 - 64
    small = connection_cap(Limits(), 160)
    assert 0 < small.max_connections + small.refusal_slack <= 160 - 32
    with pytest.raises(UsageError, match="open-file limit"):
        connection_cap(Limits(), 40)


def test_the_soft_open_file_limit_is_raised_to_the_hard_one():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip(f"hard open-file limit {hard}: nothing to raise to")
    probe = ("import resource; from compensa.app.server import raise_open_file_limit; "
             "print(raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)))
    assert done.stdout.split() == [str(hard), str(hard)], done.stderr
