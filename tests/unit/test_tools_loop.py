"""A turn with tools, end to end: the fake model calls tools of a real MCP server (tests/mcp_servers/notes.py), the
session asks, runs and answers them, and calls the model again until it answers in text."""

from __future__ import annotations

import asyncio
import sys
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from chatbot.core import errors
from chatbot.core.assembly import assemble
from chatbot.core.budget import build_window
from chatbot.core.client import ChatClient
from chatbot.core.conversation import UNANSWERED, Message, to_api_messages
from chatbot.core.events import TextDelta, ToolCall, ToolCallFinished, ToolCallStarted, ToolProblem
from chatbot.core.session import Session
from chatbot.core.settings import config_path
from chatbot.core.settings.schema import McpServerConfig
from chatbot.core.tokens import TokenCounter
from chatbot.core.tool_round import INTERRUPTED
from chatbot.core.tools.approval import Approval, ApprovalRequest
from chatbot.core.tools.servers import ToolServers
from fake_openai import FakeOpenAI, Reply, tool_call
from support import PROJECT

NOTES = str(PROJECT / "tests" / "mcp_servers" / "notes.py")


def calls(*entries: tuple[str, str, str], **usage: Any) -> Reply:
    """A reply of calls alone, streamed in fragments as OpenAI streams them."""
    fragments = [f for i, (cid, name, args) in enumerate(entries) for f in tool_call(cid, name, args, index=i)]
    return Reply([], tool_calls=fragments, finish_reason="tool_calls", **usage)


class Asker:
    """An approver that answers from a script and keeps what it was asked."""

    def __init__(self, *answers: Approval) -> None:
        self.answers = list(answers)
        self.asked: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Approval:
        self.asked.append(request)
        return self.answers.pop(0)


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings, api_key: str) -> AsyncIterator[Callable[..., Session]]:
    made: list[tuple[ChatClient, ToolServers]] = []

    def make(approve: Any = None, config: McpServerConfig | None = None, **flags: Any) -> Session:
        flags.setdefault("model", "gpt-4o")
        settings = make_settings(**flags)
        client = ChatClient(api_key=api_key, base_url=fake.base_url, max_retries=0)
        servers = ToolServers({"notes": config or McpServerConfig(command=sys.executable, args=[NOTES],
                                                                   approve="read_only", call_timeout=30)})
        made.append((client, servers))
        return Session(settings, client, tools=servers, approve=approve)

    yield make
    for client, servers in made:
        await client.aclose()
        await servers.aclose()


async def run(session: Session, text: str) -> tuple[list[Any], Any]:
    turn = session.send(text)
    events = [event async for event in turn]
    return events, turn.outcome


def roles(session: Session) -> list[str]:
    return [m.role for m in session.conversation.messages]


async def test_calls_are_asked_run_answered_and_the_model_asked_again(fake: FakeOpenAI, make_session) -> None:
    asker = Asker(Approval.ONCE)
    session = make_session(asker)
    fake.queue(calls(("call_w", "notes__write_note", '{"title": "a", "text": "b"}'),
                     ("call_r", "notes__read_note", '{"title": "a"}')),
               Reply("The note says b."))
    events, outcome = await run(session, "note it")
    assert outcome.ended == "finished" and outcome.reply.content == "The note says b."
    # read_only: the write asks, with what the user needs to judge it; the read does not.
    (request,) = asker.asked
    assert (request.server, request.tool, request.arguments) == ("notes", "write_note", {"title": "a", "text": "b"})
    assert request.description == "Write a note." and request.raw_arguments == '{"title": "a", "text": "b"}'
    started = [e.call.id for e in events if isinstance(e, ToolCallStarted)]
    finished = {e.call.id: (e.result, e.error) for e in events if isinstance(e, ToolCallFinished)}
    # One server: its calls run in the order the model wrote them, so the read sees the write.
    assert started == ["call_w", "call_r"]
    assert finished == {"call_w": ("saved a", False), "call_r": ("b", False)}
    assert roles(session) == ["user", "assistant", "tool", "tool", "assistant"]
    assert [m.tool_call_id for m in session.conversation.messages[2:4]] == ["call_w", "call_r"]
    first, second = fake.chat_requests
    assert {t["function"]["name"] for t in first.body["tools"]} >= {"notes__read_note", "notes__write_note"}
    sent = second.body["messages"][-3:]  # after the system prompt and the user's message
    assert sent[0] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_w", "type": "function",
         "function": {"name": "notes__write_note", "arguments": '{"title": "a", "text": "b"}'}},
        {"id": "call_r", "type": "function", "function": {"name": "notes__read_note", "arguments": '{"title": "a"}'}},
    ]}
    assert sent[1:] == [{"role": "tool", "tool_call_id": "call_w", "content": "saved a"},
                        {"role": "tool", "tool_call_id": "call_r", "content": "b"}]
    # Both rounds are requests, each counted once.
    assert session.totals.requests == 2


async def test_a_reply_without_calls_is_one_request_as_before(fake: FakeOpenAI, make_session) -> None:
    session = make_session()
    fake.queue(Reply("Hello"))
    events, outcome = await run(session, "hi")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello"
    assert outcome.ended == "finished" and roles(session) == ["user", "assistant"]
    assert len(fake.chat_requests) == 1 and session.totals.requests == 1


async def test_a_denied_call_tells_the_model_the_user_declined(fake: FakeOpenAI, make_session) -> None:
    session = make_session(Asker(Approval.DENY))
    fake.queue(calls(("call_w", "notes__write_note", '{"title": "a", "text": "b"}')), Reply("Fine."))
    _, outcome = await run(session, "note it")
    assert outcome.ended == "finished"
    tool = fake.chat_requests[1].body["messages"][-1]
    assert tool["tool_call_id"] == "call_w" and "the user declined" in tool["content"]
    assert session.conversation.messages[2].tool_error


async def test_a_call_nobody_can_approve_is_declined(fake: FakeOpenAI, make_session) -> None:
    session = make_session(None)
    fake.queue(calls(("call_w", "notes__write_note", '{"title": "a", "text": "b"}')), Reply("Fine."))
    await run(session, "note it")
    assert "the user declined" in fake.chat_requests[1].body["messages"][-1]["content"]


async def test_escape_at_the_question_denies_and_ends_the_turn(fake: FakeOpenAI, make_session) -> None:
    asker = Asker(Approval.STOP)
    session = make_session(asker)
    fake.queue(calls(("call_w", "notes__write_note", '{"title": "a", "text": "b"}'),
                     ("call_w2", "notes__write_note", '{"title": "c", "text": "d"}')))
    _, outcome = await run(session, "note it")
    assert outcome.ended == "stopped" and len(asker.asked) == 1  # the second call is not asked about
    assert len(fake.chat_requests) == 1
    # Every call is answered all the same: the next request must not hold a call without its result.
    assert roles(session) == ["user", "assistant", "tool", "tool"]
    assert all(m.tool_error and "stopped" in m.content for m in session.conversation.messages[2:])


async def test_allowed_for_the_conversation_is_not_asked_again(fake: FakeOpenAI, make_session) -> None:
    asker = Asker(Approval.CONVERSATION)
    session = make_session(asker)
    fake.queue(calls(("c1", "notes__write_note", '{"title": "a", "text": "b"}')),
               calls(("c2", "notes__write_note", '{"title": "c", "text": "d"}')), Reply("Done."))
    _, outcome = await run(session, "two notes")
    assert outcome.ended == "finished" and len(asker.asked) == 1
    assert [m.content for m in session.conversation.messages if m.role == "tool"] == ["saved a", "saved c"]
    session.new_conversation()
    assert session.tools_allowed == set()  # it was for that conversation


async def test_always_writes_the_rule_to_the_config_file(fake: FakeOpenAI, make_session, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('# mine\nmodel = "gpt-4o"\n\n[mcp_servers.notes]\ncommand = "python"  # kept\n')
    session = make_session(Asker(Approval.ALWAYS))
    session.config_file = config
    fake.queue(calls(("c1", "notes__write_note", '{"title": "a", "text": "b"}')), Reply("Done."))
    await run(session, "note")
    text = config.read_text()
    assert tomllib.loads(text)["mcp_servers"]["notes"] == {"command": "python", "tools": {"write_note": "always"}}
    assert text.startswith('# mine\nmodel = "gpt-4o"\n') and "# kept" in text
    assert "notes__write_note" in session.tools_allowed


async def test_always_for_a_server_the_file_lacks_is_reported(fake: FakeOpenAI, make_session, tmp_path) -> None:
    session = make_session(Asker(Approval.ALWAYS))
    session.config_file = tmp_path / "config.toml"
    fake.queue(calls(("c1", "notes__write_note", '{"title": "a", "text": "b"}')), Reply("Done."))
    events, outcome = await run(session, "note")
    (problem,) = [e for e in events if isinstance(e, ToolProblem)]
    assert "mcp_servers.notes" in problem.error.message
    assert outcome.ended == "finished" and session.conversation.messages[2].content == "saved a"


async def test_invalid_json_arguments_are_an_error_result_never_a_crash(fake: FakeOpenAI, make_session) -> None:
    asker = Asker()
    session = make_session(asker)
    fake.queue(calls(("bad", "notes__write_note", '{"title": "a", ')), Reply("Let me retry."))
    _, outcome = await run(session, "note")
    assert outcome.ended == "finished" and asker.asked == []  # nothing runs, so nothing to ask
    sent = fake.chat_requests[1].body["messages"]
    assert sent[-2]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert sent[-1]["tool_call_id"] == "bad" and "not valid JSON" in sent[-1]["content"]


async def test_a_crashed_server_is_an_error_result_with_its_stderr(fake: FakeOpenAI, make_session) -> None:
    session = make_session(Asker(Approval.ONCE))
    fake.queue(calls(("c1", "notes__crash", "{}")), Reply("It failed."))
    _, outcome = await run(session, "crash")
    assert outcome.ended == "finished" and outcome.reply.content == "It failed."
    tool = session.conversation.messages[2]
    assert tool.tool_error and "about to crash" in tool.content  # the end of its stderr


async def test_a_runaway_loop_ends_at_max_tool_rounds_with_a_note(fake: FakeOpenAI, make_session) -> None:
    session = make_session(max_tool_rounds=2)
    fake.queue(*(calls((f"c{i}", "notes__read_note", '{"title": "a"}')) for i in range(5)))
    events, outcome = await run(session, "loop")
    assert len(fake.chat_requests) == 3  # two rounds run, and the reply after them
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [(e.call.id, e.error) for e in finished] == [("c0", False), ("c1", False), ("c2", True)]
    assert outcome.ended == "finished" and "max_tool_rounds" in (outcome.note or "")
    assert roles(session) == ["user", "assistant", "tool", "assistant", "tool", "assistant", "tool"]
    assert "not run" in session.conversation.messages[-1].content
    assert session.totals.requests == 3 and fake.pending == 2


async def test_the_spend_guard_holds_for_every_round(fake: FakeOpenAI, make_session) -> None:
    # Each request could cost about $0.01 (1,000 tokens of gpt-4o output); the first spends that, so the second
    # would take the session past $0.02.
    session = make_session(max_session_cost="0.02", max_tokens=1000)
    fake.queue(calls(("c1", "notes__read_note", '{"title": "a"}'), completion_tokens=1000), Reply("never sent"))
    with pytest.raises(errors.SpendLimitError):
        await run(session, "read")
    assert len(fake.chat_requests) == 1 and roles(session) == ["user", "assistant", "tool"]


async def test_stopping_during_a_call_answers_it_and_stops_the_turn(fake: FakeOpenAI, make_session) -> None:
    session = make_session(Asker(Approval.ONCE))
    fake.queue(calls(("c1", "notes__hang", "{}")))
    turn = session.send("hang")
    running = asyncio.Event()

    async def consume() -> None:
        async for event in turn:
            if isinstance(event, ToolCallStarted):
                running.set()

    task = asyncio.create_task(consume())
    await running.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert turn.outcome is not None and turn.outcome.ended == "stopped"
    assert roles(session) == ["user", "assistant", "tool"]
    assert "stopped" in session.conversation.messages[2].content


async def test_a_server_that_does_not_start_is_reported_and_the_turn_goes_on(fake: FakeOpenAI,
                                                                            make_session) -> None:
    session = make_session(config=McpServerConfig(command=sys.executable, args=[NOTES, "--fail-at-start"]))
    fake.queue(Reply("No tools today."))
    events, outcome = await run(session, "hi")
    (problem,) = [e for e in events if isinstance(e, ToolProblem)]
    assert "cannot open the notebook" in problem.error.message
    assert outcome.ended == "finished" and "tools" not in fake.last_body


async def test_tools_turned_off_are_not_offered(fake: FakeOpenAI, make_session) -> None:
    session = make_session()
    session.tools_off.add("notes__write_note")
    fake.queue(Reply("ok"))
    await run(session, "hi")
    names = {t["function"]["name"] for t in fake.last_body["tools"]}
    assert "notes__write_note" not in names and "notes__read_note" in names


# -- the window --

def test_the_window_drops_a_call_and_its_results_together() -> None:
    counter = TokenCounter()
    call = ToolCall("c1", "notes__read_note", {"title": "a"}, '{"title": "a"}')
    old = [Message("user", "old " * 50), Message("assistant", "", tool_calls=(call,)),
           Message("tool", "result " * 50, tool_call_id="c1", tool_name="notes__read_note"),
           Message("assistant", "done")]
    new = [Message("user", "new")]
    fits_new = sum(counter.count_message(m) for m in new) + 3
    window = build_window(old + new, counter, budget=fits_new + 10)
    assert window.kept == new and window.dropped == old
    # Tool messages count: a window that holds the turn holds their tokens.
    whole = build_window(old + new, counter, budget=10_000)
    assert whole.prompt_tokens == sum(counter.count_message(m) for m in old + new) + 3


def test_the_definitions_count_in_the_window() -> None:
    counter = TokenCounter()
    definitions = [{"type": "function", "function": {"name": "f", "description": "Does f.", "parameters": {}}}]
    messages = [Message("user", "hi")]
    plain = build_window(messages, counter, budget=10_000).prompt_tokens
    assert build_window(messages, counter, 10_000, counter.count_tools(definitions)).prompt_tokens == (
        plain + counter.count_tools(definitions))


def test_a_call_counts_in_its_message() -> None:
    counter = TokenCounter()
    call = ToolCall("c1", "notes__read_note", {"title": "a"}, '{"title": "a"}')
    bare = counter.count_message(Message("assistant", ""))
    assert counter.count_message(Message("assistant", "", tool_calls=(call,))) > bare



def test_calls_a_history_holds_without_results_are_answered_when_sent() -> None:
    # chat was killed while the calls ran: the reply with its calls is stored, their results are not.
    calls = (ToolCall("c1", "notes__pid", {}, "{}"), ToolCall("c2", "notes__pid", {}, "{}"))
    messages = [Message("user", "pid?"), Message("assistant", "", tool_calls=calls),
                Message("tool", "42", tool_call_id="c1", tool_name="notes__pid"), Message("user", "again?")]
    sent = to_api_messages(messages)
    assert [(m["role"], m.get("tool_call_id"), m["content"]) for m in sent[2:]] == [
        ("tool", "c1", "42"), ("tool", "c2", UNANSWERED), ("user", None, "again?")]
    assert to_api_messages(messages[:2])[2:] == [{"role": "tool", "tool_call_id": i, "content": UNANSWERED}
                                                 for i in ("c1", "c2")]


def test_assemble_offers_the_configs_servers_and_writes_always_to_its_file(fake: FakeOpenAI, make_settings,
                                                                          api_key: str) -> None:
    settings = make_settings(mcp_servers={"notes": {"command": sys.executable, "args": [NOTES]}})
    assembly = assemble(settings, ChatClient(api_key=api_key, base_url=fake.base_url), None)
    assert assembly.tools is not None and assembly.session.tools is assembly.tools
    assert set(assembly.tools.servers) == {"notes"}
    assert assembly.session.config_file == config_path()[0]
    plain = assemble(make_settings(), ChatClient(api_key=api_key, base_url=fake.base_url), None)
    assert plain.tools is None and plain.session.tools is None


async def test_calls_on_different_servers_run_at_once(fake: FakeOpenAI, make_settings, api_key: str) -> None:
    # The first call never answers; the second, on another server, finishes all the same: they run together.
    config = McpServerConfig(command=sys.executable, args=[NOTES], approve="always", call_timeout=30)
    servers = ToolServers({"a": config, "b": config})
    client = ChatClient(api_key=api_key, base_url=fake.base_url, max_retries=0)
    session = Session(make_settings(model="gpt-4o"), client, tools=servers)
    fake.queue(calls(("c1", "a__hang", "{}"), ("c2", "b__pid", "{}")))
    turn = session.send("both")
    try:
        async with aclosing(turn) as events:
            async for event in events:
                if isinstance(event, ToolCallFinished):
                    assert event.call.id == "c2" and not event.error
                    break
    finally:
        await client.aclose()
        await servers.aclose()
    assert turn.outcome is not None and turn.outcome.ended == "stopped"
    hung, pid = (m for m in session.conversation.messages if m.role == "tool")
    assert (hung.tool_call_id, hung.content) == ("c1", INTERRUPTED)
    assert pid.tool_call_id == "c2" and pid.content.isdigit()


async def test_a_model_that_takes_no_tools_is_offered_none_and_pays_for_none(fake: FakeOpenAI,
                                                                             make_session) -> None:
    session = make_session(models={"gpt-4o": {"tools": False}})
    fake.queue(Reply("Plain."))
    _, outcome = await run(session, "hi")
    assert outcome.ended == "finished" and "tools" not in fake.last_body
    assert session.offered_tools == []
