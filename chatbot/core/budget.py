"""The sliding window: which messages go into the next request so it fits the model's context.

System messages always stay, the oldest whole turns (a user message and the replies after it) drop first,
and the newest turn never drops: if it cannot fit, the caller is told before anything is sent. (With
budget.strategy "summarize", chatbot.core.summary builds the window over a summary of the oldest turns.) A turn holds
its tool calls and their results too (every message up to the next user message), so an assistant message
that called tools and the tool messages answering it drop together: the API refuses one without the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.core.conversation import Message
from chatbot.core.errors import ContextTooLongError
from chatbot.core.tokens import REPLY_PRIMING, TokenCounter


@dataclass(frozen=True, slots=True)
class Window:
    kept: list[Message]
    dropped: list[Message]
    prompt_tokens: int
    budget: int
    dropped_turns: int = 0
    summarized_turns: int = 0  # of the dropped turns, those a summary stands in for (chatbot.core.summary)
    summarized: int = 0  # of the dropped messages, how many (the first) the summary stands in for


def prompt_budget(context_window: int, max_tokens: int, limit: int | None = None) -> int:
    """Tokens the prompt may use: the smaller of the configured limit and the window, less the reply reserve."""
    window = context_window if not limit else min(limit, context_window)
    return window - max_tokens


def split_turns(messages: list[Message]) -> tuple[list[Message], list[list[Message]]]:
    """System messages, and the rest grouped into turns that each start at a user message."""
    system: list[Message] = []
    turns: list[list[Message]] = []
    for message in messages:
        if message.role == "system":
            system.append(message)
        elif message.role == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return system, turns


def build_window(messages: list[Message], counter: TokenCounter, budget: int, tools: int = 0) -> Window:
    """The window for `messages`; `tools` is what the request's tool definitions add to the prompt."""
    system, turns = split_turns(messages)
    turn_tokens = [sum(counter.count_message(m) for m in turn) for turn in turns]
    fixed = REPLY_PRIMING + tools + sum(counter.count_message(m) for m in system)
    total = fixed + sum(turn_tokens)
    first = 0
    while total > budget and first < len(turns) - 1:
        total -= turn_tokens[first]
        first += 1
    if total > budget:
        newest = turn_tokens[-1] if turns else 0
        raise ContextTooLongError(
            f"the message needs {total:,} prompt tokens ({newest:,} for the newest turn, "
            f"{fixed:,} for the system prompt{' and tools' if tools else ''}) but only {max(budget, 0):,} fit",
            "shorten the message or the system prompt, lower max_tokens, or pick a model with a larger window",
        )
    kept_turns = [m for turn in turns[first:] for m in turn]
    dropped = [m for turn in turns[:first] for m in turn]
    # Keep the conversation's order: system messages where they stood relative to kept turns.
    kept_ids = {id(m) for m in kept_turns} | {id(m) for m in system}
    kept = [m for m in messages if id(m) in kept_ids]
    return Window(kept=kept, dropped=dropped, prompt_tokens=total, budget=budget, dropped_turns=first)

