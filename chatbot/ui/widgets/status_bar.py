"""The status bar: model, preset, tokens, context, dropped turns, cost and speed, from the session's figures."""

from __future__ import annotations

from textual.widgets import Static

from chatbot.core.pricing import format_cost
from chatbot.core.session import Session
from chatbot.ui.shown import shown, shown_text


def compact(n: int) -> str:
    """1234 -> 1.2k, 128000 -> 128k, 1047576 -> 1M."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        value, unit = n / 1000, "k"
    else:
        value, unit = n / 1_000_000, "M"
    return f"{value:.1f}".rstrip("0").rstrip(".") + unit if value < 10 else f"{value:.0f}{unit}"


def status_parts(session: Session) -> tuple[list[str], list[str]]:
    """The bar's items with full labels, and the same with short ones: the token counts named in/out, a cached
    count of 0 left out."""
    spec = session.spec
    flight = session.in_flight
    usage = flight.live_usage() if flight else session.last_usage
    mark = "~" if usage and usage.estimated else ""
    prompt, cached, completion = ((usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens) if usage
                                  else (0, 0, 0))
    tokens = f"prompt {mark}{prompt:,} cached {cached:,} completion {mark}{completion:,}"
    short_tokens = f"in {mark}{prompt:,}" + (f" ({cached:,} cached)" if cached else "") + f" out {mark}{completion:,}"
    window = flight.window if flight else session.last_window
    used = (window.prompt_tokens if window else 0) + (usage.completion_tokens if usage and window else 0)
    # Measured against what limits the request: the configured budget where it is below the model's window
    # (named, since `ctx 172/600` against a 128k model would read as a small window).
    budget = session.settings.budget.max_context_tokens
    if budget is not None and budget < spec.context_window:
        rest = [f"ctx {compact(used)}/{compact(budget)} budget"]
    else:
        rest = [f"ctx {compact(used)}/{compact(spec.context_window)}"]
    dropped = window.dropped_turns if window else 0
    if dropped:
        rest.append(f"dropped {dropped}")
    last, total = session.costs()
    # While a request waits for its first token, 'last' is that request's, which has cost nothing yet: the
    # previous reply's cost beside the new request's tokens would mix two requests.
    replied = flight.first_token_at is not None if flight else session.last_usage is not None
    rest.append(f"last {format_cost(last) if replied else '-'}")
    rest.append(f"session {format_cost(total)}")
    if flight and (rate := flight.tokens_per_second()) is not None:
        rest.append(f"{rate:.0f} tok/s")
    head = f"{spec.name} · {session.preset_name}"
    return [head, tokens, *rest], [head, short_tokens, *rest]


SEPARATOR = " │ "


def fit(parts: list[str], short: list[str], width: int) -> str:
    """One line of the full labels if it fits, else of the short ones, else the short ones wrapped."""
    for candidate in (parts, short):
        line = SEPARATOR.join(candidate)
        if len(line) <= width:
            return line
    return wrap_parts(short, width)


def wrap_parts(parts: list[str], width: int, separator: str = SEPARATOR) -> str:
    """Lines of whole items: a narrow terminal wraps between items, never inside one."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(separator) + len(part) <= width:
            lines[-1] += separator + part
        else:
            lines.append(part)
    return "\n".join(lines)


class StatusBar(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.parts: list[str] = []
        self.short_parts: list[str] = []
        self._shown = ""

    def refresh_from(self, session: Session) -> None:
        self.parts, self.short_parts = status_parts(session)
        self._show()

    def on_resize(self) -> None:
        self._show()

    def _show(self) -> None:
        # Model names may come from a server: never let them carry terminal controls.
        text = shown_text(fit(self.parts, self.short_parts, max(self.size.width, 20)))
        if text != self._shown:
            self._shown = text
            self.update(shown(text))
