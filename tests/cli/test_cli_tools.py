"""`chat -p` with the config's MCP servers, as a real subprocess against the fake and tests/mcp_servers/notes.py:
calls the config does not allow are declined unless --approve-tools is given, and each call is one clean line on
stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fake_openai import FakeOpenAI, Reply, tool_call
from support import PROJECT

NOTES = str(PROJECT / "tests" / "mcp_servers" / "notes.py")
WRITE = '{"title": "a", "text": "b"}'


def config(chat_env: dict[str, str], approve: str = "ask", extra: str = "") -> None:
    folder = Path(chat_env["XDG_CONFIG_HOME"]) / "chatbot"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(
        f'[mcp_servers.notes]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(NOTES)}]\n'
        f'approve = "{approve}"\n{extra}')


def calls(*entries: tuple[str, str, str]) -> Reply:
    fragments = [f for i, (cid, name, args) in enumerate(entries) for f in tool_call(cid, name, args, index=i)]
    return Reply([], tool_calls=fragments, finish_reason="tool_calls")


def tool_results(fake: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake.last_body["messages"] if m["role"] == "tool"]


def test_without_approve_tools_a_call_that_asks_is_declined(fake: FakeOpenAI, run_chat, chat_env) -> None:
    config(chat_env)
    fake.queue(calls(("c1", "notes__write_note", WRITE)), Reply("I could not save it."))
    done = run_chat("-p", "note it", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "I could not save it.\n"
    assert tool_results(fake) == ["error: the user declined to run this tool call"]
    assert f"chat: tool notes__write_note({WRITE}): declined (--approve-tools runs it)" in done.stderr.splitlines()


def test_with_approve_tools_the_call_runs(fake: FakeOpenAI, run_chat, chat_env) -> None:
    config(chat_env)
    fake.queue(calls(("c1", "notes__write_note", WRITE), ("c2", "notes__read_note", '{"title": "a"}')),
               Reply("Saved: b."))
    done = run_chat("-p", "note it", "--approve-tools", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Saved: b.\n"
    assert tool_results(fake) == ["saved a", "b"]
    lines = [line for line in done.stderr.splitlines() if line.startswith("chat: tool ")]
    assert len(lines) == 2
    assert lines[0].startswith(f"chat: tool notes__write_note({WRITE}): ok in ") and lines[0].endswith(": saved a")


def test_read_only_in_the_config_runs_read_only_tools_alone(fake: FakeOpenAI, run_chat, chat_env) -> None:
    config(chat_env, approve="read_only")
    fake.queue(calls(("c1", "notes__write_note", WRITE), ("c2", "notes__read_note", '{"title": "a"}')),
               Reply("Done."))
    done = run_chat("-p", "note it", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    assert tool_results(fake) == ["error: the user declined to run this tool call", "no note called a"]


def test_always_in_the_config_runs_every_call(fake: FakeOpenAI, run_chat, chat_env) -> None:
    config(chat_env, approve="always")
    fake.queue(calls(("c1", "notes__write_note", WRITE)), Reply("Done."))
    done = run_chat("-p", "note it", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    assert tool_results(fake) == ["saved a"]


def test_a_tool_result_reaches_stderr_without_terminal_control(fake: FakeOpenAI, run_chat, chat_env) -> None:
    config(chat_env, approve="always")
    hostile = json.dumps({"title": "x", "text": "\x1b]0;pwned\x07\x1b[2Jline\nbreak"})
    fake.queue(calls(("c1", "notes__write_note", hostile), ("c2", "notes__read_note", '{"title": "x"}')),
               Reply("Done."))
    done = run_chat("-p", "note it", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    assert tool_results(fake)[1] == "\x1b]0;pwned\x07\x1b[2Jline\nbreak"  # the model gets the text as it is
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr
    (read,) = [line for line in done.stderr.splitlines() if line.startswith("chat: tool notes__read_note")]
    assert read.endswith("line break")  # one line per call


def test_a_server_that_does_not_start_is_reported_and_the_answer_comes(fake: FakeOpenAI, run_chat,
                                                                       chat_env) -> None:
    config(chat_env)
    folder = Path(chat_env["XDG_CONFIG_HOME"]) / "chatbot"
    text = (folder / "config.toml").read_text().replace(f"[{json.dumps(NOTES)}]",
                                                       f"[{json.dumps(NOTES)}, \"--fail-at-start\"]")
    (folder / "config.toml").write_text(text)
    fake.queue(Reply("Hello."))
    done = run_chat("-p", "hi", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello.\n"
    assert "cannot open the notebook" in done.stderr and "tools" not in fake.last_body


def test_usage_adds_up_every_round(fake: FakeOpenAI, run_chat, chat_env) -> None:
    config(chat_env, approve="always")
    fake.queue(Reply([], tool_calls=tool_call("c1", "notes__read_note", '{"title": "a"}'), finish_reason="tool_calls",
                     prompt_tokens=100, completion_tokens=20),
               Reply("None.", prompt_tokens=150, completion_tokens=2))
    done = run_chat("-p", "read a", "--usage", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    (usage,) = [line for line in done.stderr.splitlines() if line.startswith("usage:")]
    assert usage.startswith("usage: prompt 150 (cached 0), completion 2, cost $")
    assert "; 2 requests: prompt 250, completion 22, cost $" in usage


def test_json_lists_the_calls_and_their_results(fake: FakeOpenAI, run_chat, chat_env) -> None:
    config(chat_env, approve="read_only")
    fake.queue(calls(("c1", "notes__write_note", WRITE), ("c2", "notes__read_note", '{"title": "a"}')),
               Reply("Done."))
    done = run_chat("-p", "note it", "--json", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["reply"] == "Done."
    assert result["tool_calls"] == [
        {"name": "notes__write_note", "arguments": WRITE, "result": "error: the user declined to run this tool call",
         "error": True},
        {"name": "notes__read_note", "arguments": '{"title": "a"}', "result": "no note called a", "error": False}]
