"""MCP servers run as subprocesses over stdio with the official SDK: started when a turn first needs their tools,
listed, called, and stopped with the app.

Each server lives in one task of its own, which enters and leaves the SDK's transport and session: the SDK's
task groups must be left by the task that entered them, and turns run in tasks of their own. Calls from any task
go through the session that task keeps open. A server that fails is reported with the end of its stderr, and the
conversation goes on: a call of its tools gets an error result, never an exception.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from chatbot.core.errors import ToolServerError
from chatbot.core.tools import policy
from chatbot.core.tools.definitions import ToolResult, ToolSpec, result_text, spec_of
from chatbot.core.tools.launch import launch_of, stderr_file, stderr_tail

if TYPE_CHECKING:
    from mcp import ClientSession

    from chatbot.core.events import ToolCall
    from chatbot.core.settings.schema import McpServerConfig, Settings

# How long stopping waits for a server's task: the SDK's shutdown (close stdin, wait, SIGTERM, SIGKILL) is
# bounded at about six seconds; past this the task is cancelled.
STOP_WAIT = 10.0
MAX_LIST_PAGES = 100


def _import_sdk() -> None:
    """The SDK's stdio client, imported off the event loop the first time: it takes about a second."""
    import mcp.client.stdio  # noqa: F401


class McpServer:
    """One configured server. `start()` starts it once (later calls wait for that start or repeat its failure);
    `failure` is why it is not running, once it failed or stopped."""

    def __init__(self, name: str, config: McpServerConfig, *, environ: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.config = config
        self._environ = os.environ if environ is None else environ
        self._ready: asyncio.Future[tuple[ToolSpec, ...]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._session: ClientSession | None = None
        self._stderr: TextIO | None = None
        self.failure: ToolServerError | None = None

    @property
    def running(self) -> bool:
        return self._session is not None

    @property
    def started(self) -> bool:
        """Whether `start()` was called: it is starting, running, or failed."""
        return self._ready is not None

    def stderr_tail(self) -> str:
        return stderr_tail(self._stderr)

    async def start(self) -> tuple[ToolSpec, ...]:
        """Its tools, every one it lists, once it has started. Raises ToolServerError."""
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            # A start nobody awaits any more (its turn was stopped) still reports through `failure`.
            self._ready.add_done_callback(lambda f: None if f.cancelled() else f.exception())
            self._task = asyncio.create_task(self._run(self._ready), name=f"MCP server {self.name}")
        if self.failure is not None and self._ready.done():
            raise self.failure
        # Shielded: a turn stopped while the server starts does not stop the start another turn will use.
        return await asyncio.shield(self._ready)

    async def _run(self, ready: asyncio.Future[tuple[ToolSpec, ...]]) -> None:
        try:
            await asyncio.to_thread(_import_sdk)
            await self._serve(ready)
        except ToolServerError as exc:
            self._fail(ready, exc)
        except OSError as exc:
            self._fail(ready, self._error(f"cannot run {self.config.command!r}: {exc.strerror or exc}",
                                          f"check mcp_servers.{self.name}.command and PATH"))
        except Exception as exc:  # noqa: BLE001 - whatever ends the server is reported, and the app goes on
            self._fail(ready, self._error(f"stopped: {_reason(exc)}"))
        finally:
            self._session = None
            if not ready.done():  # cancelled (the app stopped) before it started: nobody may wait for ever
                self._fail(ready, self._error("was stopped before it had started"))

    async def _serve(self, ready: asyncio.Future[tuple[ToolSpec, ...]]) -> None:
        import anyio
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        launch = launch_of(self.name, self.config, self._environ)
        params = StdioServerParameters(command=launch.command, args=list(launch.args), env=launch.env)
        self._stderr = stderr_file()
        async with stdio_client(params, errlog=self._stderr) as (read, write), ClientSession(read, write) as session:
            try:
                with anyio.fail_after(self.config.startup_timeout):
                    await session.initialize()
                    tools = await _list_tools(self.name, session)
            except TimeoutError:
                # Reported now: stopping the server below may take seconds more.
                self._fail(ready, self._error(f"did not start in {self.config.startup_timeout:g} s",
                                              f"raise mcp_servers.{self.name}.startup_timeout, or check the server"))
                return
            except Exception as exc:  # noqa: BLE001 - a server that cannot start is reported, never raised
                self._fail(ready, self._error(f"did not start: {_reason(exc)}",
                                              f"check mcp_servers.{self.name} (command, args, env)"))
                return
            self._session = session
            ready.set_result(tools)
            await self._stopping.wait()

    def _error(self, what: str, hint: str = "") -> ToolServerError:
        return ToolServerError(f"MCP server {self.name!r} {what}", hint, server=self.name,
                               stderr_tail=self.stderr_tail())

    def _fail(self, ready: asyncio.Future[tuple[ToolSpec, ...]] | None, error: ToolServerError) -> None:
        if self.failure is None:
            self.failure = error
        self._session = None
        if ready is not None and not ready.done():
            ready.set_exception(error)

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> tuple[str, bool]:
        """The text of one call's result and whether it is an error result. Raises ToolServerError when the server
        did not answer: not running, stopped during the call, or past call_timeout."""
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        session = self._session
        if session is None:
            raise self.failure or self._error("is not running")
        error: ToolServerError | None = None
        try:
            result = await session.call_tool(tool, dict(arguments), read_timeout_seconds=self.config.call_timeout)
            return result_text(result), result.is_error
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                error = ToolServerError(
                    f"the tool {tool!r} of MCP server {self.name!r} did not answer in {self.config.call_timeout:g} s",
                    f"raise mcp_servers.{self.name}.call_timeout if it needs longer", server=self.name,
                    stderr_tail=self.stderr_tail())
            elif exc.code == CONNECTION_CLOSED:
                error = self._error("stopped during a call", "restart chat to start it again")
                self._fail(None, error)
                self._stopping.set()  # lets its task leave the SDK's contexts and reap the process
            else:
                error = self._error(f"refused the call of {tool!r}: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - a result the SDK cannot read fails this call, not the turn
            error = self._error(f"gave a result for {tool!r} that cannot be read: {_reason(exc)}")
        raise error

    async def stop(self) -> None:
        """Stop the process, if it was started; waits for it (bounded by STOP_WAIT)."""
        self._stopping.set()
        task = self._task
        if task is not None and not task.done():
            if self._ready is not None and not self._ready.done():
                task.cancel()  # still starting: nothing to wait for; the SDK stops the process, shielded
            # A server that did not start is being stopped by the SDK already (it waits for the process to exit,
            # then kills it): cancelling the task as well could cut that short and leave the process running.
            # wait(), not wait_for(): it neither raises the task's cancellation nor cancels the task itself.
            await asyncio.wait({task}, timeout=STOP_WAIT)
            task.cancel()
        if self._ready is not None and not self._ready.done():
            # A task cancelled before its first step never ran, so never said it would not start.
            self._fail(self._ready, self._error("was stopped before it had started"))
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


async def _list_tools(server: str, session: ClientSession) -> tuple[ToolSpec, ...]:
    from mcp.types import PaginatedRequestParams

    specs: list[ToolSpec] = []
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):  # a server whose cursor never ends is listed as far as this
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        listing = await session.list_tools(params=params)
        specs.extend(spec_of(server, tool) for tool in listing.tools)
        cursor = listing.next_cursor
        if not cursor:
            break
    return tuple(specs)


def _reason(exc: BaseException) -> str:
    """One line for an exception the SDK raised, the first of a group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class Toolbox:
    """The tools offered for one request, and the servers' failures not reported before."""

    tools: tuple[ToolSpec, ...] = ()
    problems: tuple[ToolServerError, ...] = ()

    def to_api(self) -> list[dict[str, Any]]:
        """The request's `tools`."""
        return [tool.to_api() for tool in self.tools]


class ToolServers:
    """Every enabled server of the config. Nothing starts until `tools()`; `aclose()` stops what started."""

    def __init__(self, configs: Mapping[str, McpServerConfig], *, environ: Mapping[str, str] | None = None) -> None:
        self._servers = {name: McpServer(name, config, environ=environ)
                         for name, config in configs.items() if config.enabled}
        self._offered: dict[str, tuple[McpServer, ToolSpec]] = {}
        self._reported: set[str] = set()
        self._listed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ToolServers:
        return cls(settings.mcp_servers)

    def __bool__(self) -> bool:
        """Whether any server is enabled."""
        return bool(self._servers)

    @property
    def servers(self) -> dict[str, McpServer]:
        return dict(self._servers)

    async def tools(self) -> Toolbox:
        """Start the servers not started yet, all at once, and gather the tools the model is offered."""
        servers = list(self._servers.values())
        listings = await asyncio.gather(*(server.start() for server in servers), return_exceptions=True)
        offered: dict[str, tuple[McpServer, ToolSpec]] = {}
        problems: list[ToolServerError] = []
        for server, listing in zip(servers, listings, strict=True):
            if isinstance(listing, ToolServerError):
                if server.name not in self._reported:
                    self._reported.add(server.name)
                    problems.append(listing)
                continue
            if isinstance(listing, BaseException):
                raise listing
            if not server.running:
                if server.failure is not None and server.name not in self._reported:
                    self._reported.add(server.name)
                    problems.append(server.failure)
                continue
            for spec in listing:
                if policy.offered(server.config, spec.tool) and spec.name not in offered:
                    offered[spec.name] = (server, spec)
        self._offered = offered
        self._listed = True
        return Toolbox(tuple(spec for _, spec in offered.values()), tuple(problems))

    @property
    def offered(self) -> tuple[ToolSpec, ...]:
        """The tools the last `tools()` gathered, those the user turned off included; none before it ran."""
        return tuple(spec for _, spec in self._offered.values())

    @property
    def listed(self) -> bool:
        """Whether `tools()` has gathered the tools once (the servers have started, or failed to)."""
        return self._listed

    def spec(self, call: ToolCall) -> ToolSpec | None:
        """The tool `call` names, among those last offered."""
        found = self._offered.get(call.name)
        return found[1] if found else None

    def decide(self, call: ToolCall) -> policy.Decision:
        """Whether `call` needs the user's yes. A call that cannot run (no such tool, arguments that did not
        parse) needs none: it is answered with an error and runs nothing."""
        found = self._offered.get(call.name)
        if found is None or call.error is not None:
            return "run"
        server, spec = found
        return policy.decide(server.config, spec.tool, spec.read_only)

    def allow_always(self, call: ToolCall) -> None:
        """The user said "always" for `call`'s tool: from now on in this run it runs without asking, whichever
        conversation is open (the config file, written beside, holds it for the next runs)."""
        found = self._offered.get(call.name)
        if found is not None:
            server, spec = found
            server.config = server.config.model_copy(update={"tools": {**server.config.tools, spec.tool: "always"}})

    async def call(self, call: ToolCall) -> ToolResult:
        """Run `call` and give its result for the model; a failure is an error result naming it (`problem`
        holds the server's error, with its stderr, for the user). Raises nothing but cancellation."""
        if call.error is not None:
            return ToolResult(call.id, f"error: {call.error}", is_error=True)
        found = self._offered.get(call.name)
        if found is None:
            return ToolResult(call.id, f"error: there is no tool named {call.name!r}", is_error=True)
        server, spec = found
        try:
            text, is_error = await server.call(spec.tool, call.arguments)
        except ToolServerError as exc:
            if exc is server.failure:
                self._reported.add(server.name)  # the user sees it with this result, not again with the tools
            # The model is told what failed; the server's stderr is for the user.
            return ToolResult(call.id, f"error: {exc.summary}", is_error=True, problem=exc)
        return ToolResult(call.id, text, is_error=is_error)

    @staticmethod
    def declined(call: ToolCall) -> ToolResult:
        """The result of a call the user said no to."""
        return ToolResult(call.id, "error: the user declined to run this tool call", is_error=True)

    async def aclose(self) -> None:
        """Stop every server that started, all at once."""
        await asyncio.gather(*(server.stop() for server in self._servers.values()))
