"""One round of tools composed from the core's parts, as the session's loop will run it: the servers' tools
sent with the request, the model's call back complete, the policy asked, the call run on a real MCP server, its
result in the shape the next request carries."""

from __future__ import annotations

import sys

from chatbot.core.client import ChatClient
from chatbot.core.conversation import Message
from chatbot.core.events import ToolCalls
from chatbot.core.settings.schema import McpServerConfig
from chatbot.core.tokens import TokenCounter
from chatbot.core.tools.servers import ToolServers
from fake_openai import FakeOpenAI, Reply, tool_call
from support import PROJECT

NOTES = str(PROJECT / "tests" / "mcp_servers" / "notes.py")


async def test_one_round_from_request_to_result(fake: FakeOpenAI, make_settings) -> None:
    servers = ToolServers({"notes": McpServerConfig(command=sys.executable, args=[NOTES], approve="read_only")})
    client = ChatClient(api_key="sk-test-x", base_url=fake.base_url, max_retries=0)
    settings = make_settings(model="gpt-4o")
    try:
        box = await servers.tools()
        tools = box.to_api()
        assert TokenCounter().count_tools(tools) > 0
        fake.queue(Reply([], tool_calls=[*tool_call("call_w", "notes__write_note", '{"title": "a", "text": "b"}'),
                                         *tool_call("call_r", "notes__read_note", '{"title": "a"}', index=1)],
                         finish_reason="tool_calls"))
        events = [e async for e in client.stream([Message("user", "note it")], settings.model_spec(),
                                                 settings.active_preset(), tools=tools)]
        sent = {tool["function"]["name"] for tool in fake.last_body["tools"]}
        assert {"notes__read_note", "notes__write_note"} <= sent
        (calls,) = [e.calls for e in events if isinstance(e, ToolCalls)]
        # read_only trusts the read-only hint: writing asks, reading does not.
        assert [servers.decide(c) for c in calls] == ["ask", "run"]
        results = [await servers.call(c) for c in calls]
        assert [r.to_api() for r in results] == [
            {"role": "tool", "tool_call_id": "call_w", "content": "saved a"},
            {"role": "tool", "tool_call_id": "call_r", "content": "b"},
        ]
        assert [c.to_api()["function"]["arguments"] for c in calls] == ['{"title": "a", "text": "b"}',
                                                                         '{"title": "a"}']
    finally:
        await client.aclose()
        await servers.aclose()
