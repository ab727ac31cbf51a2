"""`chat history`, `chat export`, `chat import` and `chat usage`: the history store from the command line."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from chatbot.cli.output import report, stderr, stdout
from chatbot.cli.parser import Parsed
from chatbot.core.errors import EXIT_INTERRUPTED, ChatError, ConfigError, UsageError
from chatbot.core.pricing import Spent, format_cost
from chatbot.core.store.history import HistoryStore, default_path
from chatbot.core.store.opening import open_store
from chatbot.core.text import plural


def run_command(command: str, args: Parsed) -> int:
    """Run the store command `command` with `args`; returns the exit code."""
    try:
        store = open_store()
        try:
            return COMMANDS[command](store, args)
        finally:
            store.close()
    except sqlite3.Error as exc:
        return report(ConfigError(f"the history at {default_path()} failed: {exc}",
                                  "try again; if it keeps failing, move the file aside"))
    except ChatError as exc:
        return report(exc)
    except KeyboardInterrupt:  # ctrl+c at a question
        stderr().line("\nchat: interrupted")
        return EXIT_INTERRUPTED


def _date(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _history(store: HistoryStore, args: Parsed) -> int:
    if args.with_usage and not args.clear:
        raise UsageError("--with-usage goes with --clear", "chat history --clear --with-usage deletes both")
    if args.clear:
        count = store.count()
        if count and not args.yes and not _confirmed(f"delete {plural(count, 'conversation')} from {store.path}"):
            stderr().line("chat: nothing deleted")
            return 0
        store.clear(usage=args.with_usage)
        what = "history and usage deleted" if args.with_usage else "history deleted; chat usage keeps what was spent"
        stderr().line(f"chat: {what} ({store.path})")
        return 0
    if args.delete is not None:
        if not store.exists(args.delete):
            raise UsageError(f"no conversation {args.delete}", "chat history lists them")
        store.delete(args.delete)
        return 0
    out = stdout()
    if args.search:
        hits = store.search(args.search)
        if args.as_json:
            out.json([{"conversation": h.conversation_id, "message": h.message_id, "title": h.title,
                       "role": h.role, "snippet": h.snippet} for h in hits])
        else:
            # One line a hit, no header: `chat history --search x | wc -l` counts the hits.
            out.table([(str(h.conversation_id), h.title, f"{h.role}:", h.snippet) for h in hits],
                      right=(0, 2), widest={1: 40})
        return 0
    summaries = store.conversations()
    if args.as_json:
        out.json([{"id": s.id, "title": s.title, "created": s.created, "updated": s.updated,
                   "model": s.model, "preset": s.preset, "turns": s.turns,
                   **_cost_json(s.cost, "cost_usd")} for s in summaries])
    elif not summaries:
        out.line("no conversations yet: chat keeps each one it has (chat --no-history keeps none)")
    else:
        out.table([("id", "updated", "model", "turns", "cost", "title")]
                  + [(str(s.id), _date(s.updated), s.model, plural(s.turns, "turn"), format_cost(s.cost), s.title)
                     for s in summaries], right=(0, 3, 4))
    return 0


def _confirmed(deletion: str) -> bool:
    """Ask on the terminal, the default no. A script has no one to ask, and a piped `y` is no consent: --yes."""
    if not sys.stdin.isatty():
        raise UsageError(f"--clear would {deletion}, and there is no terminal to ask",
                         "add --yes to delete without asking")
    stderr().ask(f"chat: {deletion}? [y/N] ")
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _export(store: HistoryStore, args: Parsed) -> int:
    from chatbot.core.store.export import render, to_json

    try:
        stored = store.load(args.id)
    except KeyError:
        raise UsageError(f"no conversation {args.id}", "chat history lists them") from None
    if args.output:
        # A file is the conversation exactly, in either format.
        Path(args.output).write_text(render(stored, args.format, tree=args.all_branches) + "\n", encoding="utf-8")
    elif args.format == "md":
        stdout().document(render(stored, "md", tree=args.all_branches) + "\n")
    else:
        stdout().json(to_json(stored, tree=args.all_branches), indent=2)
    return 0


def _import(store: HistoryStore, args: Parsed) -> int:
    from chatbot.core.store.export import import_json

    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
        conversation_id = import_json(store, data)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot import {args.file}: {exc}",
                         "give a file written by chat export --format json") from None
    stdout().line(str(conversation_id))  # alone on stdout, for scripts
    stderr().line(f"chat: imported as conversation {conversation_id} (chat --resume {conversation_id} continues it)")
    return 0


def _usage(store: HistoryStore, args: Parsed) -> int:
    rows = store.usage()
    out = stdout()
    if args.as_json:
        out.json([{"day": r.day, "model": r.model, "requests": r.requests, "prompt_tokens": r.prompt_tokens,
                   "cached_tokens": r.cached_tokens, "completion_tokens": r.completion_tokens,
                   "reasoning_tokens": r.reasoning_tokens, **_cost_json(r.cost, "cost")} for r in rows])
        return 0
    if not rows:
        out.line("nothing spent yet: chat usage counts every request chat sends")
        return 0
    if len(rows) > 1:
        rows.append(replace(sum(rows[1:], rows[0]), day="total", model=""))
    # Reasoning is part of the completion (billed with it): a column of its own, never added to the others, and
    # only once some request reasoned.
    reasoned = any(r.reasoning_tokens for r in rows)
    header = ("day", "model", "requests", "prompt", "cached", "completion", *(("reasoning",) if reasoned else ()),
              "cost")
    out.table([header] + [(r.day, str(r.model), str(r.requests), f"{r.prompt_tokens:,}", f"{r.cached_tokens:,}",
                           f"{r.completion_tokens:,}", *((f"{r.reasoning_tokens:,}",) if reasoned else ()),
                           format_cost(r.cost)) for r in rows], right=range(2, len(header)))
    return 0


def _cost_json(spent: Spent, key: str) -> dict[str, object]:
    """`key`: the exact total, null if some part has no price; `known_<key>`: the part that has one."""
    return {key: None if spent.exact is None else str(spent.exact), f"known_{key}": str(spent.known)}


COMMANDS: dict[str, Callable[[HistoryStore, Parsed], int]] = {
    "history": _history, "export": _export, "import": _import, "usage": _usage}
