"""Server-sent events, read off a streaming response: the data of each event, as the text it holds.

The SDK would make a pydantic model of every chunk, and building those is most of what reading a fast stream
costs (a third of the UI thread's time at full speed). A chunk's few fields are read straight from its JSON
instead (client.py); the request, its status errors and its retries still go through the SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

DONE = "[DONE]"  # the data of the event that ends an OpenAI stream


async def event_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Each event's data (its `data:` lines joined by newlines), in order, by the rules of the SSE format: a
    blank line ends an event, a line starting with a colon is a comment, one space after the colon is not part
    of the value, and other fields (event, id, retry) say nothing a chat completion needs."""
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        field, colon, value = line.partition(":")
        if not field and colon:
            continue  # a comment: some servers send them to keep the connection open
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:  # the stream ended without the blank line after its last event
        yield "\n".join(data)
