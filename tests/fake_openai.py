"""A scriptable fake of the OpenAI chat-completions HTTP API, for tests and manual runs.

The fake is a real HTTP server on 127.0.0.1, so the project's client, CLI and TUI are tested
through the genuine ``openai`` SDK and its HTTP stack instead of a patched SDK. Tests queue
scripted responses (:class:`Reply`, :class:`Error`, :class:`Hang`); each
``POST /v1/chat/completions`` consumes one, in order::

    with FakeOpenAI() as fake:
        fake.queue(Reply("Hello there"), Error(429, retry_after=2))
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
        ...
        assert fake.last_body["model"] == "gpt-4o-mini"

Standard library only: besides being imported by tests, the module runs as a standalone
server (``python tests/fake_openai.py --reply "Hi"``) that prints its base URL and serves
until killed, for subprocess tests and for pointing the TUI at by hand.

Wire details that matter to the SDK:

* Streams use HTTP/1.1 chunked transfer encoding. With ``Connection: close`` and no length
  the end of the body is simply EOF, so a dropped connection would look to the SDK like a
  normal end of stream; with chunked encoding an early close is an incomplete chunked read,
  which the SDK reports as ``openai.APIConnectionError``.
* ``FakeOpenAI(interrupting=True)`` serves like llama.cpp's server: any request arriving while a reply
  streams ends that stream with ``data: [DONE]`` and no finish_reason.
* Each SSE event is written as its own HTTP chunk, immediately, with Nagle disabled, so the
  client sees deltas as they are produced rather than in one burst at the end.
* ``Reply(tool_calls=...)`` streams ``delta.tool_calls`` after the content, one delta per entry, each entry
  sent as written: :func:`tool_call` splits one call as OpenAI streams it (id and name first, then the
  arguments in pieces), :func:`whole_calls` sends each call in one delta the way Ollama does (every one with
  index 0, told apart only by id), and entries written by hand make any other shape (a name repeated in every
  fragment, an id left out). ``FakeOpenAI(rejects_tools=...)`` answers any request carrying ``tools`` with the
  HTTP 400 a server without tool support gives.
* ``Reply(reasoning=...)`` streams the model's reasoning before its content, as OpenAI-compatible
  servers do: in ``delta.reasoning_content`` (DeepSeek, llama.cpp's server, older vLLM) or
  ``delta.reasoning`` (OpenRouter, vLLM after its rename), or both at once with the same text as
  servers between the two names do. Its tokens are counted inside ``completion_tokens`` and reported as
  ``usage.completion_tokens_details.reasoning_tokens``, as OpenAI reports them.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["DEFAULT_MODELS", "OLLAMA_NO_TOOLS", "Error", "FakeOpenAI", "Hang", "RecordedRequest", "Reply",
           "split_words", "tool_call", "whole_calls"]

DEFAULT_MODELS: tuple[str, ...] = ("gpt-4o-mini", "fake-local-model")

NO_SCRIPT_MESSAGE = "fake server: no scripted response"
# What Ollama answers a request with tools for a model whose template has none.
OLLAMA_NO_TOOLS = "registry.ollama.ai/library/gemma:2b does not support tools"

ReasoningField = Literal["reasoning_content", "reasoning", "both"]

# Leading whitespace stays with the following word, like the tokens a real model streams
# (" world"), and trailing whitespace survives, so "".join(pieces) == text always holds.
_WORD_PIECES = re.compile(r"\s*\S+|\s+")


def split_words(text: str) -> list[str]:
    """Split ``text`` into word-ish pieces that keep their spaces and join back to ``text``."""
    return _WORD_PIECES.findall(text)


def tool_call(call_id: str, name: str, arguments: str, *, index: int = 0, pieces: int = 3) -> list[dict[str, Any]]:
    """One call as OpenAI streams it: a fragment with its index, id, type and name (and no arguments yet), then
    its arguments in ``pieces`` fragments carrying only the index."""
    size = max(1, -(-len(arguments) // max(pieces, 1)))
    parts = [arguments[i:i + size] for i in range(0, len(arguments), size)]
    first = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    return [first, *({"index": index, "function": {"arguments": part}} for part in parts)]


def whole_calls(*calls: tuple[str, str, str]) -> list[dict[str, Any]]:
    """Calls ``(id, name, arguments)`` each whole in one fragment, every one with index 0, as Ollama sends
    parallel calls."""
    return [{"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in calls]


@dataclass
class Reply:
    """A successful chat completion: streamed for ``stream: true`` requests, one JSON object otherwise.

    The fault fields (``drop_after``, ``error_in_stream``, ``malformed_after``) shape the stream.
    For a ``stream: false`` request they map onto the closest non-streamed fault:
    ``drop_after`` closes the connection before any response, ``malformed_after`` sends a
    body that is not JSON, and ``error_in_stream`` becomes an HTTP 500 with that error object.
    """

    chunks: list[str] | str = "Hello!"
    """Content deltas; a ``str`` is split into word-ish pieces (see :func:`split_words`)."""
    reasoning: list[str] | str = ""
    """Reasoning deltas, streamed before the content; a ``str`` is split like ``chunks``."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Entries of ``delta.tool_calls``, streamed after the content, one per delta, each as written."""
    reasoning_field: ReasoningField = "reasoning_content"
    """The delta field the reasoning goes in; ``both`` sends it in both fields, the same text twice."""
    reasoning_tokens: int | None = None
    """Reported as ``usage.completion_tokens_details.reasoning_tokens``; ``None`` means the number of
    reasoning pieces."""
    finish_reason: str | None = "stop"
    """Sent in a final chunk with an empty delta; ``None`` leaves that chunk out entirely."""
    prompt_tokens: int = 10
    completion_tokens: int | None = None
    """``None`` means the number of content pieces plus the reasoning tokens (part of the completion, as
    OpenAI counts them)."""
    cached_tokens: int = 0
    """Reported as ``usage.prompt_tokens_details.cached_tokens``."""
    send_usage: bool = True
    """The usage chunk (``choices: []``) is sent only if the request asked for
    ``stream_options.include_usage`` and this is true."""
    send_done: bool = True
    """Whether ``data: [DONE]`` ends the stream."""
    drop_after: int | None = None
    """Close the connection abruptly after this many deltas, reasoning then content (no finish, usage or [DONE])."""
    chunk_delay: float = 0.0
    """Seconds to sleep between chunks."""
    first_chunk_delay: float = 0.0
    """Seconds to sleep after the response headers and before the first chunk."""
    error_in_stream: dict[str, Any] | None = None
    """The inner error object; after the content chunks ``data: {"error": <this>}`` is sent and
    the stream ends (llama.cpp reports failures mid-stream this way)."""
    malformed_after: int | None = None
    """After this many deltas (reasoning, then content) send ``data: {not json`` and end the stream."""
    model: str | None = None
    """The ``model`` field of the response; ``None`` echoes the model the request asked for."""
    hold: threading.Event | None = field(default=None, compare=False)
    """When given, the stream pauses after ``hold_after`` deltas (reasoning, then content) until this event is
    set, so a test can act while a reply is certainly in flight."""
    hold_after: int = 1
    chunked: bool = True
    """Stream with chunked transfer encoding. ``False`` sends ``Connection: close`` and no length, as many
    proxies do: the body ends at EOF, so a stream cut short (``drop_after``, or no finish chunk and no
    ``[DONE]``) looks to the client like a normal end."""

    def pieces(self) -> list[str]:
        """The content deltas this reply streams."""
        return split_words(self.chunks) if isinstance(self.chunks, str) else list(self.chunks)

    def text(self) -> str:
        """The whole content, as a non-streamed response carries it."""
        return "".join(self.pieces())

    def reasoning_pieces(self) -> list[str]:
        """The reasoning deltas this reply streams before its content."""
        return split_words(self.reasoning) if isinstance(self.reasoning, str) else list(self.reasoning)

    def reasoning_fields(self) -> tuple[str, ...]:
        """The fields the reasoning is sent in."""
        return ("reasoning_content", "reasoning") if self.reasoning_field == "both" else (self.reasoning_field,)

    def deltas(self) -> Iterator[dict[str, Any]]:
        """Every delta of the stream in order, the reasoning's, the content's, then the tool calls', each taken
        as it is sent."""
        for piece in self.reasoning_pieces():
            yield {name: piece for name in self.reasoning_fields()}
        for piece in self.pieces():
            yield {"content": piece}
        for entry in self.tool_calls:
            yield {"tool_calls": [entry]}

    def delta_count(self) -> int:
        return len(self.reasoning_pieces()) + len(self.pieces()) + len(self.tool_calls)

    def usage(self) -> dict[str, Any]:
        """The ``usage`` object, shaped like the real API's."""
        reasoning = len(self.reasoning_pieces()) if self.reasoning_tokens is None else self.reasoning_tokens
        completion = len(self.pieces()) + reasoning if self.completion_tokens is None else self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


@dataclass
class Error:
    """An HTTP error response with an OpenAI-style body ``{"error": {message, type, param, code}}``."""

    status: int
    message: str = "error"
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None
    """When given, sent as the ``Retry-After`` header, in seconds."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. ``{"x-should-retry": "false"}``."""

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass(eq=False)
class Hang:
    """Accept the request and send nothing until released, then close the connection.

    A hang ends when :meth:`release` is called on it, when :meth:`FakeOpenAI.release` is
    called, or when the server stops. The client then sees a connection closed without a
    response (unless its own timeout fired first). A Hang released before it is served
    closes its connection at once.
    """

    _released: threading.Event = field(default_factory=threading.Event, init=False, repr=False, compare=False)

    def release(self) -> None:
        """Let this hang finish."""
        self._released.set()

    @property
    def released(self) -> bool:
        """Whether this hang has been released."""
        return self._released.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until released or ``timeout`` elapses; returns whether it was released."""
        return self._released.wait(timeout)


Scripted = Reply | Error | Hang


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    """The request path including any query string, e.g. ``/v1/chat/completions``."""
    headers: dict[str, str]
    """Header names lower-cased; a repeated header keeps its last value."""
    body: dict[str, Any] | None
    """The parsed JSON body; ``None`` if there was no body or it was not a JSON object."""


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its fake and its open connections, and stays quiet."""

    daemon_threads = True
    # Without reuse a test that restarts on a fixed port could hit TIME_WAIT.
    allow_reuse_address = True

    def __init__(self, fake: FakeOpenAI, address: tuple[str, int]) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up mid-stream and stop() tears connections down on purpose; those
        # are expected, so only genuine bugs in the fake reach stderr.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


class _Dropped(Exception):
    """Raised inside the handler to abandon a response and close the connection."""


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the fake; one instance per connection, looping over keep-alive requests."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    # Small SSE writes would otherwise wait for the client's delayed ACK (~40 ms each).
    disable_nagle_algorithm = True
    server: _Server
    request_id: str = ""
    chunked: bool = True

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature is inherited
        pass

    def version_string(self) -> str:
        # The default appends the Python version, which no real API server reports.
        return self.server_version

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    @property
    def fake(self) -> FakeOpenAI:
        return self.server.fake

    def _dispatch(self) -> None:
        raw = self._read_body()
        body: dict[str, Any] | None = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            body = parsed if isinstance(parsed, dict) else None
        self.fake._interrupt_streams()
        self.fake._record(RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        ))
        self.request_id = self.fake._next_request_id()

        route = self.path.split("?", 1)[0].rstrip("/")
        try:
            if route.endswith("/chat/completions") and self.command == "POST":
                self._chat(body)
            elif route.endswith("/models") and self.command == "GET":
                self._send_json(200, {
                    "object": "list",
                    "data": [self.fake._model_entry(m) for m in self.fake.models],
                })
            elif route == "/props" and self.command == "GET" and self.fake.props_n_ctx is not None:
                # llama.cpp's server: the slots' settings, n_ctx among them.
                self._send_json(200, {"default_generation_settings": {"id": 0, "n_ctx": self.fake.props_n_ctx},
                                      "total_slots": 1, "model_path": "fake.gguf"})
            elif route == "/api/ps" and self.command == "GET" and self.fake.ollama_running is not None:
                self._send_json(200, {"models": [{"name": m, "model": m, "context_length": n}
                                                 for m, n in self.fake.ollama_running.items()]})
            elif route == "/api/show" and self.command == "POST" and self.fake.ollama_show is not None:
                name = (body or {}).get("model")
                if name in self.fake.ollama_show:
                    self._send_json(200, self.fake.ollama_show[name])
                else:
                    self._send_json(404, {"error": f"model '{name}' not found"})
            else:
                self._send_error(Error(404, f"fake server: no route for {self.command} {self.path}",
                                       code="unknown_url"))
        except _Dropped:
            self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers, if any, end with a blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    # -- responses ---------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error: Error) -> None:
        headers = dict(error.headers)
        if error.retry_after is not None:
            # Whole seconds are written without a fraction, as real servers do.
            value = error.retry_after
            if not any(name.lower() == "retry-after" for name in headers):
                headers["Retry-After"] = str(int(value)) if float(value).is_integer() else str(value)
        self._send_json(error.status, error.body(), headers)

    def _chat(self, body: dict[str, Any] | None) -> None:
        if self.fake.rejects_tools is not None and (body or {}).get("tools"):
            self._send_error(Error(400, self.fake.rejects_tools, type="api_error"))
            return
        scripted = self.fake._next_scripted()
        if scripted is None:
            self._send_error(Error(500, NO_SCRIPT_MESSAGE, type="server_error", code="no_scripted_response"))
        elif isinstance(scripted, Error):
            self._send_error(scripted)
        elif isinstance(scripted, Hang):
            self._hang(scripted)
        elif isinstance(scripted, Reply):
            request = body or {}
            if request.get("stream"):
                self._stream(scripted, request)
            else:
                self._complete(scripted, request)
        else:  # pragma: no cover - queue() type-checks, this guards against a bad default
            raise TypeError(f"not a scripted response: {scripted!r}")

    def _hang(self, hang: Hang) -> None:
        fake = self.fake
        with fake._lock:
            fake._hanging.add(hang)
        try:
            # Short waits so stop() is noticed even if it races with registration.
            while not hang.wait(0.05) and not fake._stopping.is_set():
                pass
        finally:
            with fake._lock:
                fake._hanging.discard(hang)
        raise _Dropped

    def _wait_for(self, event: threading.Event) -> None:
        """Wait until `event` is set, giving up the response if the server is stopping."""
        while not event.wait(0.05):
            if self.fake._stopping.is_set():
                raise _Dropped

    def _sleep(self, seconds: float) -> None:
        """Sleep, but give up the response at once if the server is stopping."""
        if seconds > 0 and self.fake._stopping.wait(seconds):
            raise _Dropped

    def _complete(self, reply: Reply, request: dict[str, Any]) -> None:
        self._sleep(reply.first_chunk_delay)
        if reply.drop_after is not None:
            raise _Dropped
        if reply.error_in_stream is not None:
            self._send_json(500, {"error": reply.error_in_stream})
            return
        if reply.malformed_after is not None:
            data = b"{not json"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", self.request_id)
            self.end_headers()
            self.wfile.write(data)
            return
        self._send_json(200, {
            "id": self.fake._completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or request.get("model") or "unknown",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": reply.text(), "refusal": None, "annotations": [],
                            **({name: "".join(reply.reasoning_pieces()) for name in reply.reasoning_fields()}
                               if reply.reasoning_pieces() else {})},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }],
            "usage": reply.usage(),
            "service_tier": "default",
            "system_fingerprint": None,
        })

    def _write_chunk(self, data: bytes) -> None:
        # One HTTP chunk per SSE event, so each event is on the wire as soon as it exists. Without chunked
        # encoding the body is the bare bytes, and its end is the connection's close.
        if not self.chunked:
            if data:
                self.wfile.write(data)
            else:
                self.close_connection = True
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        self._write_chunk(f"data: {text}\n\n".encode())

    def _stream(self, reply: Reply, request: dict[str, Any]) -> None:
        options = request.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        chunk_id = self.fake._completion_id()
        created = int(time.time())
        model = reply.model or request.get("model") or "unknown"

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            obj: dict[str, Any] = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                # The real API puts "usage": null on every chunk but the last when usage is requested.
                obj["usage"] = None
            return obj

        self.chunked = reply.chunked
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.send_header("x-request-id", self.request_id)
        self.end_headers()

        interrupted = self.fake._stream_started()
        try:
            self._stream_events(reply, chunk, include_usage, interrupted, chunk_id, created, model)
        finally:
            self.fake._stream_ended(interrupted)

    def _stream_events(self, reply: Reply, chunk: Any, include_usage: bool, interrupted: threading.Event,
                       chunk_id: str, created: int, model: str) -> None:
        self._sleep(reply.first_chunk_delay)
        self._event(chunk({"role": "assistant", "content": ""}))
        for sent, delta in enumerate(reply.deltas()):
            if reply.drop_after is not None and sent >= reply.drop_after:
                raise _Dropped
            if reply.malformed_after is not None and sent >= reply.malformed_after:
                return self._end_stream_malformed()
            if reply.hold is not None and sent == reply.hold_after:
                self._wait_for(reply.hold)
            self._sleep(reply.chunk_delay)
            if interrupted.is_set():
                # What llama.cpp's server does to the reply in flight when another request arrives.
                self._event("[DONE]")
                self._write_chunk(b"")
                return
            self._event(chunk(delta))
        n = reply.delta_count()
        if reply.drop_after is not None and n >= reply.drop_after:
            raise _Dropped
        if reply.malformed_after is not None:
            return self._end_stream_malformed()
        if reply.error_in_stream is not None:
            self._event({"error": reply.error_in_stream})
            self._write_chunk(b"")
            return
        if reply.finish_reason is not None:
            self._sleep(reply.chunk_delay)
            self._event(chunk({}, reply.finish_reason))
        if include_usage and reply.send_usage:
            self._event({
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [],
                "usage": reply.usage(),
            })
        if reply.send_done:
            self._event("[DONE]")
        self._write_chunk(b"")  # the zero-length chunk that ends a chunked body

    def _end_stream_malformed(self) -> None:
        self._event("{not json")
        self._write_chunk(b"")


class FakeOpenAI:
    """A fake OpenAI server on 127.0.0.1 that serves scripted chat-completion responses.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Responses queued with
    :meth:`queue` are consumed one per ``POST .../chat/completions``; when the queue is empty
    the request gets ``default`` if one was given, otherwise an HTTP 500 whose message says
    ``fake server: no scripted response``. ``GET .../models`` lists ``models``; llama.cpp's and
    Ollama's routes can be switched on (see ``__init__``); any other route is a 404 with an OpenAI
    error body. Every response carries ``x-request-id: req_<n>``.
    """

    def __init__(self, models: list[str] | None = None, *, port: int = 0,
                 default: Reply | Error | None = None, interrupting: bool = False,
                 max_model_len: dict[str, int] | None = None, props_n_ctx: int | None = None,
                 ollama_running: dict[str, int] | None = None,
                 ollama_show: dict[str, dict[str, Any]] | None = None, rejects_tools: str | None = None) -> None:
        """Prepare (but do not start) a fake.

        :param models: ids listed by ``GET /v1/models``; defaults to :data:`DEFAULT_MODELS`.
        :param port: port to bind on 127.0.0.1; 0 picks a free one.
        :param default: served whenever the queue is empty, instead of the HTTP 500.
        :param interrupting: serve one reply at a time, as llama.cpp's server does: a request arriving while
            a reply streams ends that stream with ``data: [DONE]`` and no finish_reason.
        :param max_model_len: model id -> window, listed with that model by ``GET /v1/models`` as vLLM does.
        :param props_n_ctx: serve llama.cpp's ``GET /props`` (at the root, not under ``/v1``) with this n_ctx.
        :param ollama_running: serve Ollama's ``GET /api/ps``: loaded model -> its context_length.
        :param ollama_show: serve Ollama's ``POST /api/show``: model -> the JSON answered for it; other
            models get Ollama's 404.
        The last four are off by default: those routes are 404s and the listing has no windows.
        :param rejects_tools: answer every chat request that carries ``tools`` with an HTTP 400 of this message
            (e.g. :data:`OLLAMA_NO_TOOLS`), without taking a scripted response.
        """
        self.models: list[str] = list(DEFAULT_MODELS) if models is None else list(models)
        self.max_model_len = dict(max_model_len or {})
        self.props_n_ctx = props_n_ctx
        self.ollama_running = ollama_running
        self.ollama_show = ollama_show
        self.rejects_tools = rejects_tools
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._lock = threading.Lock()
        self._queue: deque[Scripted] = deque()
        self._queued_hangs: list[Hang] = []
        self._hanging: set[Hang] = set()
        self._stopping = threading.Event()
        self.interrupting = interrupting
        self._streaming: set[threading.Event] = set()
        self._request_ids = itertools.count(1)
        self._completion_ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Bind the port and serve in a daemon thread; returns ``self`` for chaining."""
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already started")
        self._stopping.clear()
        self._server = _Server(self, ("127.0.0.1", self._port))
        # A short poll interval keeps stop() prompt: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"FakeOpenAI:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: end hangs and in-flight streams, close connections, join the thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        self.release()
        server.shutdown()
        # Keep-alive handler threads block reading the next request; shutting their sockets
        # down wakes them so nothing lingers holding the port.
        with server.connections_lock:
            connections = list(server.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (only once started)."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The URL to give the SDK as ``base_url``, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -----------------------------------------------------------------------------

    def queue(self, *responses: Reply | Error | Hang) -> None:
        """Append scripted responses, consumed one per chat-completions request, in order."""
        for response in responses:
            if not isinstance(response, (Reply, Error, Hang)):
                raise TypeError(f"expected Reply, Error or Hang, got {response!r}")
        with self._lock:
            self._queue.extend(responses)
            self._queued_hangs.extend(r for r in responses if isinstance(r, Hang))

    def release(self) -> None:
        """Release every Hang queued so far, whether already hanging or still waiting its turn."""
        with self._lock:
            hangs = [*self._queued_hangs, *self._hanging]
            self._queued_hangs.clear()
        for hang in hangs:
            hang.release()

    @property
    def pending(self) -> int:
        """How many queued responses have not been served yet."""
        with self._lock:
            return len(self._queue)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat-completions requests received, in order."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST"
                    and r.path.split("?", 1)[0].rstrip("/").endswith("/chat/completions")]

    @property
    def last_body(self) -> dict[str, Any]:
        """The JSON body of the last chat-completions request."""
        requests = self.chat_requests
        if not requests:
            raise AssertionError("fake server: no chat-completions request was received")
        body = requests[-1].body
        if body is None:
            raise AssertionError("fake server: the last chat-completions request had no JSON body")
        return body

    # -- used by the handler -------------------------------------------------------------------

    def _model_entry(self, model: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": model, "object": "model", "created": 0, "owned_by": "fake"}
        if model in self.max_model_len:
            entry["max_model_len"] = self.max_model_len[model]
        return entry

    def _stream_started(self) -> threading.Event:
        interrupted = threading.Event()
        with self._lock:
            self._streaming.add(interrupted)
        return interrupted

    def _stream_ended(self, interrupted: threading.Event) -> None:
        with self._lock:
            self._streaming.discard(interrupted)

    def _interrupt_streams(self) -> None:
        if not self.interrupting:
            return
        with self._lock:
            for interrupted in self._streaming:
                interrupted.set()

    @property
    def streaming(self) -> int:
        """How many replies are streaming right now."""
        with self._lock:
            return len(self._streaming)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_scripted(self) -> Scripted | None:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default

    def _next_request_id(self) -> str:
        with self._lock:
            return f"req_{next(self._request_ids)}"

    def _completion_id(self) -> str:
        with self._lock:
            return f"chatcmpl-fake{next(self._completion_ids):06d}"


MANUAL_REPLY = "Hello from the fake OpenAI server. Give it --reply TEXT to hear something else."


def main(argv: list[str] | None = None) -> int:
    """Run a standalone fake until killed, printing its base URL on stdout and what it answers on stderr.

    Run by hand, it answers every chat request (MANUAL_REPLY unless --reply says otherwise); --unscripted keeps
    the tests' behaviour, an HTTP 500 for every request nothing was scripted for."""
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI chat-completions API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--reply", metavar="TEXT", default=MANUAL_REPLY,
                        help="reply to every chat request with TEXT (default: a greeting that says what this is)")
    parser.add_argument("--unscripted", action="store_true",
                        help="answer every chat request with HTTP 500 'no scripted response', as the test "
                        "fixture does when a test forgot to queue one")
    parser.add_argument("--chunk-delay", type=float, default=0.0, metavar="SECONDS",
                        help="pause between streamed chunks, to watch a reply arrive (default: 0)")
    parser.add_argument("--model", dest="models", action="append", metavar="ID",
                        help=f"a model id for GET /v1/models (repeatable; default: {', '.join(DEFAULT_MODELS)})")
    args = parser.parse_args(argv)

    default = None if args.unscripted else Reply(args.reply, chunk_delay=args.chunk_delay)
    fake = FakeOpenAI(args.models, port=args.port, default=default).start()
    print(fake.base_url, flush=True)
    said = "HTTP 500 (no scripted response)" if default is None else repr(args.reply)
    print(f"fake OpenAI API at {fake.base_url}: every chat request is answered with {said}; "
          f"point chat at it with OPENAI_BASE_URL={fake.base_url} OPENAI_API_KEY=sk-fake; ctrl+c stops it",
          file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
