"""`chat -p`: one prompt (and piped text) sent, the answer streamed to stdout, then chat exits."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from chatbot.cli.flags import demo_client, keeps_conversation, open_history, resumed_id

if TYPE_CHECKING:
    from chatbot.cli.parser import Parsed
    from chatbot.core.attachments import Attachment
    from chatbot.core.conversation import Message
    from chatbot.core.errors import ChatError
    from chatbot.core.session import Session
    from chatbot.core.settings import Settings
    from chatbot.core.tools.approval import ApprovalRequest, Approver


def attaches_stdin(args: Parsed) -> bool:
    return _stdin_count(args) > 0


def _stdin_count(args: Parsed) -> int:
    from chatbot.core.attachments import STDIN, split_detail

    return sum(split_detail(a)[0] == STDIN for a in args.attach or ())


def check_attach(args: Parsed) -> None:
    """-a sends files with a one-shot prompt: without -p there is no prompt for them (the app has no -a)."""
    from chatbot.core.errors import UsageError

    if _stdin_count(args) > 1:
        raise UsageError("-a - is given twice: stdin holds one file", "attach the others by name")
    if not args.attach or args.prompt is not None:
        return
    if attaches_stdin(args):
        raise UsageError("-a - reads the attached file from stdin, so the prompt must come from -p",
                         'give the prompt with -p "..."')
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("-a attaches files to a one-shot prompt, and there is none",
                         'give the prompt with -p "..." (or pipe it in)')


def attachments_for(session: Session, args: Parsed) -> list[Attachment]:
    """The files -a names, read and prepared for the session's model, in the order given. Raises before
    anything is sent: a file that cannot be attached, or images for a model that takes none."""
    from chatbot.core.attachments import attach, refuse_images

    settings = session.settings
    spec = session.spec
    limits = settings.attachments
    stdin = sys.stdin.buffer if attaches_stdin(args) and sys.stdin is not None else None
    files = [attach(a, spec, detail=limits.detail, max_bytes=limits.max_bytes, stdin=stdin)
             for a in args.attach or ()]
    refuse_images(spec, files, settings.models.get(spec.name))
    return files


def compose(prompt: str | None, piped: str | None) -> str:
    from chatbot.core.errors import UsageError
    from chatbot.core.terminal import neutralize

    text = neutralize("\n\n".join(part for part in (prompt, piped) if part and part.strip()))
    if not text.strip():
        raise UsageError("nothing to send: the prompt is empty", 'give a prompt with -p "..." or pipe text in')
    return text


def one_shot(settings: Settings, args: Parsed, prompt: str) -> int:
    import asyncio

    from chatbot.core.assembly import assemble
    from chatbot.core.client import ChatClient

    store = open_history(settings, args, one_shot=True)
    resume_id = resumed_id(store, args)
    client = demo_client(args) or ChatClient.from_settings(settings)
    assembly = assemble(settings, client, store, resume_id=resume_id, approve=_approver(args),
                        keep_conversation=keeps_conversation(args, one_shot=True))
    session, writer = assembly.session, assembly.writer  # closed below: what is queued is written before chat exits
    if resume_id is not None:
        # Flags given for this run win over what the conversation was stored with.
        session.model = settings.model if args.demo else args.model or session.model
        session.preset_name = args.preset or session.preset_name
        if args.system_prompt:
            session.conversation.set_system_prompt(args.system_prompt)
    try:
        files = attachments_for(session, args)
        return asyncio.run(_stream_answer(session, prompt, args, sys.stdout, sys.stderr, files))
    finally:
        if writer is not None and (lost := writer.close()):
            from chatbot.cli.output import stderr

            stderr().line(f"chat: {lost} history writes could not be saved: {writer.error or ''}")
        if store is not None:
            store.close()


async def _stream_answer(session: Session, prompt: str, args: Parsed, out: TextIO, err: TextIO,
                         attachments: list[Attachment]) -> int:
    import asyncio
    from contextlib import aclosing

    from chatbot.cli.output import Output
    from chatbot.core.errors import ChatError
    from chatbot.core.events import ReasoningDelta, Retrying, TextDelta

    # On a terminal, model text is data: escape sequences go, even when split across deltas.
    screen, notes = Output(out), Output(err)
    # The model's reasoning never reaches stdout, which holds the answer alone. With --show-reasoning it goes to
    # stderr as it streams (dimmed on a terminal); without, nowhere: a stderr kept as a log gets no pages of it
    # unasked, and --json has it anyway.
    thinking = Output(err)
    reasoning_shown = False
    turn = session.send(prompt, attachments)
    interrupted = False
    try:
        # Closed here, not at interpreter exit: a reader that went away (`| head -1`) raises in the middle of the
        # stream, and the HTTP stream left open would be closed by the loop's shutdown, which reports the
        # broken pipe a second time as a traceback.
        async with aclosing(turn) as events:
            async for event in events:
                if isinstance(event, TextDelta) and not args.json:
                    if reasoning_shown:
                        thinking.end_aside()
                        reasoning_shown = False
                    screen.piece(event.text)
                elif isinstance(event, ReasoningDelta) and not args.json and args.show_reasoning:
                    thinking.aside(event.text)
                    reasoning_shown = True
                elif (said := tool_line(event)) is not None:
                    if reasoning_shown:
                        thinking.end_aside()
                        reasoning_shown = False
                    screen.end_pieces()
                    screen.flush()
                    notes.line(said)
                elif isinstance(event, Retrying):
                    notes.line(f"chat: {event.error.message}; retrying in {event.delay:.1f}s "
                               f"({event.attempt}/{session.client.max_retries})")
    except ChatError:
        pass  # the outcome holds it
    except asyncio.CancelledError:
        # ctrl+c: asyncio.run cancels this task. The turn has settled as stopped; what arrived, and what it
        # used, is printed as for any other ending, and then chat says it was interrupted.
        interrupted = True
    finally:
        await session.client.aclose()
        if session.tools is not None:
            await session.tools.aclose()
        if reasoning_shown:
            thinking.end_aside()
        screen.end_pieces()
    outcome = turn.outcome
    assert outcome is not None  # the turn has ended, however it ended
    reply, failure = outcome.reply, outcome.error
    if args.json:
        # A failed or interrupted request too: scripts read stdout.
        screen.json(_json_result(session, reply, failure, interrupted=interrupted))
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
    if interrupted:
        raise asyncio.CancelledError  # asyncio.run makes it the KeyboardInterrupt main() reports
    return 0


def _approver(args: Parsed) -> Approver:
    """One-shot asks nobody: a call the config does not let run runs with --approve-tools, else is declined."""
    from chatbot.core.tools.approval import Approval

    answer = Approval.ONCE if args.approve_tools else Approval.DENY

    async def approve(request: ApprovalRequest) -> Approval:
        return answer
    return approve


TOOL_LINE = 160  # characters of a call's arguments and of its result on its line


def tool_line(event: object) -> str | None:
    """The stderr line for a call's outcome (its start says nothing), or a tool problem; None for other events.
    Arguments and results are the model's and the tool's text: made one line and cut, and Output.line cleans
    them of terminal control."""
    from chatbot.core.events import ToolCallFinished, ToolProblem
    from chatbot.core.terminal import one_line
    from chatbot.core.tool_round import DECLINED

    if isinstance(event, ToolProblem):
        return f"chat: {event.error}"
    if not isinstance(event, ToolCallFinished):
        return None
    call = f"{event.call.name}({_cut(one_line(event.call.raw_arguments))})"
    if event.result == DECLINED:
        return f"chat: tool {call}: declined (--approve-tools runs it)"
    outcome = "failed" if event.error else "ok"
    return f"chat: tool {call}: {outcome} in {event.seconds:.1f}s: {_cut(one_line(event.result))}"


def _cut(text: str) -> str:
    return text if len(text) <= TOOL_LINE else text[:TOOL_LINE - 1] + "…"


def _usage_line(session: Session) -> str:
    from chatbot.core.pricing import format_cost

    usage = session.last_usage
    if usage is None:
        return "usage: none"
    mark = "~" if usage.estimated else ""
    reasoning = f" ({mark}{usage.reasoning_tokens} reasoning)" if usage.reasoning_tokens else ""
    line = (f"usage: prompt {mark}{usage.prompt_tokens} (cached {usage.cached_tokens}), "
            f"completion {mark}{usage.completion_tokens}{reasoning}, cost {format_cost(session.last_cost)}"
            f"{' (estimated)' if usage.estimated else ''}")
    totals = session.totals
    if totals.requests > 1:  # rounds of tool calls (or retries): the last request above, all of them here
        line += (f"; {totals.requests} requests: prompt {totals.prompt_tokens}, completion "
                 f"{totals.completion_tokens}, cost {format_cost(totals.known_cost)}")
    return line


def _json_result(session: Session, reply: Message | None, failure: ChatError | None = None, *,
                 interrupted: bool = False) -> dict[str, object]:
    usage = session.last_usage if reply is not None else None
    return {
        "model": session.model,
        "reply": reply.content if reply else "",
        "reasoning": reply.reasoning if reply else "",
        "finish_reason": reply.finish_reason if reply else None,
        "usage": None if usage is None else {
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens, "reasoning_tokens": usage.reasoning_tokens,
            "estimated": usage.estimated,
        },
        "cost_usd": None if reply is None or session.last_cost is None else str(session.last_cost),
        "error": "interrupted" if interrupted else None if failure is None else failure.headline(),
        "tool_calls": _turn_calls(session),
    }


def _turn_calls(session: Session) -> list[dict[str, object]]:
    """The calls this turn made, each with its result, in order: what followed the user's last message."""
    messages = session.conversation.messages
    user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    results = {m.tool_call_id: m for m in messages[user + 1:] if m.role == "tool"}
    return [{"name": call.name, "arguments": call.raw_arguments,
             "result": results[call.id].content if call.id in results else None,
             "error": results[call.id].tool_error if call.id in results else None}
            for m in messages[user + 1:] for call in m.tool_calls]
