"""A small MCP server for the tests, over stdio with the SDK's MCPServer (FastMCP before mcp 2).

Its tools: `read_note` (annotated read-only), `write_note`, `show_env` (what a variable is in its environment), `pid`,
`crash` (the process dies mid-call), `hang` (never answers) and `quiet` (a tool whose config says never).
`--fail-at-start` writes to stderr and exits before serving; `--hang-at-start` never answers the handshake.
"""

from __future__ import annotations

import os
import sys
import threading

# Before the SDK is imported, which takes a second: a server that never starts needs none of it.
if "--fail-at-start" in sys.argv:
    print("notes: cannot open the notebook", file=sys.stderr, flush=True)
    sys.exit(2)
if "--hang-at-start" in sys.argv:
    print(f"notes: waiting forever (pid {os.getpid()})", file=sys.stderr, flush=True)
    threading.Event().wait()

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("notes")
_notes: dict[str, str] = {}


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def read_note(title: str) -> str:
    """Read a note."""
    return _notes.get(title, f"no note called {title}")


@server.tool()
def write_note(title: str, text: str) -> str:
    """Write a note."""
    _notes[title] = text
    return f"saved {title}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def show_env(name: str) -> str:
    """The value of an environment variable, or <unset>."""
    return os.environ.get(name, "<unset>")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """Die mid-call."""
    print("notes: about to crash", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
def hang() -> str:
    """Never answer."""
    threading.Event().wait()
    return "unreachable"


@server.tool()
def quiet() -> str:
    """Never offered, by config."""
    return "quiet"


if __name__ == "__main__":
    server.run("stdio")
