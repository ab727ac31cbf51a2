"""When a tool call waits for the user's yes: policy.decide, a pure function of the config and the tool's hint."""

from __future__ import annotations

import pytest

from chatbot.core.settings.schema import McpServerConfig
from chatbot.core.tools import policy


def config(**kw: object) -> McpServerConfig:
    return McpServerConfig(command="server", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("approve", "read_only", "decision"), [
    ("ask", True, "ask"), ("ask", None, "ask"), ("ask", False, "ask"),
    ("read_only", True, "run"), ("read_only", None, "ask"), ("read_only", False, "ask"),
    ("always", True, "run"), ("always", None, "run"), ("always", False, "run"),
])
def test_the_servers_rule(approve: str, read_only: bool | None, decision: str) -> None:
    assert policy.decide(config(approve=approve), "tool", read_only) == decision


def test_ask_is_the_default() -> None:
    assert policy.decide(config(), "tool", True) == "ask"


def test_a_tools_own_rule_wins_over_the_servers() -> None:
    rules = config(approve="always", tools={"delete": "ask", "read": "always"})
    assert policy.decide(rules, "delete", True) == "ask"
    assert policy.decide(rules, "read", False) == "run"
    assert policy.decide(rules, "other", False) == "run"
    cautious = config(approve="ask", tools={"read": "always"})
    assert policy.decide(cautious, "read", None) == "run"


def test_never_keeps_a_tool_from_the_model() -> None:
    rules = config(tools={"move": "never"})
    assert not policy.offered(rules, "move")
    assert policy.offered(rules, "read")
