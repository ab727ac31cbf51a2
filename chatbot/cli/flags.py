"""What the flags the app and one-shot share mean: --demo, --save and --no-history, -c and --resume."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatbot.cli.parser import Parsed
    from chatbot.core.client import Client
    from chatbot.core.settings import Settings
    from chatbot.core.store.history import HistoryStore


def demo_client(args: Parsed) -> Client | None:
    """The offline demo responder with --demo; None lets the app and one-shot build the real client."""
    from chatbot.core.demo import DemoClient

    return DemoClient() if args.demo else None


def keeps_conversation(args: Parsed, *, one_shot: bool) -> bool:
    """Whether the conversation is kept: the app's always, one-shot's with --save or -c/--resume. Its requests are
    counted in the ledger either way (open_history)."""
    return args.save or args.resume_last or args.resume is not None or not one_shot


def open_history(settings: Settings, args: Parsed, *, one_shot: bool) -> HistoryStore | None:
    """The history store, unless this run keeps nothing (--no-history, history = false). A one-shot run that keeps
    no conversation opens it for the ledger alone, so `chat usage` counts what it spent; if the file cannot be
    opened, that run answers anyway and says on stderr that its request goes uncounted."""
    from chatbot.core.errors import ConfigError, UsageError

    if args.no_history or not settings.history:
        if args.resume_last or args.resume is not None:
            raise UsageError("-c/--resume need the history", "drop --no-history, or set history = true")
        return None
    from chatbot.core.store.opening import open_store

    try:
        return open_store()
    except ConfigError as exc:
        if keeps_conversation(args, one_shot=one_shot):
            raise
        from chatbot.cli.output import stderr

        stderr().line(f"chat: warning: {exc.message}; this request is not counted in chat usage")
        return None


def resumed_id(store: HistoryStore | None, args: Parsed) -> int | None:
    from chatbot.core.errors import UsageError

    if store is None or not (args.resume_last or args.resume is not None):
        return None
    conversation_id = args.resume if args.resume is not None else store.last_id()
    if conversation_id is None:
        raise UsageError("there is no conversation to continue yet", "start one with chat")
    if not store.exists(conversation_id):
        raise UsageError(f"no conversation {conversation_id}", "chat history lists them")
    return conversation_id
