"""`chat history`, `chat export`, `chat import` and `chat usage`: the history store from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
from dataclasses import replace
from pathlib import Path

from chatbot.cli import report
from chatbot.cli_output import stderr, stdout
from chatbot.core.errors import EXIT_INTERRUPTED, ChatError, ConfigError, UsageError
from chatbot.core.pricing import Spent, format_cost
from chatbot.core.store.history import HistoryStore, default_path
from chatbot.core.terminal import one_line
from chatbot.core.text import plural


def open_store(path: Path | None = None) -> HistoryStore:
    try:
        return HistoryStore(path)
    except (sqlite3.Error, OSError) as exc:
        where = path or default_path()
        raise ConfigError(f"cannot open the history at {where}: {exc}",
                          "move the file aside, or run with --no-history") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chat", description="The conversation history.")
    commands = parser.add_subparsers(dest="command", required=True)
    history = commands.add_parser("history", help="list, search or delete stored conversations")
    history.add_argument("--search", metavar="TEXT", help="full-text search over every message")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.add_argument("--clear", action="store_true",
                         help="delete every conversation, asking first (what was spent stays in chat usage)")
    history.add_argument("--yes", action="store_true", help="with --clear: delete without asking (scripts)")
    history.add_argument("--with-usage", action="store_true",
                         help="with --clear: delete the record of requests and their cost too")
    history.add_argument("--delete", metavar="ID", type=int, help="delete one conversation")
    export = commands.add_parser("export", help="export a conversation")
    export.add_argument("id", type=int)
    export.add_argument("--format", choices=("md", "json"), default="md")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    imported = commands.add_parser("import", help="import a conversation exported as JSON")
    imported.add_argument("file")
    usage = commands.add_parser("usage", help="tokens and cost per day and model")
    usage.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        store = open_store()
        try:
            return COMMANDS[args.command](store, args)
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


def _history(store: HistoryStore, args: argparse.Namespace) -> int:
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
    # Names are cleaned before they are cut and padded (a store written by an older chat holds them raw): the
    # columns line up, and no sequence is cut in two. out.line() cleans the whole line as well.
    if args.search:
        hits = store.search(args.search)
        if args.json:
            out.json([{"conversation": h.conversation_id, "message": h.message_id, "title": h.title,
                       "role": h.role, "snippet": h.snippet} for h in hits])
        for h in hits if not args.json else []:
            out.line(f"{h.conversation_id:>5}  {one_line(h.title)[:40]:<40}  {h.role:>9}: {h.snippet}")
        return 0
    summaries = store.conversations()
    if args.json:
        out.json([{"id": s.id, "title": s.title, "created": s.created, "updated": s.updated,
                   "model": s.model, "preset": s.preset, "turns": s.turns,
                   **_cost_json(s.cost, "cost_usd")} for s in summaries])
        return 0
    for s in summaries:
        out.line(f"{s.id:>5}  {_date(s.updated)}  {one_line(s.model):<14} {plural(s.turns, 'turn'):>9}  "
                 f"{format_cost(s.cost):>10}  {one_line(s.title)}")
    return 0


def _confirmed(deletion: str) -> bool:
    """Ask on the terminal, the default no. A script has no one to ask, and a piped `y` is no consent: --yes."""
    if not sys.stdin.isatty():
        raise UsageError(f"--clear would {deletion}, and there is no terminal to ask",
                         "add --yes to delete without asking")
    stderr().ask(f"chat: {deletion}? [y/N] ")
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _export(store: HistoryStore, args: argparse.Namespace) -> int:
    from chatbot.core.store.export import render, to_json

    try:
        stored = store.load(args.id)
    except KeyError:
        raise UsageError(f"no conversation {args.id}", "chat history lists them") from None
    if args.output:
        # A file is the conversation exactly, in either format.
        Path(args.output).write_text(render(stored, args.format) + "\n", encoding="utf-8")
    elif args.format == "md":
        stdout().document(render(stored, "md") + "\n")
    else:
        stdout().json(to_json(stored), indent=2)
    return 0


def _import(store: HistoryStore, args: argparse.Namespace) -> int:
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


def _usage(store: HistoryStore, args: argparse.Namespace) -> int:
    rows = store.usage()
    out = stdout()
    if args.json:
        out.json([{"day": r.day, "model": r.model, "requests": r.requests, "prompt_tokens": r.prompt_tokens,
                   "cached_tokens": r.cached_tokens, "completion_tokens": r.completion_tokens,
                   **_cost_json(r.cost, "cost")} for r in rows])
        return 0
    if len(rows) > 1:
        rows.append(replace(sum(rows[1:], rows[0]), day="total", model=""))
    header = ("day", "model", "requests", "prompt", "cached", "completion", "cost")
    table = [header] + [(r.day, one_line(str(r.model)), str(r.requests), f"{r.prompt_tokens:,}",
                         f"{r.cached_tokens:,}", f"{r.completion_tokens:,}", format_cost(r.cost)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = enumerate(zip(row, widths, strict=True))
        out.line("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in cells))
    return 0


def _cost_json(spent: Spent, key: str) -> dict[str, object]:
    """`key`: the exact total, null if some part has no price; `known_<key>`: the part that has one."""
    return {key: None if spent.exact is None else str(spent.exact), f"known_{key}": str(spent.known)}


COMMANDS = {"history": _history, "export": _export, "import": _import, "usage": _usage}
