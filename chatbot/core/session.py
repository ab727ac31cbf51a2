"""One conversation with a model: the window, the request, the reply, and the running totals.

Whatever happens to a request, the conversation stays consistent: a stopped or broken reply is kept with
what arrived (marked), and a message that got no reply at all is taken back out so it can be resent. The
conversation is a tree (chatbot.core.conversation): a regenerate adds a reply beside the one it replaces, an
edit a user message beside the one edited, a delete takes a message and its subtree out, a fork goes on with a
copy of the path up to a message; every request sends the active path.
The session keeps nothing itself: it tells its observers what happened (chatbot.core.journal), and the store
observes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Iterable
from contextlib import aclosing
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chatbot.core import journal
from chatbot.core.attachments import Attachment, refuse_images
from chatbot.core.budget import Window, prompt_budget
from chatbot.core.client import Client
from chatbot.core.conversation import Conversation, Message
from chatbot.core.errors import ChatError
from chatbot.core.events import Finished, ReasoningDelta, TextDelta, ToolCalls, Usage, UsageReport
from chatbot.core.models import ImageRule, ModelSpec, ReasoningEffort
from chatbot.core.presets import Preset, with_effort
from chatbot.core.pricing import billed, worst_case
from chatbot.core.request import ERROR, OK, RETRIED, STOPPED, Request, error_class
from chatbot.core.request_body import ToolDefinitions, accepted_effort, reply_reserve, stored_params
from chatbot.core.server_windows import ServerWindows
from chatbot.core.settings import Settings
from chatbot.core.summary import refresh, summarized_window
from chatbot.core.tokens import TokenCounter
from chatbot.core.totals import InFlight, Totals
from chatbot.core.turn import Ending, Turn

if TYPE_CHECKING:
    from pathlib import Path

    from chatbot.core.events import ToolEvent, TurnEvent
    from chatbot.core.tools.approval import Approver
    from chatbot.core.tools.servers import ToolServers


class Session:
    def __init__(self, settings: Settings, client: Client, conversation: Conversation | None = None,
                 *, clock: Callable[[], float] = time.monotonic,
                 observers: Iterable[journal.Observer] = (), tools: ToolServers | None = None,
                 approve: Approver | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.observers = list(observers)  # told, in this order, what happens to the conversation
        self.client = client
        self.conversation = conversation or Conversation(system_prompt=settings.system_prompt)
        self.model = settings.model
        self.preset_name = settings.preset
        self.effort: ReasoningEffort | None = None  # the effort menu's choice (presets.with_effort)
        self.totals = Totals()
        self.in_flight: InFlight | None = None
        self.last_usage: Usage | None = None
        self.last_cost: Decimal | None = None
        self.last_window: Window | None = None
        self._counters: dict[tuple[str, ImageRule | None], TokenCounter] = {}
        self.server_windows = ServerWindows()
        self.tools = tools  # the MCP servers whose tools the model is offered; None: no tools
        self.approve = approve  # asked before a call the policy does not let run; None: such calls are declined
        self.tools_off: set[str] = set()  # qualified tool names the user turned off for this conversation
        self.tools_allowed: set[str] = set()  # qualified tool names the user allowed for this conversation
        self.offered_tools: list[dict[str, Any]] = []  # the tools the last request offered, counted in the window
        self.config_file: Path | None = None  # where "always allow" is written; None: it holds for the run only

    # -- what the next request will use --

    @property
    def spec(self) -> ModelSpec:
        return self.settings.model_spec(self.model, server_window=self.server_windows.reported.get(self.model))

    @property
    def preset(self) -> Preset:
        return with_effort(self.settings.active_preset(self.preset_name), self.effort, self.spec)

    @property
    def counter(self) -> TokenCounter:
        return self._counter(self.spec)

    def _counter(self, spec: ModelSpec) -> TokenCounter:
        key = (spec.encoding, spec.image_rule)  # images cost what the model's rule says
        if key not in self._counters:
            self._counters[key] = TokenCounter(spec.encoding, spec.image_rule)
        return self._counters[key]

    def _tell(self, event: journal.Entry) -> None:
        for observer in self.observers:
            observer.observe(event)

    def _setup(self) -> journal.Setup:
        return journal.Setup(self.model, self.preset_name, self.conversation.system_prompt)

    def set_model(self, name: str) -> None:
        self.model = name
        self._tell(journal.SettingsChanged(self._setup()))

    def set_preset(self, name: str) -> None:
        self.settings.active_preset(name)  # raises ConfigError for an unknown name
        self.preset_name = name
        self._tell(journal.SettingsChanged(self._setup()))

    def set_system_prompt(self, text: str) -> None:
        self.conversation.set_system_prompt(text)
        self._tell(journal.SettingsChanged(self._setup()))

    def budget(self) -> int:
        return prompt_budget(self.spec.context_window, reply_reserve(self.spec, self.preset),
                             self.settings.budget.max_context_tokens)

    def window(self, tools: ToolDefinitions | None = None) -> Window:
        """The messages the next request would send, beside `tools` (default: those the last request offered).
        Raises ContextTooLongError if the newest turn cannot fit."""
        definitions = self.offered_tools if tools is None else tools
        return summarized_window(self, self.counter.count_tools(definitions))  # a summary in place of old turns

    def next_window(self) -> Window | None:
        """The window of the next request; None for an empty conversation or one whose newest turn cannot fit."""
        try:
            return self.window() if self.conversation.messages else None
        except ChatError:
            return None

    def dropped(self) -> list[Message]:
        """Messages the sliding window leaves out of the next request."""
        window = self.next_window()
        return window.dropped if window else []

    def new_conversation(self) -> None:
        self.conversation = Conversation(system_prompt=self.conversation.system_prompt)
        self._opened()
        self._tell(journal.ConversationStarted(self._setup()))

    def _opened(self) -> None:
        """Another conversation is open: the last-request figures were the previous one's, so they go (each
        stored reply shows its own in the transcript; the session's total stays, it is what this run spent)."""
        self.last_usage = self.last_cost = self.last_window = None
        self.tools_off.clear()  # what the user turned off or allowed was for that conversation
        self.tools_allowed.clear()

    def measure(self) -> None:
        """Let the counters describe the conversation as it stands: a resumed one, before anything is sent, uses
        the window its next request would (the tokenizer must be loaded by then)."""
        if self.last_window is None:
            self.last_window = self.next_window()

    def resume(self, conversation: Conversation, model: str, preset: str) -> None:
        """Continue a conversation made earlier with the model and preset it was made with (a preset this
        configuration lacks leaves the current one). Token counts the messages hold are reused, so a stored
        conversation has only its system prompt counted again."""
        self.conversation = conversation
        self.model = model
        if preset in self.settings.all_presets():
            self.preset_name = preset
        self._opened()
        self._tell(journal.ConversationResumed(self._setup()))

    # -- one turn --

    def send(self, text: str, attachments: Iterable[Attachment] = ()) -> Turn:
        """Add the user's message (with its attached files) and stream the reply. If the request fails or is
        stopped before the first token, the message is removed again (the outcome says so), so the caller can
        hand the text back."""
        files = tuple(attachments)
        return Turn(lambda turn: self._send(text, turn, files))

    def regenerate(self, at: Message | None = None) -> Turn:
        """Ask for another reply: to the last message (`at` None), to the user message `at`, or to the one the
        reply `at` answers. The new reply goes beside the one it replaces, which is kept as an alternative with
        whatever followed it (`outcome.replaced`). If no new reply comes, the path goes back where it was."""
        if at is not None and not any(m is at for m in self.conversation.messages):
            raise ValueError("only a message on the active path can be regenerated")
        return Turn(lambda turn: self._regenerate(turn, at))

    def edit(self, message: Message, text: str) -> Turn:
        """Edit a user message of the conversation and send it: a new branch forks at `message` and becomes
        the active one; the old branch is kept. Unsent (nothing came back), the path goes back to the old one."""
        return Turn(lambda turn: self._send(text, turn, edits=message))

    def switch(self, message: Message, step: int) -> Message:
        """Make the alternative `step` places from `message` active (-1: the one before); the rest of the
        conversation follows that alternative's branch. Returns the alternative now active."""
        chosen = self.conversation.switch(message, step)
        self._branch_changed()
        return chosen

    def select(self, message: Message) -> None:
        """Make the active path go through `message` (a search hit on another branch)."""
        self.conversation.select(message)
        self._branch_changed()

    def delete_from(self, message: Message) -> None:
        """Remove `message` and everything under it: the path goes on through the nearest alternative (the one
        before, else the one after), else ends at the parent. What the removed replies cost stays counted."""
        self._idle()
        removed = self.conversation.delete(message)
        self._tell(journal.MessagesDeleted(tuple(m.id for m in removed)))
        self._branch_changed()

    def fork_conversation(self, message: Message) -> None:
        """Go on in a new conversation holding copies of the path up to and including `message`, with the same
        system prompt, model and preset. The copies show what their replies cost; nothing is counted again."""
        self._idle()
        copy = self.conversation = self.conversation.copy_to(message)  # its summary too, if it holds those turns
        self._tell(journal.ConversationForked(self._setup(), tuple(map(journal.frozen, copy.messages)), copy.summary))
        self._branch_changed()

    def _idle(self) -> None:
        if self.in_flight is not None:  # the reply would join a message that is gone, or another conversation
            raise ValueError("not while a reply streams")

    def _branch_changed(self) -> None:
        """Another branch is active: the figures describe it, and the store keeps where the path ends."""
        reply = self.conversation.last_reply()
        self.last_usage, self.last_cost = (reply.usage, reply.cost) if reply else (None, None)
        self.last_window = self.next_window()
        self._tell_leaf()

    def _tell_leaf(self) -> None:
        leaf = self.conversation.leaf()
        self._tell(journal.BranchSwitched(None if leaf is None else leaf.id))

    async def _send(self, text: str, turn: Turn, attachments: tuple[Attachment, ...] = (),
                    edits: Message | None = None) -> AsyncGenerator[TurnEvent, None]:
        user = (self.conversation.add(Message("user", text, attachments=attachments)) if edits is None
                else self.conversation.fork(edits, text))
        previous_window = self.last_window
        ending = Ending()
        returned = False
        self.counter.count_message(user)  # the window needs it anyway; kept with it, it spares a resume the work
        self._tell(journal.MessageAdded(journal.frozen(user), self._setup(), _id(self.conversation.parent_of(user))))
        try:
            async with aclosing(self._answer(ending)) as replies:
                async for event in replies:
                    yield event
        except BaseException as exc:
            if isinstance(exc, ChatError):
                ending.error = exc  # also one raised before the request went out (the window, the spend guard)
            # aclosing has settled any partial reply by now, so the user message is last only if none came.
            if self.conversation.leaf() is user:
                self.conversation.withdraw(user)
                self.last_window = previous_window  # nothing went out: the counters stay as they were
                returned = True
                self._tell(journal.MessageWithdrawn(journal.frozen(user)))
                if edits is not None:
                    self._tell_leaf()  # back on the branch the edit would have left
            raise
        finally:
            turn.outcome = ending.settled(text_returned=returned)

    async def _regenerate(self, turn: Turn, at: Message | None) -> AsyncGenerator[TurnEvent, None]:
        conversation = self.conversation
        path, leaf = conversation.messages, conversation.leaf()
        at = at or leaf
        # The reply to replace: `at` itself, or the one after the user message `at` (none: it had no reply yet).
        old = at if at is None or at.role == "assistant" else next(iter(path[path.index(at) + 1:]), None)
        if old is not None:
            conversation.cut(conversation.parent_of(old))  # the new reply answers what the old one did
        ending = Ending()
        try:
            async with aclosing(self._answer(ending)) as replies:
                async for event in replies:
                    yield event
        except BaseException as exc:
            if isinstance(exc, ChatError):
                ending.error = exc
            raise
        finally:
            if ending.reply is None:
                if leaf is not None:
                    conversation.select(leaf)  # nothing came: the old branch is still the one shown and sent
                old = None
            turn.outcome = ending.settled(replaced=old)

    async def _answer(self, ending: Ending) -> AsyncGenerator[TurnEvent, None]:
        """The answer to the conversation as it stands, the turns that fell out summarised first (summary.py): one
        reply, or with tools every round of calls until the model answers in text (tool_round.py)."""
        await refresh(self, ending)
        if self.tools:
            from chatbot.core.tool_round import answer_with_tools  # the tools' modules only when there are tools
        async with aclosing(answer_with_tools(self, ending) if self.tools else self.reply(ending)) as replies:
            async for event in replies:
                yield event

    async def reply(self, ending: Ending | None = None, *,
                    tools: ToolDefinitions | None = None) -> AsyncGenerator[ToolEvent, None]:
        """Stream a reply to the conversation as it stands, offering the model `tools`. A stopped or broken reply
        keeps its text; a reply that called tools keeps its calls (answering them is the caller's).

        The model and preset are read once: the user may switch them while the reply streams, and that
        applies from the next request, not to how this one is counted, priced or stored."""
        await self.server_windows.learn(self.settings, self.model, self.spec)
        spec, preset = self.spec, self.preset
        counter = self._counter(spec)
        window = self.window(tools or [])
        self.totals.check_limit(self.settings.max_session_cost,
                                worst_case(spec, window.prompt_tokens, reply_reserve(spec, preset)))
        self.last_window = window
        self.client.check_ready()  # a request that cannot go out (no key) is not a request
        accepted_effort(spec, preset)  # nor is one the model would refuse (a reasoning_effort it does not take)
        refuse_images(spec, (a for m in window.kept for a in m.attachments), self.settings.models.get(spec.name))
        parent = self.conversation.leaf()
        flight = self.in_flight = InFlight(window, self.clock, spec=spec, parent=parent)
        attempt_started = flight.started
        announced = True  # the attempt under way was told as started
        self._tell(journal.RequestStarted(spec.name))
        progress = journal.ReplyProgress(lambda: flight.text)  # one for the whole reply: told per delta, it is free
        ending = ending or Ending()
        try:
            # Closed here, not left to the garbage collector: a reply given up mid-stream (stop, or a caller that
            # went away) shuts its stream down in order, before the client is closed.
            stream: AsyncGenerator[ToolEvent, None] = (
                self.client.stream(window.kept, spec, preset, tools=tools) if tools
                else self.client.stream(window.kept, spec, preset))
            async with aclosing(stream):
                async for event in stream:
                    if isinstance(event, (TextDelta, ReasoningDelta, ToolCalls)) and flight.first_token_at is None:
                        # Reasoning, or calls alone, is the reply starting too: the model generates (and bills) it.
                        flight.first_token_at = self.clock()
                        flight.retry_until = None
                        if not announced:
                            self._tell(journal.RequestStarted(spec.name))
                        announced = True
                        self._tell(journal.ReplyStarted(spec.name, self._setup(), _id(parent)))
                    if isinstance(event, (TextDelta, ReasoningDelta, ToolCalls, UsageReport)):
                        if flight.record(event, counter):
                            self._tell(progress)
                    elif isinstance(event, Finished):
                        ending.finish_reason = event.reason
                    else:
                        # The attempt that failed was a request too (billed nothing); the next one goes out
                        # after the wait.
                        self._account(Request(spec.name, RETRIED, error=error_class(event.error),
                                              request_id=event.error.request_id,
                                              total_seconds=round(self.clock() - attempt_started, 4)))
                        attempt_started, announced = self.clock() + event.delay, False
                        flight.retry_until = attempt_started
                        flight.retry_note = event.error.message
                    yield event
            ending.stopped = False
        except ChatError as exc:
            ending.stopped, ending.error = False, exc
            raise
        finally:
            # Stopped while waiting to retry: the next attempt never went out, so it is no request.
            sent = announced or not ending.stopped or self.clock() >= attempt_started
            ending.reply = self._settle(flight, spec, preset, ending, attempt_started if sent else None)

    def _settle(self, flight: InFlight, spec: ModelSpec, preset: Preset, ending: Ending,
                started: float | None) -> Message | None:
        """Record the reply and the request (if one went out, since `started`) with what it cost; runs on
        success, stop and failure alike. Returns the reply it added, if any text came."""
        self.in_flight = None
        if started is None:
            return None
        error, stopped = ending.error, ending.stopped
        if flight.usage is None and flight.first_token_at is not None:
            flight.usage = flight.estimated_usage(self._counter(spec))  # the server sent none
        generated = flight.first_token_at is not None or flight.usage is not None
        usage = flight.live_usage() if generated else Usage()  # nothing generated: nothing billed
        reply: Message | None = None
        request = Request(
            spec.name, ERROR if error else STOPPED if stopped else OK, usage, billed(usage, spec),
            error=error_class(error), request_id=flight.request_id or (error.request_id if error else None),
            first_token_seconds=None if flight.first_token_at is None else round(flight.first_token_at - started, 4),
            total_seconds=round(self.clock() - started, 4),
        )
        if generated:
            self.last_usage, self.last_cost = usage, request.cost
            reply = self.conversation.add(Message(
                "assistant", flight.text, model=spec.name, usage=usage, cost=request.cost,
                reasoning=flight.reasoning, finish_reason=ending.finish_reason, stopped=stopped,
                tool_calls=flight.tool_calls, error=error.message if error else None,
            ), parent=flight.parent)
            self._counter(spec).count_message(reply)  # kept with the reply: a resume never re-tokenizes it
            self._tell(journal.ReplyFinal(journal.frozen(reply), stored_params(spec, preset), self._setup(),
                                          _id(flight.parent)))
        self._account(request)
        return reply

    def _account(self, request: Request) -> None:
        """Count a request once: in the totals, and once to the observers."""
        self.totals.add(request.usage, request.cost)
        self._tell(journal.RequestSettled(request))


def _id(message: Message | None) -> int | None:
    return None if message is None else message.id
