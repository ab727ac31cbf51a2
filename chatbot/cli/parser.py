"""`chat`'s arguments: the chat flags, and the store commands as argparse subcommands.

`chat` alone, `chat -p ...` and piped input chat; `chat history|export|import|usage` work on the history and
take only their own flags. Every help text is argparse's, generated from what is defined here.
"""

from __future__ import annotations

import argparse

from chatbot import __version__

EXIT_CODES_HELP = """exit codes:
  0  success          2  bad usage, config, model or request     3  authentication
  4  rate limit, quota or spend limit     5  context too long     6  network or server
  130 interrupted"""

METAVAR = "COMMAND"  # the subcommand's name in help and in argparse's errors


class Parsed(argparse.Namespace):
    """What argparse found, and the parser a late error is reported by (a subcommand's own usage line)."""

    command: str | None
    parser: argparse.ArgumentParser


def _chat_flags(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Adds the chat flags; returns them (--help and --version aside): what a store command cannot take."""
    flag = parser.add_argument
    flags = [
        flag("-p", "--prompt", help="send one prompt, stream the answer to stdout, and exit; "
             "piped stdin is appended to it"),
        flag("-a", "--attach", metavar="FILE", action="append", dest="attach",
             help="send FILE with the prompt (repeatable): an image (PNG, JPEG, WebP, GIF; FILE:low, FILE:high "
             "or FILE:auto sets its detail) or a text file; - reads it from stdin, and the prompt from -p"),
        flag("--usage", action="store_true", help="after the answer, print tokens and cost to stderr"),
        flag("--json", action="store_true", help="print the reply, usage and cost as one JSON object"),
        flag("-m", "--model", help="model to use (see --list-models)"),
        flag("--preset", help="parameter preset: balanced, support, writing, extraction, or your own"),
        flag("-s", "--system", dest="system_prompt", help="system prompt"),
        flag("--temperature", type=float, help="sampling temperature, 0..2 (overrides the preset)"),
        flag("--top-p", type=float, help="nucleus sampling, 0..1 (overrides the preset)"),
        flag("--max-tokens", type=int, help="longest reply in tokens (overrides the preset)"),
        flag("--base-url", help="an OpenAI-compatible server, e.g. http://localhost:11434/v1"),
        flag("--config", metavar="PATH", help="config file (default: $XDG_CONFIG_HOME/chatbot/config.toml)"),
        flag("-c", "--continue", dest="resume_last", action="store_true",
             help="continue the last conversation (in the app, or with -p)"),
        flag("--resume", metavar="ID", type=int, help="continue conversation ID (see `chat history`)"),
        flag("--no-history", action="store_true", help="keep nothing of this run in the history"),
        flag("--save", action="store_true", help="keep a one-shot exchange in the history"),
        flag("--demo", action="store_true",
             help="try chat offline: canned demo replies, no key, no server, nothing sent"),
        flag("--list-models", action="store_true", help="list known models with context window and prices"),
        flag("--config-example", action="store_true",
             help="print a config.toml documenting every key (chat --config-example > config.toml)"),
    ]
    parser.add_argument("--version", action="version", version=f"chat {__version__}")
    return flags


def _store_commands(parser: argparse.ArgumentParser) -> None:
    # Their --json is `as_json`: argparse copies a subcommand's values, defaults too, over the chat flags'.
    commands = parser.add_subparsers(dest="command", title="commands", metavar=METAVAR,
                                     description="with no command, chat opens the app (or answers -p and piped text)")
    history = commands.add_parser("history", help="list, search or delete stored conversations",
                                  description="List, search or delete stored conversations.")
    history.add_argument("--search", metavar="TEXT", help="full-text search over every message")
    history.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    history.add_argument("--delete", metavar="ID", type=int, help="delete one conversation")
    history.add_argument("--clear", action="store_true",
                         help="delete every conversation, asking first (what was spent stays in chat usage)")
    history.add_argument("--yes", action="store_true", help="with --clear: delete without asking (scripts)")
    history.add_argument("--with-usage", action="store_true",
                         help="with --clear: delete the record of requests and their cost too")
    export = commands.add_parser("export", help="export a conversation", description="Export a conversation.")
    export.add_argument("id", type=int, help="the conversation (see chat history)")
    export.add_argument("--format", choices=("md", "json"), default="md", help="Markdown (default) or JSON")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument("--all-branches", "--tree", dest="all_branches", action="store_true",
                        help="every branch (regenerated replies, edits), not only the active one: JSON holds the"
                             " whole tree, Markdown heads each alternative \"Alternative 2/3\"")
    imported = commands.add_parser("import", help="import a conversation exported as JSON",
                                   description="Import a conversation written by chat export --format json.")
    imported.add_argument("file", help="the JSON file")
    usage = commands.add_parser("usage", help="tokens and cost per day and model",
                                description="Requests, tokens and cost per day and model, and in all.")
    usage.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    for name, sub in commands.choices.items():
        sub.prog = f"chat {name}"
        sub.set_defaults(parser=sub)


def build_parser(*, commands: bool = True) -> argparse.ArgumentParser:
    """The whole of `chat`'s arguments; commands=False: the chat flags alone."""
    return _build(commands=commands)[0]


def _build(*, commands: bool) -> tuple[argparse.ArgumentParser, list[argparse.Action]]:
    parser = argparse.ArgumentParser(
        prog="chat",
        description="A terminal chat client for the OpenAI chat-completions API. "
        "With no prompt it opens the chat app; with -p or piped input it answers once and exits.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # A word that is no command is a question typed without -p: parse() says how to ask it.
        exit_on_error=False,
    )
    flags = _chat_flags(parser)
    parser.set_defaults(parser=parser)
    if commands:
        _store_commands(parser)
    return parser, flags


def parse(argv: list[str]) -> Parsed:
    """`argv` parsed, or exit 2 with argparse's message (and, for words that are no command, how to ask them)."""
    parser, flags = _build(commands=True)
    try:
        args, extra = parser.parse_known_args(argv, namespace=Parsed())
    except argparse.ArgumentError as exc:
        if exc.argument_name == METAVAR:
            _not_a_command(argv)
        parser.error(str(exc))
    if extra:
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is not None:
        _refuse_chat_flags(flags, args)
    return args


def _not_a_command(argv: list[str]) -> None:
    """The first word that is no flag's value is no command either (`chat what is x`): exits 2."""
    chat_only = build_parser(commands=False)
    _, words = chat_only.parse_known_args(argv)
    text = " ".join(words)
    hint = f'\n  to ask once: chat -p "{text}"' if not any(w.startswith("-") for w in words) else ""
    chat_only.error(f"unrecognized arguments: {text}{hint}")


def _refuse_chat_flags(flags: list[argparse.Action], args: Parsed) -> None:
    """`chat -m gpt-4o history`: a chat flag before a store command would be ignored without a word, so it is
    refused. The store commands read no config and send nothing; what they take is in `chat COMMAND --help`."""
    given = ["/".join(flag.option_strings) for flag in flags if getattr(args, flag.dest) != flag.default]
    if given:
        what = f"{given[0]} is a chat flag" if len(given) == 1 else f"{', '.join(given)} are chat flags"
        args.parser.error(f"{what}, not one of chat {args.command}'s (see chat {args.command} --help)")
