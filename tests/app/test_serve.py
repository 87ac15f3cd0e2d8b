"""`compensa serve`: loopback by default, several workers serve the same port, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from compensa.app.cli import serve

ROOT = Path(__file__).resolve().parents[2]


def test_binds_loopback_by_default():
    defaults = {p.name: p.default for p in serve.params}
    assert defaults["host"] == "127.0.0.1" and defaults["workers"] == 1


def test_two_workers_serve_and_stop(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "compensa", "serve", "--workers", "2", "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            answers = {client.post("/v1/consult", json={"pain": ["lower_back"]}).json()["kb_version"] for _ in range(20)}
        assert len(answers) == 1
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=20) == 0
