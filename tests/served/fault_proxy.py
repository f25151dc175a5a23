"""An HTTP proxy on loopback in front of the real server that answers chosen faults (429 with Retry-After,
503) instead of forwarding, to test the served connector's retries against real answers otherwise."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class FaultProxy:
    """Forwards every request to `upstream`, except that each POST to /v1/completions first takes the next
    fault from `faults` ((status, Retry-After or None)) while there is one, or `always` when it is set."""

    def __init__(self, upstream: str, alias: str):
        self.upstream, self.alias = upstream.rstrip("/"), alias  # alias: the served model's id
        self.faults: list[tuple[int, str | None]] = []
        self.always: tuple[int, str | None] | None = None
        self.refuse_if = None  # or a test of the request body: True -> answered `always` (or 503)
        self.bodies: list[bytes] = []  # every completions body forwarded
        self.forwarded = 0
        self.faulted: list[tuple[int, float]] = []  # (status, monotonic time) of each fault answered
        self.requested_at: list[float] = []  # monotonic time of each completions request
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=60)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _next_fault(self, path: str, body: bytes):
        with self._lock:
            if path != "/v1/completions":
                return None
            self.requested_at.append(time.monotonic())
            if self.refuse_if is not None:
                fault = (self.always or (503, None)) if self.refuse_if(body) else None
            else:
                fault = self.faults.pop(0) if self.faults else self.always
            if fault is not None:
                self.faulted.append((fault[0], time.monotonic()))
            else:
                self.forwarded += 1
                self.bodies.append(body)
            return fault

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: bytes, headers: dict) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _relay(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy._next_fault(self.path, body) if method == "POST" else None
                if fault is not None:
                    status, retry_after = fault
                    headers = {"Content-Type": "application/json"}
                    if retry_after is not None:
                        headers["Retry-After"] = retry_after
                    self._answer(status, b'{"error": {"message": "injected fault"}}', headers)
                    return
                forward = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                answer = proxy._http.request(method, proxy.upstream + self.path, content=body, headers=forward)
                self._answer(answer.status_code, answer.content, {"Content-Type": "application/json"})

            def do_GET(self):
                self._relay("GET")

            def do_POST(self):
                self._relay("POST")

        return Handler
