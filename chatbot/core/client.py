"""ChatClient: streams chat completions over openai.AsyncOpenAI and yields typed events.

The SDK's own retries are off: retrying here lets the caller show each wait ("retrying in 4s") and stop it,
and guarantees a request is never retried once its reply has started.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import random
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, overload

from chatbot.core import errors
from chatbot.core.api_errors import images_explained, map_sdk_error, tools_refused
from chatbot.core.chunk_fields import dicts, reasoning_of, usage_of
from chatbot.core.conversation import Message
from chatbot.core.events import (
    Event,
    Finished,
    ReasoningDelta,
    Retrying,
    TextDelta,
    ToolCalls,
    ToolEvent,
    Usage,
    UsageReport,
)
from chatbot.core.models import OPENAI_URL, ModelSpec, is_openai_url
from chatbot.core.presets import Preset
from chatbot.core.request_body import ToolDefinitions, build_params, has_images
from chatbot.core.sse import DONE, event_data
from chatbot.core.think_tags import Piece, ThinkTags
from chatbot.core.tools.calls import CallAssembler

if TYPE_CHECKING:
    import httpx2
    import openai

    from chatbot.core.settings import Settings

# Local servers (Ollama, llama.cpp, vLLM) ignore the key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0


def backoff_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds before retry number `attempt` (1-based): the server's Retry-After, else exponential with jitter."""
    if retry_after is not None:
        return max(retry_after, 0.0)
    # 2.0, not 2: int ** int is a float for a negative exponent, so its type is Any.
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1)) * random.uniform(0.75, 1.25)


class Client(Protocol):
    """What a session and the app need of a client: ChatClient, or the offline DemoClient."""

    base_url: str
    has_key: bool
    max_retries: int

    @property
    def is_openai(self) -> bool: ...

    def set_api_key(self, key: str | None) -> None: ...

    def check_ready(self) -> None: ...

    async def aclose(self) -> None: ...

    async def list_models(self, *, timeout: float | None = None) -> list[str]: ...

    # Tool calls come only from a request that carried tools, so a caller sending none never sees them.
    @overload
    def stream(self, messages: list[Message], spec: ModelSpec, preset: Preset, *,
               tools: None = None) -> AsyncGenerator[Event, None]: ...

    @overload
    def stream(self, messages: list[Message], spec: ModelSpec, preset: Preset, *,
               tools: ToolDefinitions) -> AsyncGenerator[ToolEvent, None]: ...


class ChatClient:
    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        retry_max_wait: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = (base_url or OPENAI_URL).rstrip("/")
        self.has_key = bool(api_key)
        self._api_key = api_key
        self._organization = organization
        self._project = project
        self._timeout = timeout
        self.max_retries = max_retries
        self.retry_max_wait = retry_max_wait
        self._sleep = sleep
        self._sdk: openai.AsyncOpenAI | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, run_key_cmd: bool = True) -> ChatClient:
        """Raises ConfigError if api_key_cmd fails. Without `run_key_cmd`, set the key later with set_api_key."""
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return cls(
            api_key=settings.resolve_api_key() if run_key_cmd else key,
            base_url=settings.base_url,
            organization=settings.organization,
            project=settings.project,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            retry_max_wait=settings.retry_max_wait,
        )

    def set_api_key(self, key: str | None) -> None:
        self._api_key = key
        self.has_key = bool(key)
        self._sdk = None

    @property
    def is_openai(self) -> bool:
        return is_openai_url(self.base_url)

    def check_ready(self) -> None:
        """Raise AuthError when no request can succeed: OpenAI itself and no key."""
        if self.is_openai and not self.has_key:
            raise errors.AuthError(
                "no API key",
                "set OPENAI_API_KEY (or api_key_cmd in the config), or point base_url at a local server "
                "such as Ollama (http://localhost:11434/v1)",
                one_shot_hint="set OPENAI_API_KEY or api_key_cmd in the config, or give --base-url a local server "
                "such as Ollama's, http://localhost:11434/v1",
            )

    @property
    def sdk(self) -> openai.AsyncOpenAI:
        """The SDK's client, made on first use. The app makes it while it warms up, off the UI thread: making
        one loads the system's certificates (30 ms), which the first request would otherwise wait for."""
        if self._sdk is None:
            import openai  # imported on first use: it costs start-up time the first paint should not pay

            self._sdk = openai.AsyncOpenAI(
                api_key=self._api_key or PLACEHOLDER_KEY,
                base_url=self.base_url,
                organization=self._organization,
                project=self._project,
                timeout=self._timeout,
                max_retries=0,
            )
        return self._sdk

    def warm(self) -> None:
        """Make the SDK's client and load what its first streamed request would import meanwhile: the chat
        resources (14 ms, pydantic building their models) and anyio's asyncio backend (8 ms), which httpx looks
        up on its first request. The app calls it in a thread once the user starts to type: else the first reply's
        first words came that much later."""
        self.sdk.chat.completions  # noqa: B018 - a cached property: its first read imports the resource
        with contextlib.suppress(ImportError):  # anyio's layout is its own: if it moves, the request loads it
            importlib.import_module("anyio._backends._asyncio")

    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if self._api_key else ()

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()

    async def list_models(self, *, timeout: float | None = None) -> list[str]:
        """Model ids the server offers (/v1/models); `timeout` in seconds, else the client's."""
        self.check_ready()
        try:
            page = await self.sdk.models.list(timeout=timeout or self._timeout)
            return sorted(m.id for m in page.data)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a ChatError with the key removed
            error = self.map_error(exc, None)
        raise error

    @overload
    def stream(self, messages: list[Message], spec: ModelSpec, preset: Preset, *,
               tools: None = None) -> AsyncGenerator[Event, None]: ...

    @overload
    def stream(self, messages: list[Message], spec: ModelSpec, preset: Preset, *,
               tools: ToolDefinitions) -> AsyncGenerator[ToolEvent, None]: ...

    async def stream(
        self,
        messages: list[Message],
        spec: ModelSpec,
        preset: Preset,
        *,
        tools: ToolDefinitions | None = None,
    ) -> AsyncGenerator[ToolEvent, None]:
        """Stream one reply. A reply that calls tools yields them, complete, as one ToolCalls before Finished.

        Raises a ChatError; StreamDroppedError when the reply had started (the caller keeps what arrived);
        ToolsRejectedError when the server refused the request for its tools.
        """
        self.check_ready()
        params = build_params(messages, spec, preset, tools)
        attempt = 0
        while True:
            streamed = _Streamed()
            try:
                # Closed here, in order, when the caller stops early: left to the garbage collector, the SDK's
                # generators were closed concurrently at loop shutdown ("aclose(): ... already running").
                async with aclosing(self._stream_once(params, streamed)) as events:
                    async for event in events:
                        yield event
                return
            except Exception as exc:  # noqa: BLE001 - mapped below; CancelledError is not an Exception
                error = self.map_error(exc, spec.name, tools_sent="tools" in params)
                if has_images(params):
                    error = images_explained(error, spec)
            # Raised outside the except block so no traceback chains back to the SDK's error and its request.
            if streamed.started:
                raise error if isinstance(error, errors.StreamDroppedError) else _dropped(error, streamed)
            wait = backoff_delay(attempt + 1, error.retry_after)
            if not error.retryable or attempt >= self.max_retries or wait > self.retry_max_wait:
                raise error
            attempt += 1
            yield Retrying(attempt, wait, error)
            await self._sleep(wait)

    async def _stream_once(self, params: dict[str, Any], streamed: _Streamed) -> AsyncGenerator[ToolEvent, None]:
        usage: Usage | None = None
        finish: str | None = None
        calls = CallAssembler()
        stream = await self.sdk.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
        inline = ThinkTags()  # reasoning some servers write into the content, in <think> tags
        try:
            async with stream:  # closes the response however the reading ends
                async for data in _chunks(stream.response):
                    chunk = json.loads(data)
                    if not isinstance(chunk, dict):
                        continue
                    if isinstance(error := chunk.get("error"), dict):
                        raise _stream_error(error, stream.response)
                    if isinstance(reported := chunk.get("usage"), dict):
                        usage = usage_of(reported)
                    for choice in dicts(chunk.get("choices")):
                        if isinstance(delta := choice.get("delta"), dict):
                            if reasoning := reasoning_of(delta):
                                yield streamed.saw(ReasoningDelta(reasoning))
                            if isinstance(content := delta.get("content"), str):
                                for piece in inline.feed(content):
                                    yield streamed.saw(piece)
                            for fragment in dicts(delta.get("tool_calls")) if "tools" in params else ():
                                streamed.tool_call = True
                                calls.add(fragment)
                        if isinstance(reason := choice.get("finish_reason"), str) and reason:
                            finish = reason
        except Exception:
            # What the tags held back had arrived: it is kept with the rest of a reply that broke off.
            for piece in inline.end():
                yield streamed.saw(piece)
            raise
        for piece in inline.end():
            yield streamed.saw(piece)
        request_id = stream.response.headers.get("x-request-id")
        yield UsageReport(usage, request_id)
        if finish is None:
            # Every complete reply names why it ended. A proxy closing a response that has no chunked
            # encoding looks like a normal EOF, and llama.cpp-style servers end an in-flight stream with a
            # bare [DONE] when another request arrives: both are cut off, however cleanly they ended.
            if not streamed.started:
                raise errors.ServerError("the server ended the stream without a reply", "try again",
                                         request_id=request_id)
            raise _dropped(errors.ServerError("the stream ended without saying the reply was complete"), streamed,
                           request_id=request_id)
        if calls:
            # Whatever finish_reason says: older Ollama ends a reply of tool calls with "stop".
            yield ToolCalls(calls.calls())
        yield Finished(finish)

    def map_error(self, exc: BaseException, model: str | None, *, tools_sent: bool = False) -> errors.ChatError:
        error = map_sdk_error(exc, model, self.base_url)
        if tools_sent:
            error = tools_refused(error, model)
        return error.with_secrets_removed(self._secrets())


DROPPED_ONE_SHOT = "what arrived is printed; ask again to retry"


@dataclass
class _Streamed:
    """What one attempt has streamed so far. Once anything has, reply text, reasoning or a tool call alone, the
    attempt is never retried: the server bills all of them as output, and a retry would pay for it twice."""

    text: bool = False
    reasoning: bool = False
    tool_call: bool = False

    @property
    def started(self) -> bool:
        return self.text or self.reasoning or self.tool_call

    def saw(self, piece: Piece) -> Piece:
        """`piece` is on its way to the caller."""
        if isinstance(piece, TextDelta):
            self.text = True
        else:
            self.reasoning = True
        return piece


async def _chunks(response: httpx2.Response) -> AsyncGenerator[str, None]:
    """The data of each chunk event until the stream says it is done. Read to the end after that, so the
    connection can carry the next request. A broken or stalled connection is raised as the SDK raises it."""
    import anyio
    import httpx2
    import openai

    done = False
    try:
        async for data in event_data(response.aiter_lines()):
            if data.startswith(DONE):
                done = True
            elif not done:
                yield data
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except (httpx2.RequestError, ssl.SSLError, anyio.EndOfStream) as exc:
        raise openai.APIConnectionError(request=response.request) from exc


def _stream_error(error: dict[str, Any], response: httpx2.Response) -> Exception:
    """An error the server sent in place of a chunk, after the stream had begun: raised as the SDK would."""
    import openai

    message = error.get("message")
    return openai.APIError(message if isinstance(message, str) and message else "an error occurred while streaming",
                           request=response.request, body=error)


def _dropped(error: errors.ChatError, streamed: _Streamed, *,
             request_id: str | None = None) -> errors.StreamDroppedError:
    """The reply had started when `error` struck: say what broke, and that the text so far is kept. A reply of
    reasoning alone has broken off too (it is not retried), but has no text to keep."""
    if isinstance(error, errors.ConnectionError_):
        what, cause = "the connection broke", ""
    elif isinstance(error, errors.TimeoutError_):
        what, cause = "the server stopped sending", ""
    else:
        what, cause = "the reply broke off", f": {error.message}"
    if streamed.text:
        when, hint = "" if cause else " mid-reply", "what arrived is kept; regenerate to try again"
    elif streamed.tool_call:
        when, hint = " while the model was writing a tool call", "no tool was run; try again"
    else:
        when, hint = " while the model was reasoning, before any reply text", "no reply text had come; try again"
    return errors.StreamDroppedError(what + when + cause, hint, request_id=request_id or error.request_id,
                                     one_shot_hint=DROPPED_ONE_SHOT if streamed.text else "ask again to retry")

