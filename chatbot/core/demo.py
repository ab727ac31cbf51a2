"""The demo responder: canned Markdown replies streamed offline, so every part of chat can be tried without an
account or a server.

It has ChatClient's public surface and never opens a connection: replies come from the texts below, word by word
at about the pace of a hosted model (each word waits as long as its tokens would take), followed by usage counted
with the model's own tokenizer, exactly as the window and the reply are counted elsewhere.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from chatbot.core import errors
from chatbot.core.events import Event, Finished, TextDelta, Usage, UsageReport
from chatbot.core.tokens import TokenCounter

if TYPE_CHECKING:
    from chatbot.core.conversation import Message
    from chatbot.core.models import ModelSpec
    from chatbot.core.presets import Preset
    from chatbot.core.request_body import ToolDefinitions
    from chatbot.core.settings import Settings

DEMO_MODEL = "demo"
DEMO_URL = "demo (offline, nothing is sent)"
TOKENS_PER_SECOND = 40.0  # about a hosted model's pace
_WORD = re.compile(r"\s*\S+")

_BANNER = "*This reply comes from chat's built-in demo, not from a model: nothing was sent anywhere.*\n\n"

_TOUR = _BANNER + """# Welcome to the chat demo

Everything on this screen works as it does with a real model. Try:

- **Stop**: press `escape` while a reply streams; what arrived is kept, marked stopped.
- **Regenerate**: `ctrl+r` asks for another reply; this one is kept beside it (`alt+left` and `alt+right` switch).
- **Menus**: `F2` picks the model, `F3` the preset, `ctrl+p` opens every command.
- **History**: `F4` lists stored conversations; this one is kept under the model *demo*.
- **Export**: from `ctrl+p`, as Markdown or JSON, into the current folder.

## The status bar

| Field   | What it shows                          |
|---------|----------------------------------------|
| tokens  | the prompt window and this reply       |
| cost    | $0 here: the demo costs nothing        |
| speed   | tokens per second while a reply streams |

## A code block

```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```

To talk to a real model, set `OPENAI_API_KEY`, or run `chat --base-url http://localhost:11434/v1`.
"""

_MARKDOWN = _BANNER + """# Markdown, rendered as it streams

Replies are Markdown: headings, lists, tables and highlighted code all render while the text arrives.

## A list

1. Numbered items
2. with **bold**, *italic* and `inline code`
3. and [links](https://example.com) shown as text

## A table

| Language | Typing  | First appeared |
|----------|---------|---------------:|
| Python   | dynamic |           1991 |
| Rust     | static  |           2010 |
| Go       | static  |           2009 |

## Code

```rust
fn main() {
    let words = ["streamed", "word", "by", "word"];
    println!("{}", words.join(" "));
}
```

Ask about *tokens* or *cost* for another demo reply, or press `ctrl+r` to regenerate.
"""

_USAGE = _BANNER + """# Tokens and cost

chat counts every token itself with the model's tokenizer, so the status bar is right before the server says so.

## What is counted

- the **prompt**: the system prompt and the messages the sliding window keeps
- the **reply**: counted as it streams, then exactly once it ends
- the **cost**: prompt and reply at the model's price per million tokens

| Model  | Input $/1M | Output $/1M |
|--------|-----------:|------------:|
| demo   |       0.00 |        0.00 |

## From the command line

```sh
chat --demo -p "what does it cost?" --usage
chat usage
```

The demo is free; with a real model, `chat --list-models` shows the prices.
"""

REPLIES = (_TOUR, _MARKDOWN, _USAGE)
# A word in the user's message picks the reply about it; anything else takes the next reply in turn.
_TOPICS = (
    (_MARKDOWN, ("markdown", "code", "table", "list", "format")),
    (_USAGE, ("token", "cost", "price", "usage", "money")),
    (_TOUR, ("help", "key", "how", "what", "start")),
)


def pick_reply(messages: list[Message], turn: int) -> str:
    """The canned reply for the conversation: by a topic word in the last user message, else the `turn`th."""
    last = next((m.content.lower() for m in reversed(messages) if m.role == "user"), "")
    words = set(re.findall(r"[a-z]+", last))
    for reply, topic in _TOPICS:
        if any(word.startswith(t) for word in words for t in topic):
            return reply
    return REPLIES[turn % len(REPLIES)]


def demo_settings(settings: Settings) -> Settings:
    """`settings` with the demo as the model, priced at zero: it spends nothing, so neither the status bar nor
    the ledger nor `chat usage` may show money that was never paid."""
    from chatbot.core.settings import ModelConfig

    free = ModelConfig(context_window=128_000, max_output=16_384, encoding="o200k_base",
                       input_price=Decimal(0), cached_input_price=Decimal(0), output_price=Decimal(0))
    return settings.model_copy(update={"model": DEMO_MODEL, "models": {**settings.models, DEMO_MODEL: free}})


class DemoClient:
    """Answers offline with canned replies. `sleep` paces the words; tests pass one that returns at once."""

    def __init__(self, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 tokens_per_second: float = TOKENS_PER_SECOND) -> None:
        self.base_url = DEMO_URL
        self.has_key = True  # the demo needs none: nothing should ask for one
        self.max_retries = 0
        self._sleep = sleep
        self._rate = tokens_per_second
        self._turns = 0
        self._counters: dict[str, TokenCounter] = {}

    @property
    def is_openai(self) -> bool:
        return False

    def set_api_key(self, key: str | None) -> None:
        """The demo ignores keys."""

    def check_ready(self) -> None:
        """Always ready: nothing is sent."""

    async def aclose(self) -> None:
        """Nothing to close."""

    async def list_models(self, *, timeout: float | None = None) -> list[str]:
        return [DEMO_MODEL]

    async def stream(self, messages: list[Message], spec: ModelSpec, preset: Preset, *,
                     tools: ToolDefinitions | None = None) -> AsyncGenerator[Event, None]:
        """Stream a canned reply word by word, then its usage and Finished("stop"). Stopping is cancelling:
        the pause between words is where it lands. Raises ModelNotFoundError for any model but the demo. The
        demo calls no tools: `tools` are ignored."""
        if spec.name != DEMO_MODEL:
            # Answering as another model would store canned text under its name and bill it at its price.
            raise errors.ModelNotFoundError(
                f"the demo answers only as the model {DEMO_MODEL!r}, not {spec.name!r}",
                f"pick {DEMO_MODEL} (F2), or leave the demo and set OPENAI_API_KEY or base_url for real models")
        reply = pick_reply(messages, self._turns)
        self._turns += 1
        counter = self._counters.setdefault(spec.encoding, TokenCounter(spec.encoding))
        for word in _WORD.findall(reply):
            await self._sleep(counter.count_text(word) / self._rate)
            yield TextDelta(word)
        # The closing newline comes after the last word, so the words alone would drop it.
        if tail := reply[len("".join(_WORD.findall(reply))):]:
            yield TextDelta(tail)
        yield UsageReport(Usage(counter.count_prompt(messages), counter.count_text(reply)), None)
        yield Finished("stop")
