"""Messages and the conversation that holds them, in memory."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from chatbot.core.attachments import Attachment
from chatbot.core.events import ToolCall, Usage

Role = Literal["system", "user", "assistant", "tool"]
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    id: int = field(default_factory=lambda: next(_ids))
    model: str | None = None
    usage: Usage | None = None
    cost: Decimal | None = None
    finish_reason: str | None = None
    stopped: bool = False  # the user stopped the reply; what arrived is kept
    error: str | None = None  # the reply broke off with this error; what arrived is kept
    attachments: tuple[Attachment, ...] = ()  # files sent with a user message, as they were sent
    reasoning: str = ""  # the model's reasoning before the reply, as streamed; never sent back to it
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant message that called tools: its calls, in order
    # A tool message (role "tool") answers one call: `content` is the result as the model gets it.
    tool_call_id: str | None = None
    tool_name: str | None = None
    tool_error: bool = False  # the call failed (or was declined, or its arguments did not parse)
    # Token counts per encoding, filled lazily by TokenCounter so no message is tokenized twice.
    token_counts: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def partial(self) -> bool:
        return self.stopped or self.error is not None


@dataclass(frozen=True, slots=True)
class Summary:
    """What stands in a request for the oldest turns that fell out of the window (budget.strategy "summarize").

    Kept beside the tree, not in it: the path stays the user's and the model's turns, which stay on screen and in
    the history; only requests carry the summary in their place."""

    text: str
    covers: int  # the id of the last message it stands for: it and every message before it on the path
    turns: int  # how many turns it stands for
    model: str | None = None  # the model that wrote it
    usage: Usage | None = None
    cost: Decimal | None = None


ROOT = 0  # the parent of the first messages: no message has id 0 but the system prompt, which is not in the tree


class Conversation:
    """The messages as a tree, with one active path from the first message to the active leaf.

    A regenerate adds a reply beside the one before it, and an edit adds a user message beside the one it edits:
    siblings are alternatives, oldest first. Each message remembers which of its children the path went through
    last, so switching to a sibling brings back the rest of that branch. `messages` and everything that builds a
    request read only the active path; the other branches are kept, never sent."""

    def __init__(self, system_prompt: str = "", messages: Iterable[Message] = ()) -> None:
        self.system_prompt = system_prompt
        self._system: Message | None = None
        self._nodes: dict[int, Message] = {}
        self._parent: dict[int, int] = {}  # Message.id -> its parent's id (ROOT for a first message)
        self._children: dict[int, list[int]] = {ROOT: []}
        self._active: dict[int, int | None] = {ROOT: None}  # the child the active path goes through; None: it ends
        self._before: dict[int, int | None] = {}  # what was active in its parent's place before a message came
        self._path: list[Message] | None = None
        self.summary: Summary | None = None  # the earlier turns, summarised (chatbot.core.summary)
        for message in messages:
            self.add(message)

    # -- the active path, as the callers of a linear conversation know it --

    @property
    def messages(self) -> list[Message]:
        """The active path, oldest first (a new list: changing it changes nothing)."""
        if self._path is None:
            path, node = [], self._active[ROOT]
            while node is not None:
                path.append(self._nodes[node])
                node = self._active[node]
            self._path = path
        return list(self._path)

    def add(self, message: Message, parent: Message | None = None) -> Message:
        """Add `message` after the active leaf (or as a child of `parent`, ROOT if `parent` is None and the
        path was cut there); it becomes the active leaf."""
        # The common case, a message after the active leaf, only lengthens the path: no walk over the tree.
        growing = parent is None and self._path is not None
        if growing:
            under = self._path[-1].id if self._path else ROOT
        else:
            under = self._leaf_id() if parent is None else parent.id
        if message.id in self._nodes:
            raise ValueError(f"message {message.id} is already in the conversation")
        self._nodes[message.id] = message
        self._parent[message.id] = under
        self._children[under].append(message.id)
        self._children[message.id] = []
        self._before[message.id] = self._active[under]
        self._active[message.id] = None
        if growing and self._path is not None:
            self._active[under] = message.id
            self._path.append(message)
        else:
            self._activate(message.id)
        return message

    def add_user(self, text: str) -> Message:
        return self.add(Message("user", text))

    def set_system_prompt(self, text: str) -> None:
        self.system_prompt = text

    def pop_last_reply(self) -> Message | None:
        """Remove the trailing assistant reply from the tree; returns it, or None if there is none."""
        path = self.messages
        if path and path[-1].role == "assistant":
            self.withdraw(path[-1])
            return path[-1]
        return None

    def withdraw(self, message: Message) -> None:
        """Take a leaf back out (a message that got no reply): its parent's path goes back where it was."""
        if self._children.get(message.id):
            raise ValueError("only a message without replies can be withdrawn")
        parent = self._parent.pop(message.id)
        self._children[parent].remove(message.id)
        del self._nodes[message.id], self._children[message.id], self._active[message.id]
        before = self._before.pop(message.id)
        if self._active[parent] == message.id:
            self._active[parent] = before if before in self._nodes else None
        self._path = None

    def last_reply(self) -> Message | None:
        return next((m for m in reversed(self.messages) if m.role == "assistant"), None)

    def last_user(self) -> Message | None:
        return next((m for m in reversed(self.messages) if m.role == "user"), None)

    def system_message(self) -> Message | None:
        """The system prompt as a message, reused while its text is unchanged so its count stays cached."""
        if not self.system_prompt:
            return None
        if self._system is None or self._system.content != self.system_prompt:
            self._system = Message("system", self.system_prompt, id=0)
        return self._system

    def all_messages(self) -> list[Message]:
        system = self.system_message()
        return ([system] if system else []) + self.messages

    # -- the tree --

    def __contains__(self, message: object) -> bool:
        return isinstance(message, Message) and self._nodes.get(message.id) is message

    def tree(self) -> list[Message]:
        """Every message of every branch, each after its parent, depth first, siblings oldest first."""
        found: list[Message] = []
        stack = list(reversed(self._children[ROOT]))
        while stack:
            node = stack.pop()
            found.append(self._nodes[node])
            stack.extend(reversed(self._children[node]))
        return found

    def get(self, message_id: int) -> Message | None:
        """The message with this Message.id, on whichever branch it is."""
        return self._nodes.get(message_id)

    def parent_of(self, message: Message) -> Message | None:
        parent = self._parent[message.id]
        return None if parent == ROOT else self._nodes[parent]

    def children_of(self, message: Message | None) -> list[Message]:
        return [self._nodes[i] for i in self._children[ROOT if message is None else message.id]]

    def alternatives(self, message: Message) -> list[Message]:
        """`message` and its siblings (the replies to the same message, or the edits of one), oldest first."""
        return [self._nodes[i] for i in self._children[self._parent[message.id]]]

    def position(self, message: Message) -> tuple[int, int]:
        """Which alternative `message` is, from 1, and how many there are: the "2/3" of its header."""
        siblings = self._children[self._parent[message.id]]
        return siblings.index(message.id) + 1, len(siblings)

    def leaf(self) -> Message | None:
        """The last message of the active path."""
        leaf = self._leaf_id()
        return None if leaf == ROOT else self._nodes[leaf]

    def switch(self, message: Message, step: int) -> Message:
        """Make the sibling `step` places from `message` active (clamped to the first and the last); the path
        goes on through the branch that sibling had. Returns the sibling now active."""
        siblings = self._children[self._parent[message.id]]
        index = min(max(siblings.index(message.id) + step, 0), len(siblings) - 1)
        chosen = self._nodes[siblings[index]]
        self.select(chosen)
        return chosen

    def select(self, message: Message) -> None:
        """Make the path go through `message` (a search hit on another branch), on down the branch it had."""
        self._activate(message.id)

    def cut(self, message: Message | None) -> None:
        """End the active path at `message` (None: before the first message), to add a new child there."""
        self._activate(ROOT if message is None else message.id)
        self._active[ROOT if message is None else message.id] = None
        self._path = None

    def fork(self, message: Message, text: str) -> Message:
        """Edit a user message: a new one with `text` beside it, with the files it had, active, with no reply yet;
        the old branch stays."""
        if message.role != "user":
            raise ValueError("only a user message can be edited")
        parent = self._parent[message.id]
        before = self._active[parent]
        self.cut(self.parent_of(message))
        edited = self.add(Message("user", text, attachments=message.attachments))
        self._before[edited.id] = before  # withdrawn unsent, the edit leaves the path where it was
        return edited

    def delete(self, message: Message) -> list[Message]:
        """Remove `message` and everything under it; returns what was removed, each after its parent. A path
        through `message` goes on through its nearest sibling (the one before, else the one after) and down the
        branch that sibling had; without one it ends at the parent."""
        parent = self._parent[message.id]
        siblings = self._children[parent]
        index = siblings.index(message.id)
        on_path = any(m.id == message.id for m in self.messages)
        removed: list[Message] = []
        stack = [message.id]
        while stack:
            node = stack.pop()
            removed.append(self._nodes.pop(node))
            stack.extend(reversed(self._children.pop(node)))
            del self._parent[node], self._active[node]
            self._before.pop(node, None)
        del siblings[index]
        nearest = siblings[index - 1] if index > 0 else siblings[0] if siblings else None
        if self._active[parent] == message.id:
            self._active[parent] = nearest  # the parent's branch, walked later, goes on through the sibling
        if on_path:
            if nearest is None:
                self.cut(None if parent == ROOT else self._nodes[parent])
            else:
                self._activate(nearest)
        self._path = None
        return removed

    def path_to(self, message: Message) -> list[Message]:
        """The messages from the first to `message`, the path it is on, whichever branch that is."""
        path, node = [], message.id
        while node != ROOT:
            path.append(self._nodes[node])
            node = self._parent[node]
        return path[::-1]

    def copy_to(self, message: Message) -> Conversation:
        """A new conversation holding copies (new ids) of the path up to and including `message`, with the same
        system prompt: a fork. The copies keep their cached token counts: the same text counts the same. The
        summary goes with them if they hold the turns it stands for (the last of them is on that path)."""
        path = self.path_to(message)
        copies = [replace(m, id=next(_ids), token_counts=dict(m.token_counts)) for m in path]
        fork = Conversation(self.system_prompt, copies)
        ids = {m.id: copy.id for m, copy in zip(path, copies, strict=True)}
        if self.summary is not None and self.summary.covers in ids:
            fork.summary = replace(self.summary, covers=ids[self.summary.covers])
        return fork

    def _leaf_id(self) -> int:
        node = ROOT
        while (child := self._active[node]) is not None:
            node = child
        return node

    def _activate(self, node: int) -> None:
        while node != ROOT:
            parent = self._parent[node]
            self._active[parent] = node
            node = parent
        self._path = None


def to_api_messages(messages: list[Message], system_role: str = "system",
                    content: Callable[[Message], object] | None = None) -> list[dict[str, Any]]:
    """The chat-completions `messages` array. Reasoning models take the system prompt as `developer`; an
    assistant message that called tools carries its calls, and each tool message the id of the call it answers.
    `content` gives a message's content as sent (default: its text)."""
    sent: list[dict[str, Any]] = []
    unanswered: list[str] = []  # ids of the last assistant message's calls no tool message has answered yet
    for m in messages:
        if m.role != "tool" and unanswered:
            sent += _unanswered(unanswered)
        sent.append(_api_message(m, system_role, m.content if content is None else content(m)))
        if m.tool_calls:
            unanswered = [call.id for call in m.tool_calls]
        elif m.role == "tool" and m.tool_call_id in unanswered:
            unanswered.remove(m.tool_call_id)
    return sent + _unanswered(unanswered)


UNANSWERED = "error: no result: chat stopped before this call was answered"


def _unanswered(ids: list[str]) -> list[dict[str, Any]]:
    """Answers for calls a history holds without their results (chat was killed while they ran): the API
    refuses a call without its answer, and would refuse the whole conversation for it."""
    answers = [{"role": "tool", "tool_call_id": call_id, "content": UNANSWERED} for call_id in ids]
    ids.clear()
    return answers


def _api_message(message: Message, system_role: str, content: object) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content}
    entry: dict[str, Any] = {"role": system_role if message.role == "system" else message.role,
                             "content": content}
    if message.tool_calls:
        # OpenAI's own shape for a reply that only called tools: no text is null, not "".
        entry["content"] = message.content or None
        entry["tool_calls"] = [call.to_api() for call in message.tool_calls]
    return entry


def with_content(message: Message, content: str) -> Message:
    return replace(message, content=content, token_counts={})
