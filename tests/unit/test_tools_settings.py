"""[mcp_servers.NAME] and max_tool_rounds: the keys, their defaults, their errors, and the example config."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from chatbot.core.errors import ConfigError
from chatbot.core.settings import load_settings
from chatbot.core.settings.schema import McpServerConfig
from support import PROJECT

EXAMPLE = PROJECT / "config.example.toml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_server_from_the_config_file_with_its_defaults(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.toml", '[mcp_servers.files]\ncommand = "npx"\nargs = ["-y", "server"]\n')
    settings = load_settings(cfg)[0]
    files = settings.mcp_servers["files"]
    assert (files.command, files.args, files.env, files.enabled, files.approve, files.tools) == (
        "npx", ["-y", "server"], {}, True, "ask", {})
    assert settings.max_tool_rounds == 10


@pytest.mark.parametrize(("text", "says"), [
    ('[mcp_servers."my files"]\ncommand = "x"\n', "mcp_servers: server name 'my files'"),
    ("[mcp_servers.files]\nargs = []\n", "mcp_servers.files.command: Field required"),
    ('[mcp_servers.files]\ncommand = "x"\napprove = "sometimes"\n', "mcp_servers.files.approve"),
    ('[mcp_servers.files]\ncommand = "x"\ntools = { rm = "read_only" }\n', "mcp_servers.files.tools.rm"),
    ('[mcp_servers.files]\ncommand = "x"\ntimeout = 3\n', "mcp_servers.files.timeout: unknown key"),
    ("max_tool_rounds = 0\n", "max_tool_rounds"),
])
def test_bad_server_settings_name_the_key(tmp_path: Path, text: str, says: str) -> None:
    cfg = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg)
    assert says in caught.value.message
    assert str(cfg) in caught.value.message


def test_a_server_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_MCP_SERVERS__GIT__COMMAND", "uvx")
    assert load_settings(None)[0].mcp_servers["git"].command == "uvx"


def test_the_example_mentions_every_server_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [name for name in McpServerConfig.model_fields
               if not re.search(rf"^\s*#?\s*{name}\s*=", text, re.MULTILINE)]
    assert missing == []


def test_the_examples_server_is_a_valid_one_once_uncommented(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# [mcp_servers.files]"):].split("\n\n", 1)[0]
    lines = [line[2:] for line in block.splitlines() if re.match(r"# (\[|\w+ = )", line)]
    table = tomllib.loads("\n".join(lines))
    cfg = write(tmp_path / "config.toml", "\n".join(lines) + "\n")
    server = load_settings(cfg)[0].mcp_servers["files"]
    assert set(table["mcp_servers"]["files"]) == set(McpServerConfig.model_fields)
    assert server.approve == "read_only"
    assert server.tools["move_file"] == "never"
