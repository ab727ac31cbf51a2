"""A session and what keeps it: the one place the app and `chat -p` put a session together with its observers.

The session runs turns and saves nothing; the recorder (the history) and the usage log observe it. Here they
are wired up, and a stored conversation is resumed on both sides at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatbot.core.client import Client
from chatbot.core.journal import Observer
from chatbot.core.session import Session
from chatbot.core.settings import Settings
from chatbot.core.store.history import HistoryStore, Stored
from chatbot.core.store.recorder import Recorder
from chatbot.core.store.usage_log import UsageLog
from chatbot.core.store.writer import Writer

if TYPE_CHECKING:
    from chatbot.core.tools.approval import Approver
    from chatbot.core.tools.servers import ToolServers


@dataclass
class Assembly:
    session: Session
    recorder: Recorder | None = None  # None: nothing of the conversation is kept
    writer: Writer | None = None  # the history's one writer thread; whoever assembled closes it
    tools: ToolServers | None = None  # the MCP servers; whoever assembled awaits their aclose()

    def resume(self, stored: Stored) -> None:
        """Continue `stored`: the session takes its conversation, and the recorder appends what comes next to
        the same stored conversation (a regenerate's new reply beside the one it replaced, an edit as a new branch)."""
        self.session.resume(stored.conversation, stored.model, stored.preset)
        if self.recorder is not None:
            self.recorder.resume(stored)  # after: resuming tells the recorder the conversation changed


def assemble(settings: Settings, client: Client, store: HistoryStore | None, *, resume_id: int | None = None,
             session: Session | None = None, tools: ToolServers | None = None,
             approve: Approver | None = None, keep_conversation: bool = True) -> Assembly:
    """A session on `client` that keeps its history in `store` (None: no history) and writes the usage log if
    the settings ask for one, resuming stored conversation `resume_id` if given. A `session` given is used as it
    is, with the observers it has; the store still gets its writer, for the changes the user makes to it.
    `tools` (default: the config's enabled MCP servers, none started yet) are offered to the model, and calls
    the config does not let run ask `approve`; the caller awaits `assembly.tools.aclose()` when done. Without
    `keep_conversation` the store keeps the requests' ledger rows alone."""
    if tools is None and session is None and settings.mcp_servers:
        from chatbot.core.tools.servers import ToolServers

        tools = ToolServers.from_settings(settings) or None
    writer = Writer(store.path) if store is not None else None
    recorder = None
    if session is None:
        observers: list[Observer] = []
        if writer is not None:
            observers.append(recorder := Recorder(writer, conversation=keep_conversation))
        if settings.usage_log:
            observers.append(UsageLog())
        session = Session(settings, client, observers=observers, tools=tools, approve=approve)
    elif tools is not None:
        session.tools, session.approve = tools, approve or session.approve
    if session.tools is not None and session.config_file is None:
        from chatbot.core.settings import config_path

        session.config_file = config_path()[0]  # where "always" is written: the file the settings came from
    assembly = Assembly(session, recorder, writer, session.tools)
    if store is not None and resume_id is not None:
        assembly.resume(store.load(resume_id))
    return assembly
