"""MCP servers for real: tests/mcp_servers/notes.py run over stdio with the SDK, started, listed, called,
crashed, hung and stopped by ToolServers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.errors import ToolServerError
from chatbot.core.events import ToolCall
from chatbot.core.settings.schema import McpServerConfig
from chatbot.core.tools.servers import Toolbox, ToolServers
from support import PROJECT

NOTES = str(PROJECT / "tests" / "mcp_servers" / "notes.py")

MakeServers = Callable[..., ToolServers]


@pytest.fixture
async def make_servers() -> AsyncIterator[MakeServers]:
    made: list[ToolServers] = []

    def make(*extra_args: str, **config: Any) -> ToolServers:
        config.setdefault("command", sys.executable)
        config.setdefault("args", [NOTES, *extra_args])
        servers = ToolServers({"notes": McpServerConfig(**config)})
        made.append(servers)
        return servers

    yield make
    for servers in made:
        await servers.aclose()


def call(tool: str, **arguments: Any) -> ToolCall:
    return ToolCall(f"call_{tool}", f"notes__{tool}", arguments, "")


def names(box: Toolbox) -> list[str]:
    return sorted(tool.name for tool in box.tools)


async def test_tools_are_listed_as_the_model_sees_them(make_servers: MakeServers) -> None:
    servers = make_servers()
    box = await servers.tools()
    assert box.problems == ()
    assert names(box) == ["notes__crash", "notes__hang", "notes__pid", "notes__quiet", "notes__read_note",
                          "notes__show_env", "notes__write_note"]
    read = next(tool for tool in box.tools if tool.tool == "read_note")
    assert (read.server, read.read_only) == ("notes", True)
    assert next(tool for tool in box.tools if tool.tool == "write_note").read_only is None
    api = read.to_api()
    assert api["type"] == "function"
    assert api["function"]["name"] == "notes__read_note"
    assert api["function"]["description"] == "Read a note."
    assert api["function"]["parameters"]["properties"]["title"]["type"] == "string"
    # A tool without parameters still has the properties OpenAI wants.
    crash = next(tool for tool in box.tools if tool.tool == "crash").to_api()
    assert crash["function"]["parameters"]["properties"] == {}


async def test_nothing_starts_before_the_tools_are_asked_for(make_servers: MakeServers) -> None:
    servers = make_servers()
    assert not servers.servers["notes"].running
    await servers.tools()
    assert servers.servers["notes"].running


async def test_a_tool_the_config_says_never_is_not_offered(make_servers: MakeServers) -> None:
    servers = make_servers(tools={"quiet": "never"})
    box = await servers.tools()
    assert "notes__quiet" not in names(box)
    result = await servers.call(call("quiet"))
    assert result.is_error and "no tool named 'notes__quiet'" in result.content


async def test_calls_run_and_give_their_text(make_servers: MakeServers) -> None:
    servers = make_servers()
    await servers.tools()
    saved = await servers.call(call("write_note", title="todo", text="buy milk"))
    assert (saved.call_id, saved.content, saved.is_error) == ("call_write_note", "saved todo", False)
    read = await servers.call(call("read_note", title="todo"))
    assert read.content == "buy milk"
    assert read.to_api() == {"role": "tool", "tool_call_id": "call_read_note", "content": "buy milk"}


async def test_a_call_the_server_rejects_is_an_error_result(make_servers: MakeServers) -> None:
    servers = make_servers()
    await servers.tools()
    result = await servers.call(call("read_note", wrong="x"))
    assert result.is_error
    assert "title" in result.content


async def test_a_call_whose_arguments_did_not_parse_runs_nothing(make_servers: MakeServers) -> None:
    servers = make_servers()
    await servers.tools()
    bad = ToolCall("call_bad", "notes__write_note", {}, '{"title": ', error="the arguments are not valid JSON")
    result = await servers.call(bad)
    assert result.is_error and "not valid JSON" in result.content
    assert servers.decide(bad) == "run"  # nothing to ask about: nothing runs
    assert (await servers.call(call("read_note", title="todo"))).content == "no note called todo"


async def test_a_server_that_fails_to_start_is_reported_with_its_stderr(make_servers: MakeServers) -> None:
    servers = make_servers("--fail-at-start")
    box = await servers.tools()
    assert box.tools == ()
    (problem,) = box.problems
    assert isinstance(problem, ToolServerError)
    assert problem.server == "notes"
    assert "did not start" in problem.message
    assert "cannot open the notebook" in problem.stderr_tail
    assert "cannot open the notebook" in problem.message
    # Reported once; the conversation goes on without its tools.
    assert await servers.tools() == Toolbox()


@pytest.fixture
def outliving() -> Iterator[list[int]]:
    """Server processes a test expects gone once its servers are closed: checked after make_servers' teardown
    (this fixture is set up first), and killed if still there."""
    pids: list[int] = []
    yield pids
    alive = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            alive.append(pid)
    assert not alive, f"server processes still running after their servers were closed: {alive}"


async def test_a_server_that_hangs_at_start_is_reported_and_stopped(outliving: list[int],
                                                                    make_servers: MakeServers) -> None:
    servers = make_servers("--hang-at-start", startup_timeout=0.5)
    (problem,) = (await servers.tools()).problems
    assert "did not start in 0.5 s" in problem.message
    assert "startup_timeout" in problem.hint
    # Closed by make_servers while the SDK still waits for it to exit (it ignores its stdin closing): the SDK
    # kills it then, unless the close cancelled it first.
    outliving.append(int(re.search(r"pid (\d+)", problem.stderr_tail).group(1)))  # type: ignore[union-attr]


async def test_a_command_that_does_not_exist_is_reported(make_servers: MakeServers, tmp_path: Path) -> None:
    servers = make_servers(command=str(tmp_path / "no-such-server"), args=[])
    (problem,) = (await servers.tools()).problems
    assert "cannot run" in problem.message
    assert "mcp_servers.notes.command" in problem.hint


async def test_a_server_that_crashes_mid_call_gives_an_error_result(make_servers: MakeServers) -> None:
    servers = make_servers()
    await servers.tools()
    result = await servers.call(call("crash"))
    assert result.is_error
    assert "stopped during a call" in result.content
    assert "about to crash" not in result.content  # the server's stderr is for the user, not the model
    assert result.problem is not None and "about to crash" in result.problem.stderr_tail
    # Its tools are offered no more, and the failure, shown with the result, is not reported twice.
    assert await servers.tools() == Toolbox()
    again = await servers.call(call("read_note", title="x"))
    assert again.is_error


async def test_a_call_that_hangs_times_out_and_the_server_goes_on(make_servers: MakeServers) -> None:
    servers = make_servers(call_timeout=0.5)
    await servers.tools()
    result = await servers.call(call("hang"))
    assert result.is_error
    assert "did not answer in 0.5 s" in result.content
    assert result.problem is not None and "call_timeout" in result.problem.hint
    assert (await servers.call(call("read_note", title="x"))).content == "no note called x"


async def test_only_the_listed_environment_reaches_the_server(make_servers: MakeServers,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_TEST_SECRET", "s3cret")
    monkeypatch.setenv("CHAT_TEST_OTHER", "other")
    monkeypatch.setenv("LANG", "C.UTF-8")
    servers = make_servers(env={"NOTES_TOKEN": "${CHAT_TEST_SECRET}", "PLAIN": "as written"})
    await servers.tools()

    async def seen(name: str) -> str:
        return (await servers.call(call("show_env", name=name))).content

    assert await seen("NOTES_TOKEN") == "s3cret"
    assert await seen("PLAIN") == "as written"
    assert await seen("LANG") == "C.UTF-8"
    assert await seen("PATH") == os.environ["PATH"]
    assert await seen("CHAT_TEST_SECRET") == "<unset>"
    assert await seen("CHAT_TEST_OTHER") == "<unset>"


async def test_an_unset_variable_keeps_the_server_from_starting(make_servers: MakeServers) -> None:
    servers = make_servers(env={"TOKEN": "${CHAT_TEST_NEVER_SET}"})
    (problem,) = (await servers.tools()).problems
    assert "${CHAT_TEST_NEVER_SET}" in problem.message
    assert "mcp_servers.notes.env.TOKEN" in problem.hint


async def test_closing_stops_the_process(make_servers: MakeServers) -> None:
    servers = make_servers()
    await servers.tools()
    pid = int((await servers.call(call("pid"))).content)
    await servers.aclose()
    assert not servers.servers["notes"].running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_disabled_server_never_starts() -> None:
    servers = ToolServers({"notes": McpServerConfig(command=sys.executable, args=[NOTES], enabled=False)})
    assert not servers
    assert await servers.tools() == Toolbox()


async def test_a_turn_stopped_while_the_server_starts_leaves_the_start_to_the_next(make_servers: MakeServers) -> None:
    servers = make_servers()
    first = asyncio.create_task(servers.tools())
    await asyncio.sleep(0)  # the start has begun
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    box = await servers.tools()
    assert "notes__read_note" in names(box)


async def test_closing_while_a_server_starts_ends_the_start(make_servers: MakeServers) -> None:
    servers = make_servers("--hang-at-start")
    starting = asyncio.create_task(servers.tools())
    await asyncio.sleep(0)
    await servers.aclose()
    (problem,) = (await starting).problems
    assert "stopped before it had started" in problem.message


def test_the_sdk_is_not_imported_until_a_server_starts() -> None:
    import subprocess

    code = ("import sys, chatbot.core.client, chatbot.core.tools.servers, chatbot.core.settings; "
            "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
