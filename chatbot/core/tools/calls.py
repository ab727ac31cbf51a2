"""Tool calls as a stream delivers them in fragments, put back together.

OpenAI sends each call's id and name in its first fragment and its arguments in pieces after it, all under the
call's `index`. Compatible servers differ, and each difference is handled here:

- Ollama sends parallel calls whole, one per chunk, every one with index 0: a new id under an index already in
  use is a new call.
- Some servers repeat the whole name in every fragment: the name is set, never appended.
- Some leave out the id, or the index: the call gets an id of its own, and a missing index is 0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from chatbot.core.events import ToolCall, parse_arguments

# Ids for calls the server sent without one; unique in the process, as a history may hold many such calls.
_unnamed = itertools.count(1)


@dataclass
class _Partial:
    id: str | None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class CallAssembler:
    """Collects the `delta.tool_calls` of one reply; `calls()` once the reply has finished."""

    def __init__(self) -> None:
        self._calls: list[_Partial] = []
        self._latest: dict[int, _Partial] = {}  # index -> the call its fragments now belong to

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(self, fragment: dict[str, Any]) -> None:
        """One entry of a chunk's `delta.tool_calls`, as the server sent it: any field may be missing."""
        index = fragment.get("index")
        index = index if isinstance(index, int) else 0
        call_id = fragment.get("id") if isinstance(fragment.get("id"), str) else None
        call_id = call_id or None
        current = self._latest.get(index)
        if current is None or (call_id is not None and current.id is not None and call_id != current.id):
            current = _Partial(call_id)
            self._calls.append(current)
            self._latest[index] = current
        elif current.id is None:
            current.id = call_id
        function = fragment.get("function")
        if not isinstance(function, dict):
            return
        if isinstance(name := function.get("name"), str) and name:
            current.name = name
        if isinstance(arguments := function.get("arguments"), str) and arguments:
            current.arguments.append(arguments)

    def calls(self) -> tuple[ToolCall, ...]:
        """Every call, complete, in the order the reply began them."""
        done = []
        for partial in self._calls:
            raw = "".join(partial.arguments)
            arguments, error = parse_arguments(raw)
            if not partial.name:
                error = "the call named no function; write it again with the function's name"
            done.append(ToolCall(partial.id or f"call_unnamed_{next(_unnamed)}", partial.name, arguments, raw, error))
        return tuple(done)
