"""The status bar: one line that formats the core's Status (chatbot.core.status); it computes no figure.

It holds the Status as reactive state, set by the chat screen when a turn reports progress or settles, and
draws it again only when it changes (or the bar is resized). It is always one line, at any width: a bar that
grows to two lines when a reply starts moves the prompt under the user's cursor. Every item is shown with its
full labels if the line fits, else with short ones (`in 21 (5 cached) out 900 (850 reasoning)`, `6 summarised`,
`dropped 2`); what still does not fit is left out, least important first:

1. the speed (tok/s), which changes on every frame of a reply
2. the reasoning count (part of the output count, which stays)
3. the cached count
4. the tokens of the files attached to the next message (the context used includes them)
5. the last request's cost (the session's stays)
6. how many tools are on (only when MCP servers are configured; "tools -" until they have started)
7. the preset name
8. the reasoning effort (only for a model that takes one, when the next request sends one)
9. the token counts
10. the session's cost
11. the context used
12. the summarised and the dropped turns
13. the retry state

The model name always stays; alone too long, it is cut with an ellipsis.
"""

from __future__ import annotations

from decimal import Decimal

from rich.cells import cell_len
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from chatbot.core.pricing import format_cost
from chatbot.core.status import Status
from chatbot.core.text import plural
from chatbot.ui.shown import shown

SEPARATOR = " │ "
DROP_ORDER = ("speed", "reasoning", "cached", "attached", "last", "tools", "preset", "effort", "tokens", "session",
              "ctx", "dropped", "retry")


def compact(n: int) -> str:
    """1234 -> 1.2k, 128000 -> 128k, 1047576 -> 1M."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        value, unit = n / 1000, "k"
    else:
        value, unit = n / 1_000_000, "M"
    return f"{value:.1f}".rstrip("0").rstrip(".") + unit if value < 10 else f"{value:.0f}{unit}"


def items(status: Status, *, full: bool = True, left_out: frozenset[str] = frozenset()) -> list[str]:
    """The bar's items in the order shown, with full or short labels, without those named in `left_out`."""
    head = [status.model, *([] if "preset" in left_out else [status.preset]),
            *([f"effort {status.effort}"] if status.effort and "effort" not in left_out else [])]
    shown_items = [" · ".join(head)]
    if status.retry is not None and "retry" not in left_out:
        left = status.retry.seconds_left
        shown_items.append("retry sent" if left is None else f"retry in {left}s")
    if "tokens" not in left_out:
        mark = "~" if status.estimated else ""
        prompt, cached, completion = status.prompt_tokens, status.cached_tokens, status.completion_tokens
        reasoning = status.reasoning_tokens
        # Inside the output count, as it is billed: said beside it, never added to it.
        reasoning_part = f" ({mark}{reasoning:,} reasoning)" if reasoning and "reasoning" not in left_out else ""
        if full:
            shown_items.append(
                f"prompt {mark}{prompt:,} cached {cached:,} completion {mark}{completion:,}{reasoning_part}")
        else:
            cached_part = f" ({cached:,} cached)" if cached and "cached" not in left_out else ""
            shown_items.append(f"in {mark}{prompt:,}{cached_part} out {mark}{completion:,}{reasoning_part}")
    if "ctx" not in left_out and status.window_unknown:
        # An OpenAI model nothing describes: the window is a guess that may drop turns for nothing, so said plainly.
        shown_items.append(f"ctx {compact(status.ctx_used)} window ? (assumed {status.ctx_limit:,})" if full
                           else f"ctx {compact(status.ctx_used)}/{compact(status.ctx_limit)}?")
    elif "ctx" not in left_out:
        # Named when the budget is the limit: `ctx 172/600` against a 128k model would read as a small window.
        budget = " budget" if status.budget_limited else ""
        assumed = "~" if status.window_assumed else ""  # a guess, like an estimated token count
        shown_items.append(f"ctx {compact(status.ctx_used)}/{assumed}{compact(status.ctx_limit)}{budget}")
    if status.attached_tokens and "attached" not in left_out:
        shown_items.append(f"attached ~{status.attached_tokens:,}" if full else f"att ~{status.attached_tokens:,}")
    if "dropped" not in left_out:
        # Turns a summary stands in for are sent, in short: only those with none are dropped.
        summarized, dropped = status.summarized_turns, status.dropped_turns - status.summarized_turns
        if summarized:
            shown_items.append(f"{plural(summarized, 'turn')} summarised" if full else f"{summarized} summarised")
        if dropped:
            shown_items.append(f"dropped {plural(dropped, 'turn')}" if full else f"dropped {dropped}")
    if "last" not in left_out:
        shown_items.append(f"last {format_cost(status.last_cost) if status.replied else '-'}")
    if "session" not in left_out:
        shown_items.append(f"session {format_cost(status.session_cost)}")
    if status.tools_on is not None and "tools" not in left_out:
        shown_items.append(f"tools {status.tools_on if status.tools_listed else '-'}")
    if status.tokens_per_second is not None and "speed" not in left_out:
        shown_items.append(f"{status.tokens_per_second:.0f} tok/s")
    return shown_items


def cost_hint(worst: Decimal | None) -> str:
    """What the prompt's border says when the next request could cost more than cost_hint_above."""
    return "" if worst is None else f"next request up to {format_cost(worst)} + your message"


def fit(status: Status, width: int) -> str:
    """The one line of at most `width` cells that shows the most important items (see the module's order)."""
    line = SEPARATOR.join(items(status))
    if cell_len(line) <= width:
        return line
    for dropped in range(len(DROP_ORDER) + 1):
        line = SEPARATOR.join(items(status, full=False, left_out=frozenset(DROP_ORDER[:dropped])))
        if cell_len(line) <= width:
            return line
    return cut(line, width)


def cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, an ellipsis marking the cut."""
    if cell_len(text) <= width:
        return text
    while text and cell_len(text) > width - 1:
        text = text[:-1]
    return text + "…"


class StatusBar(Widget):
    status: reactive[Status | None] = reactive(None)
    """What the bar shows; None until the screen gives it the first figures."""

    def render(self) -> Content:
        # Model names may come from a server: never let them carry terminal controls.
        return shown("" if self.status is None else fit(self.status, max(self.size.width, 1)))
