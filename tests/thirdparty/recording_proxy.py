"""A recording HTTP proxy on 127.0.0.1 in front of one server.

It forwards every request unchanged, records it as it arrived (method, path, headers, body) with the answer's
status and body, and passes a streamed answer on line by line as it comes, so the client sees the server's
timing. `content_seen` is set when the first reply text of a stream has passed: a test waits on it to act
mid-reply without guessing how long the server takes.
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

# Hop-by-hop headers, and the framing the proxy redoes itself: it answers in HTTP/1.0 and closes each connection,
# so the end of the body is the end of the connection.
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Exchange:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int = 0
    answer: bytearray = field(default_factory=bytearray)

    def stream_text(self) -> str:
        """The reply text of a streamed chat completion: every delta's content, joined."""
        text = []
        for line in self.answer.decode("utf-8").splitlines():
            if line.startswith("data: {"):
                for choice in json.loads(line[len("data: "):]).get("choices", []):
                    text.append((choice.get("delta") or {}).get("content") or "")
        return "".join(text)

    def stream_lines(self) -> list[str]:
        return [line for line in self.answer.decode("utf-8").splitlines() if line.startswith("data: ")]


class RecordingProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._prefix = parts.path.rstrip("/")
        self.exchanges: list[Exchange] = []
        self.content_seen = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._prefix}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                exchange = Exchange(self.command, self.path, list(self.headers.items()), body)
                proxy.exchanges.append(exchange)
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=600)
                try:
                    upstream.request(self.command, self.path, body=body,
                                     headers={k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED})
                    answer = upstream.getresponse()
                    exchange.status = answer.status
                    self.send_response_only(answer.status, answer.reason)
                    for name, value in answer.getheaders():
                        if name.lower() not in _NOT_FORWARDED:
                            self.send_header(name, value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    while line := answer.readline():
                        exchange.answer += line
                        self.wfile.write(line)
                        self.wfile.flush()
                        if line.startswith(b"data: {") and _has_content(line):
                            proxy.content_seen.set()
                finally:
                    upstream.close()

        return Handler


def _has_content(line: bytes) -> bool:
    chunk = json.loads(line[len(b"data: "):])
    return any((choice.get("delta") or {}).get("content") for choice in chunk.get("choices", []))
