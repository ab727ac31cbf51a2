"""The `chat` command: arguments -> a store command, or Settings -> one-shot mode, --list-models or the app."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from chatbot.cli.parser import Parsed, parse

if TYPE_CHECKING:
    from chatbot.core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        return _run(args)
    except BrokenPipeError:
        # The reader went away (`chat history | head -1`): stop quietly, as a tool killed by SIGPIPE does. stdout
        # goes to /dev/null so the interpreter's last flush cannot fail again on the way out.
        from chatbot.core.errors import EXIT_CLOSED

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED


def _run(args: Parsed) -> int:
    if args.command == "cost":  # the catalogue's prices alone: no store to open
        from chatbot.cli.cost import run_cost
        from chatbot.cli.output import report
        from chatbot.core.errors import ChatError

        try:
            return run_cost(args)
        except ChatError as exc:
            return report(exc)
    if args.command is not None:
        from chatbot.cli.store_commands import run_command

        return run_command(args.command, args)
    from chatbot.cli.output import report, stderr, stdout

    if args.config_example:
        from chatbot.core.paths import packaged

        stdout().document(packaged("config.example.toml").read_text(encoding="utf-8"))
        return 0
    # Imported after parsing so --version and --help stay instant.
    from chatbot.core.errors import EXIT_INTERRUPTED, ChatError
    from chatbot.ui.collector import starting_up

    try:
        with starting_up():
            settings, warnings = _load(args)
            if args.demo:
                from chatbot.core.demo import DEMO_MODEL, demo_settings

                settings = demo_settings(settings)
                if args.model:
                    warnings.append(f"--demo answers as the model {DEMO_MODEL!r}: -m {args.model} is not used")
            if args.list_models:
                from chatbot.cli.catalogue import list_models

                list_models(settings)
                return 0
            from chatbot.cli.one_shot import attaches_stdin, check_attach

            check_attach(args)
            # `-a -`: stdin is the attached file, read as bytes when it is attached, not text to append.
            piped = None if attaches_stdin(args) else _read_stdin()
            if args.prompt is None and piped is None:
                return _run_app(settings, warnings, args)
        from chatbot.cli.one_shot import compose, one_shot

        for warning in warnings:
            stderr().line(f"chat: warning: {warning}")
        return one_shot(settings, args, compose(args.prompt, piped))
    except ChatError as exc:
        return report(exc)
    except KeyboardInterrupt:
        stderr().line("\nchat: interrupted")
        return EXIT_INTERRUPTED


def _load(args: Parsed) -> tuple[Settings, list[str]]:
    from chatbot.core.settings import load_settings

    return load_settings(
        args.config, model=args.model, preset=args.preset, system_prompt=args.system_prompt,
        temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, base_url=args.base_url,
    )


def _read_stdin() -> str | None:
    if sys.stdin is None or sys.stdin.isatty():
        return None
    # Bytes that are not UTF-8 become U+FFFD rather than stopping the request.
    return sys.stdin.buffer.read().decode("utf-8", errors="replace")


def _run_app(settings: Settings, warnings: list[str], args: Parsed) -> int:
    from chatbot.cli.flags import demo_client, open_history, resumed_id
    from chatbot.ui.app import run

    store = open_history(settings, args, one_shot=False)
    return run(settings, warnings, store=store, resume_id=resumed_id(store, args), client=demo_client(args))
