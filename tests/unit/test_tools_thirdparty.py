"""A turn with tools against an MCP server someone else wrote: the official `mcp-server-time` from PyPI (a test
dependency; it needs the same `mcp>=2.3,<3`), run over stdio as a user's config would run it, offline."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator

import pytest

from chatbot.core.client import ChatClient
from chatbot.core.session import Session
from chatbot.core.settings.schema import McpServerConfig
from chatbot.core.tools.approval import Approval, ApprovalRequest
from chatbot.core.tools.servers import ToolServers
from fake_openai import FakeOpenAI, Reply, tool_call


@pytest.fixture
async def servers() -> AsyncIterator[ToolServers]:
    tools = ToolServers({"time": McpServerConfig(command=sys.executable,
                                                 args=["-m", "mcp_server_time", "--local-timezone", "UTC"],
                                                 approve="read_only")})
    yield tools
    await tools.aclose()


async def test_a_third_party_server_is_listed_trusted_as_read_only_and_called(
        fake: FakeOpenAI, make_settings, api_key: str, servers: ToolServers) -> None:
    asked: list[ApprovalRequest] = []

    async def approve(request: ApprovalRequest) -> Approval:
        asked.append(request)
        return Approval.DENY

    client = ChatClient(api_key=api_key, base_url=fake.base_url, max_retries=0)
    session = Session(make_settings(model="gpt-4o"), client, tools=servers, approve=approve)
    arguments = '{"source_timezone": "UTC", "time": "16:30", "target_timezone": "Asia/Tokyo"}'
    fake.queue(Reply([], tool_calls=tool_call("c1", "time__convert_time", arguments), finish_reason="tool_calls"),
               Reply("It is 01:30 in Tokyo."))
    try:
        turn = session.send("16:30 UTC in Tokyo?")
        _ = [event async for event in turn]
    finally:
        await client.aclose()
    assert turn.outcome is not None and turn.outcome.ended == "finished"
    offered = {t["function"]["name"]: t["function"] for t in fake.chat_requests[0].body["tools"]}
    assert set(offered) == {"time__get_current_time", "time__convert_time"}
    assert set(offered["time__convert_time"]["parameters"]["properties"]) == {
        "source_timezone", "time", "target_timezone"}
    # Its tools say they are read-only, and approve = "read_only" trusts that: nothing was asked.
    assert asked == []
    (result,) = [m for m in fake.chat_requests[1].body["messages"] if m["role"] == "tool"]
    converted = json.loads(result["content"])
    assert converted["target"]["timezone"] == "Asia/Tokyo" and converted["time_difference"] == "+9.0h"
    assert converted["target"]["datetime"].endswith("T01:30:00+09:00")
