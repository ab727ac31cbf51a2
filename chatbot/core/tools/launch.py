"""What a server process is started with: its command and arguments, the environment it may see, and the file
that keeps its stderr so a failure can show how it ended."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO, cast

from chatbot.core.errors import ToolServerError

if TYPE_CHECKING:
    from chatbot.core.settings.schema import McpServerConfig

# Passed to every server beside what its `env` lists: enough to find programs, its files and the user's locale.
# The SDK's stdio transport adds its own short list on top (LOGNAME, SHELL, TERM, USER): none of them a secret.
BASE_ENVIRONMENT = ("PATH", "HOME", "LANG")
STDERR_TAIL_BYTES = 4096
STDERR_TAIL_LINES = 3
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Launch:
    command: str
    args: tuple[str, ...]
    env: dict[str, str]


def launch_of(server: str, config: McpServerConfig, environ: Mapping[str, str]) -> Launch:
    """The process `config` describes, `${VAR}` expanded from `environ`. Raises ToolServerError naming a VAR
    that is not set: a server started without its token fails later, and less clearly."""
    env = {name: environ[name] for name in BASE_ENVIRONMENT if name in environ}
    env.update({key: expand(value, environ, server, f"env.{key}") for key, value in config.env.items()})
    return Launch(expand(config.command, environ, server, "command"),
                  tuple(expand(arg, environ, server, "args") for arg in config.args), env)


def expand(value: str, environ: Mapping[str, str], server: str, key: str) -> str:
    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ToolServerError(f"MCP server {server!r} not started: {key} uses ${{{name}}}, which is not set",
                                  f"set {name} in your environment, or change mcp_servers.{server}.{key}",
                                  server=server)
        return environ[name]

    return _VARIABLE.sub(variable, value)


def stderr_file() -> TextIO:
    """Where a server's stderr goes: a file, not a pipe, so a server that writes much never blocks on a reader,
    and what it wrote last is there after it died. Gone when closed."""
    # A text-mode TemporaryFile is a TextIOWrapper; typeshed calls it IO[str].
    return cast("TextIO", tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace"))


def stderr_tail(file: TextIO | None) -> str:
    """The last lines the server wrote to stderr, blank lines left out. Read at its descriptor's own offsets: the
    server writes through the same descriptor, so moving the file's position would move where it writes."""
    if file is None:
        return ""
    try:
        fd = file.fileno()
        size = os.fstat(fd).st_size
        data = os.pread(fd, STDERR_TAIL_BYTES, max(0, size - STDERR_TAIL_BYTES))
    except (OSError, ValueError):
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    if size > STDERR_TAIL_BYTES:
        lines = lines[1:]  # cut in the middle
    lines = [line.rstrip() for line in lines if line.strip()]
    return "\n".join(lines[-STDERR_TAIL_LINES:])
