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


def open_history(settings: Settings, args: Parsed, *, one_shot: bool) -> HistoryStore | None:
    """The history store, if this run keeps history: the app by default, one-shot with --save or -c/--resume."""
    from chatbot.core.errors import UsageError

    wanted = args.save or args.resume_last or args.resume is not None or not one_shot
    if args.no_history or not settings.history:
        if args.resume_last or args.resume is not None:
            raise UsageError("-c/--resume need the history", "drop --no-history, or set history = true")
        return None
    if not wanted:
        return None
    from chatbot.core.store.opening import open_store

    return open_store()


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
