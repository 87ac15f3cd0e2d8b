"""A JWKS endpoint for the CDS Hooks tests: a real HTTP server on a free loopback port, in a thread."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def jwks_endpoint(jwks: dict, hits: list | None = None, only_path: str | None = "/jwks.json") -> Iterator[str]:
    """Serve ``jwks`` at ``/jwks.json`` (any path when ``only_path`` is None); yields its URL. Every
    request path is appended to ``hits`` when given."""
    body = json.dumps(jwks).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if hits is not None:
                hits.append(self.path)
            if only_path is not None and self.path != only_path:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
