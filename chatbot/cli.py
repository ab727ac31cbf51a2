"""The `chat` command: flags -> Settings -> one-shot mode, or the TUI."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import TYPE_CHECKING, TextIO

from chatbot import __version__

if TYPE_CHECKING:
    from chatbot.cli_output import Output
    from chatbot.core.client import Client
    from chatbot.core.conversation import Message
    from chatbot.core.errors import ChatError
    from chatbot.core.session import Session
    from chatbot.core.settings import Settings
    from chatbot.core.store.history import HistoryStore

SUBCOMMANDS_HELP = """more commands:
  chat history [--search TEXT] [--json] [--clear]   list, search or delete stored conversations
  chat export ID [--format md|json] [-o FILE]       export a conversation
  chat import FILE                                  import a conversation exported as JSON
  chat usage [--json]                               tokens and cost per day and model

"""
EXIT_CODES_HELP = SUBCOMMANDS_HELP + """exit codes:
  0  success          2  bad usage, config, model or request     3  authentication
  4  rate limit, quota or spend limit     5  context too long     6  network or server
  130 interrupted"""


STORE_COMMANDS = ("history", "export", "import", "usage")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat",
        description="A terminal chat client for the OpenAI chat-completions API. "
        "With no prompt it opens the chat app; with -p or piped input it answers once and exits.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-p", "--prompt", help="send one prompt, stream the answer to stdout, and exit; "
                        "piped stdin is appended to it")
    parser.add_argument("--usage", action="store_true", help="after the answer, print tokens and cost to stderr")
    parser.add_argument("--json", action="store_true", help="print the reply, usage and cost as one JSON object")
    parser.add_argument("-m", "--model", help="model to use (see --list-models)")
    parser.add_argument("--preset", help="parameter preset: balanced, support, writing, extraction, or your own")
    parser.add_argument("-s", "--system", dest="system_prompt", help="system prompt")
    parser.add_argument("--temperature", type=float, help="sampling temperature, 0..2 (overrides the preset)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling, 0..1 (overrides the preset)")
    parser.add_argument("--max-tokens", type=int, help="longest reply in tokens (overrides the preset)")
    parser.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://localhost:11434/v1")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $XDG_CONFIG_HOME/chatbot/config.toml)")
    parser.add_argument("-c", "--continue", dest="resume_last", action="store_true",
                        help="continue the last conversation (in the app, or with -p)")
    parser.add_argument("--resume", metavar="ID", type=int, help="continue conversation ID (see `chat history`)")
    parser.add_argument("--no-history", action="store_true", help="keep nothing of this run in the history")
    parser.add_argument("--save", action="store_true", help="keep a one-shot exchange in the history")
    parser.add_argument("--demo", action="store_true",
                        help="try chat offline: canned demo replies, no key, no server, nothing sent")
    parser.add_argument("--list-models", action="store_true", help="list known models with context window and prices")
    parser.add_argument("--config-example", action="store_true",
                        help="print a config.toml documenting every key (chat --config-example > config.toml)")
    parser.add_argument("--version", action="version", version=f"chat {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in STORE_COMMANDS:
        from chatbot import store_cli

        return store_cli.main(argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        words = " ".join(extra)
        hint = f'\n  to ask once: chat -p "{words}"' if not any(w.startswith("-") for w in extra) else ""
        parser.error(f"unrecognized arguments: {words}{hint}")
    from chatbot.cli_output import stderr, stdout

    if args.config_example:
        from chatbot.core.paths import packaged

        stdout().document(packaged("config.example.toml").read_text(encoding="utf-8"))
        return 0
    # Imported after parsing so --version and --help stay instant.
    from chatbot.core.errors import EXIT_CLOSED, EXIT_INTERRUPTED, ChatError

    # Start-up builds long-lived objects (modules, settings, styles), so the cyclic collector's passes over them
    # find nothing and only delay the first paint. The app freezes them and turns it back on before its first
    # screen; every other path turns it back on when it returns.
    gc.disable()
    try:
        settings, warnings = _load(args)
        if args.demo:
            from chatbot.core.demo import demo_settings

            settings = demo_settings(settings)
        if args.list_models:
            _list_models(settings, stdout())
            _list_server_models(settings, stdout())
            return 0
        piped = _read_stdin()
        if args.prompt is None and piped is None:
            return _run_tui(settings, warnings, args)
        gc.enable()
        for warning in warnings:
            stderr().line(f"chat: warning: {warning}")
        return _one_shot(settings, args, _compose(args.prompt, piped))
    except ChatError as exc:
        return report(exc)
    except KeyboardInterrupt:
        stderr().line("\nchat: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Stop quietly, as a tool killed by SIGPIPE does; stdout goes to /dev/null so the interpreter's last
        # flush cannot fail again on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED
    finally:
        gc.enable()


def _load(args: argparse.Namespace) -> tuple[Settings, list[str]]:
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


def _compose(prompt: str | None, piped: str | None) -> str:
    from chatbot.core.errors import UsageError
    from chatbot.core.terminal import neutralize

    text = neutralize("\n\n".join(part for part in (prompt, piped) if part and part.strip()))
    if not text.strip():
        raise UsageError("nothing to send: the prompt is empty", 'give a prompt with -p "..." or pipe text in')
    return text


def _run_tui(settings: Settings, warnings: list[str], args: argparse.Namespace) -> int:
    from chatbot.ui.app import run

    store = _open_store(settings, args, one_shot=False)
    return run(settings, warnings, store=store, resume_id=_resume_id(store, args), client=_demo_client(args))


def _demo_client(args: argparse.Namespace) -> Client | None:
    """The offline demo responder with --demo; None lets the app and one-shot build the real client."""
    from chatbot.core.demo import DemoClient

    return DemoClient() if args.demo else None


def _open_store(settings: Settings, args: argparse.Namespace, *, one_shot: bool) -> HistoryStore | None:
    """The history store, if this run keeps history: the app by default, one-shot with --save or -c/--resume."""
    from chatbot.core.errors import UsageError

    wanted = args.save or args.resume_last or args.resume is not None or not one_shot
    if args.no_history or not settings.history:
        if args.resume_last or args.resume is not None:
            raise UsageError("-c/--resume need the history", "drop --no-history, or set history = true")
        return None
    if not wanted:
        return None
    from chatbot.store_cli import open_store

    return open_store()


def report(exc: ChatError) -> int:
    """Print `exc` as the one line a failed command ends with, and return its exit code."""
    from chatbot.cli_output import stderr

    hint = f" ({exc.hint})" if exc.hint else ""
    stderr().line(f"chat: {exc.headline()}{hint}")
    return exc.exit_code


def _resume_id(store: HistoryStore | None, args: argparse.Namespace) -> int | None:
    from chatbot.core.errors import UsageError

    if store is None or not (args.resume_last or args.resume is not None):
        return None
    conversation_id = args.resume if args.resume is not None else store.last_id()
    if conversation_id is None:
        raise UsageError("there is no conversation to continue yet", "start one with chat")
    if not store.exists(conversation_id):
        raise UsageError(f"no conversation {conversation_id}", "chat history lists them")
    return conversation_id


def _one_shot(settings: Settings, args: argparse.Namespace, prompt: str) -> int:
    import asyncio

    from chatbot.core.assembly import assemble
    from chatbot.core.client import ChatClient

    store = _open_store(settings, args, one_shot=True)
    resume_id = _resume_id(store, args)
    client = _demo_client(args) or ChatClient.from_settings(settings)
    assembly = assemble(settings, client, store, resume_id=resume_id)
    session, writer = assembly.session, assembly.writer  # closed below: what is queued is written before chat exits
    if resume_id is not None:
        # Flags given for this run win over what the conversation was stored with.
        session.model = settings.model if args.demo else args.model or session.model
        session.preset_name = args.preset or session.preset_name
        if args.system_prompt:
            session.conversation.set_system_prompt(args.system_prompt)
    try:
        return asyncio.run(_stream_answer(session, prompt, args, sys.stdout, sys.stderr))
    finally:
        if writer is not None and (lost := writer.close()):
            from chatbot.cli_output import stderr

            stderr().line(f"chat: {lost} history writes could not be saved: {writer.error or ''}")
        if store is not None:
            store.close()


async def _stream_answer(session: Session, prompt: str, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from contextlib import aclosing

    from chatbot.cli_output import Output
    from chatbot.core.errors import ChatError
    from chatbot.core.events import Retrying, TextDelta

    # On a terminal, model text is data: escape sequences go, even when split across deltas.
    screen, notes = Output(out), Output(err)
    turn = session.send(prompt)
    try:
        # Closed here, not at interpreter exit: a reader that went away (`| head -1`) raises in the middle of the
        # stream, and the HTTP stream left open would be closed by the loop's shutdown, which reports the
        # broken pipe a second time as a traceback.
        async with aclosing(turn) as events:
            async for event in events:
                if isinstance(event, TextDelta) and not args.json:
                    screen.piece(event.text)
                elif isinstance(event, Retrying):
                    notes.line(f"chat: {event.error.message}; retrying in {event.delay:.1f}s "
                               f"({event.attempt}/{session.client.max_retries})")
    except ChatError:
        pass  # the outcome holds it
    finally:
        await session.client.aclose()
        screen.end_pieces()
    outcome = turn.outcome
    assert outcome is not None  # the turn has ended, however it ended
    reply, failure = outcome.reply, outcome.error
    if args.json:
        screen.json(_json_result(session, reply, failure))  # a failed request too: scripts read stdout
    if failure is not None and reply is None:
        screen.flush()
        raise failure
    if not args.json and reply and reply.content and not reply.content.endswith("\n"):
        screen.document("\n")
    screen.flush()
    if outcome.note:
        notes.line(f"chat: note: {outcome.note}")
    if args.usage:
        notes.line(_usage_line(session))
    if failure is not None:
        raise failure  # after the partial reply and its usage are out
    return 0


def _usage_line(session: Session) -> str:
    from chatbot.core.pricing import format_cost

    usage = session.last_usage
    if usage is None:
        return "usage: none"
    mark = "~" if usage.estimated else ""
    return (f"usage: prompt {mark}{usage.prompt_tokens} (cached {usage.cached_tokens}), "
            f"completion {mark}{usage.completion_tokens}, cost {format_cost(session.last_cost)}"
            f"{' (estimated)' if usage.estimated else ''}")


def _json_result(session: Session, reply: Message | None, failure: ChatError | None = None) -> dict[str, object]:
    usage = session.last_usage if reply is not None else None
    return {
        "model": session.model,
        "reply": reply.content if reply else "",
        "finish_reason": reply.finish_reason if reply else None,
        "usage": None if usage is None else {
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens, "estimated": usage.estimated,
        },
        "cost_usd": None if reply is None or session.last_cost is None else str(session.last_cost),
        "error": None if failure is None else failure.headline(),
    }


def _list_models(settings: Settings, out: Output) -> None:
    from chatbot.core.models import PRICES_AS_OF

    rows = [("model", "context", "max out", "input $/1M", "cached $/1M", "output $/1M")]
    for spec in settings.all_models().values():
        p = spec.price
        rows.append((spec.name, f"{spec.context_window:,}", f"{spec.max_output:,}",
                     *(("?", "?", "?") if p is None else
                       (f"{p.input}", f"{p.cached_input if p.cached_input is not None else p.input}", f"{p.output}"))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = enumerate(zip(row, widths, strict=True))
        out.line("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in cells).rstrip())
    out.line(f"\nprices as of {PRICES_AS_OF}; override them under [models.NAME] in config.toml")
    if not settings.prices_from_catalogue:
        out.line("catalogue prices are OpenAI's and base_url is another server: `?` until [models.NAME] gives "
                 "prices (or catalogue_prices = true, for a proxy that bills as OpenAI does)")


def _list_server_models(settings: Settings, out: Output) -> None:
    """The ids another server offers (a local one serves models the catalogue cannot know)."""
    import asyncio

    from chatbot.cli_output import stderr
    from chatbot.core.client import ChatClient
    from chatbot.core.errors import ChatError
    from chatbot.core.models import is_openai_url

    if settings.base_url is None or is_openai_url(settings.base_url):
        return  # OpenAI's list is the catalogue and hundreds of ids that cannot chat
    url = settings.base_url.rstrip("/")
    try:
        # Short: the catalogue is already printed, and a dead server should not hold the prompt for a minute.
        names = asyncio.run(ChatClient.from_settings(settings).list_models(timeout=5.0))
    except ChatError as exc:
        stderr().line(f"chat: could not list the models of {url}: {exc.headline()}")
        return
    out.line(f"\nfrom the server at {url}:" if names else f"\nno models listed by {url}")
    for name in names:
        out.line(f"{name}  (from the server)")
