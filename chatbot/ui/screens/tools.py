"""The tools screen: each configured MCP server and how it is (not started, starting, running, failed with the
end of its stderr), its tools with their descriptions, and which of them the model is offered in this
conversation (space or enter turns one on or off).

Opening it starts the servers that have not started: their tools are what it lists. Names, descriptions and
stderr are the servers' text, drawn as data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from chatbot.core.text import plural
from chatbot.ui.screens.dialog import Dialog
from chatbot.ui.shown import shown

if TYPE_CHECKING:
    from chatbot.core.session import Session
    from chatbot.core.tools.servers import McpServer, ToolServers
    from chatbot.ui.screens.chat import ChatScreen

NO_SERVERS = "No MCP servers are configured: add [mcp_servers.NAME] with a command to config.toml."


def open_tools(screen: ChatScreen) -> None:
    """The tools screen over the chat screen, whose status bar counts the tools again once it closes."""
    if not screen.session.tools:
        screen.notify(NO_SERVERS, title="Tools")
        return
    screen.app.push_screen(ToolsScreen(screen.session), lambda _: screen.refresh_status())


def server_line(server: McpServer, tools: int, *, starting: bool) -> str:
    """How one server is, in a line (and the end of its stderr below, when it failed)."""
    if (failure := server.failure) is not None:
        tail = "".join(f"\n    {line}" for line in failure.stderr_tail.splitlines())
        return f"✗ {server.name} · failed: {failure.summary}" + (f"\n    its stderr ends:{tail}" if tail else "")
    if server.running:
        return f"● {server.name} · running · {plural(tools, 'tool')}"
    return f"… {server.name} · starting" if starting else f"○ {server.name} · not started"


class ToolsScreen(Dialog[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f9", "dismiss(None)", "Close", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.starting = False

    @property
    def servers(self) -> ToolServers:
        assert self.session.tools is not None, "the screen opens only when servers are configured"
        return self.session.tools

    def compose(self) -> ComposeResult:
        with Vertical(id="tools"):
            yield Static(shown("Tools offered to the model in this conversation"), id="tools-title")
            yield Static(shown(""), id="tools-servers")
            yield SelectionList[str](id="tools-list")
            yield Static(shown("space or enter turns a tool on or off for this conversation · escape closes"),
                         id="tools-footer")

    def on_mount(self) -> None:
        self.draw()
        self.query_one(SelectionList).focus()
        self.start_servers()

    @work(group="tool-servers", exit_on_error=False)
    async def start_servers(self) -> None:
        """Start what has not started; the list fills once every server has started or failed."""
        self.starting = True
        self.draw()
        try:
            await self.servers.tools()
        finally:
            self.starting = False
        if self.is_attached:
            self.draw()

    def draw(self) -> None:
        offered = self.servers.offered
        counts = {name: sum(1 for spec in offered if spec.server == name) for name in self.servers.servers}
        lines = [server_line(server, counts[name], starting=self.starting)
                 for name, server in self.servers.servers.items()]
        lines += [f"○ {name} · off in the config (enabled = false)"
                  for name, config in self.session.settings.mcp_servers.items() if not config.enabled]
        self.query_one("#tools-servers", Static).update(shown("\n".join(lines)))
        listing = self.query_one(SelectionList)
        highlighted = listing.highlighted
        listing.clear_options()
        listing.add_options([
            Selection(shown(f"{spec.server}: {spec.tool}" + (f" · {first_line(spec.description)}"
                                                              if spec.description else "")),
                      spec.name, spec.name not in self.session.tools_off)
            for spec in offered])
        if highlighted is not None and offered:
            listing.highlighted = min(highlighted, len(offered) - 1)

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        event.stop()
        selected = set(event.selection_list.selected)
        names = {spec.name for spec in self.servers.offered}
        # Tools turned off before a server was restarted (or listed by a server now gone) stay off.
        self.session.tools_off = (self.session.tools_off - names) | (names - selected)


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
