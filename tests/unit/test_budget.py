"""The sliding window: prompt_budget, split_turns and build_window, with a property test."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot.core.budget import build_window, prompt_budget, split_turns
from chatbot.core.conversation import Message
from chatbot.core.errors import EXIT_CONTEXT, ContextTooLongError
from chatbot.core.tokens import REPLY_PRIMING, TokenCounter

COUNTER = TokenCounter("o200k_base")


def sys_(text: str = "You are a helpful assistant.") -> Message:
    return Message("system", text)


def user(text: str) -> Message:
    return Message("user", text)


def bot(text: str) -> Message:
    return Message("assistant", text)


def cost(messages: list[Message]) -> int:
    return COUNTER.count_prompt(messages)


# --------------------------------------------------------------------------------------------------
# prompt_budget
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "max_tokens", "limit", "expected"),
    [
        (128_000, 4096, None, 123_904),
        (128_000, 4096, 16_000, 11_904),  # min(limit, window) - max_tokens (README)
        (8192, 1000, 100_000, 7192),  # a limit above the window is the window
        (8192, 8192, None, 0),
        (4096, 5000, None, -904),  # a reply reserve larger than the window leaves no room
    ],
)
def test_prompt_budget(window: int, max_tokens: int, limit: int | None, expected: int) -> None:
    assert prompt_budget(window, max_tokens, limit) == expected


# --------------------------------------------------------------------------------------------------
# split_turns
# --------------------------------------------------------------------------------------------------


def test_split_turns_groups_replies_with_their_user_message() -> None:
    s, u1, a1, u2, a2, a3, u3 = sys_(), user("1"), bot("1a"), user("2"), bot("2a"), bot("2b"), user("3")
    system, turns = split_turns([s, u1, a1, u2, a2, a3, u3])
    assert system == [s]
    assert turns == [[u1, a1], [u2, a2, a3], [u3]]
    assert all(t[0] is m for t, m in zip(turns, [u1, u2, u3], strict=False))


def test_split_turns_leading_assistant_starts_a_turn() -> None:
    a0, u1 = bot("greeting"), user("hi")
    system, turns = split_turns([a0, u1])
    assert system == []
    assert turns == [[a0], [u1]]


def test_split_turns_collects_every_system_message() -> None:
    s1, u1, s2, u2 = sys_("one"), user("a"), sys_("two"), user("b")
    system, turns = split_turns([s1, u1, s2, u2])
    assert system == [s1, s2]
    assert turns == [[u1], [u2]]


def test_split_turns_empty() -> None:
    assert split_turns([]) == ([], [])


# --------------------------------------------------------------------------------------------------
# build_window
# --------------------------------------------------------------------------------------------------


def conversation(turns: int = 5) -> list[Message]:
    messages = [sys_()]
    for i in range(turns):
        messages.append(user(f"question number {i}: what is {i} squared, and why?"))
        messages.append(bot(f"answer number {i}: {i} squared is {i * i}, because multiplication."))
    messages.append(user("and the final question?"))
    return messages


def test_everything_fits() -> None:
    messages = conversation()
    window = build_window(messages, COUNTER, budget=10_000)
    assert window.kept == messages
    assert window.dropped == []
    assert window.prompt_tokens == cost(messages)
    assert window.budget == 10_000
    assert window.dropped_turns == 0


def test_exact_fit_keeps_everything() -> None:
    messages = conversation()
    window = build_window(messages, COUNTER, budget=cost(messages))
    assert window.dropped == []


def test_one_token_short_drops_the_oldest_turn() -> None:
    messages = conversation()
    window = build_window(messages, COUNTER, budget=cost(messages) - 1)
    assert window.dropped == messages[1:3]  # the first user message and its reply
    assert window.kept == [messages[0], *messages[3:]]
    assert window.dropped_turns == 1
    assert window.prompt_tokens == cost(window.kept)
    assert window.prompt_tokens <= window.budget


def test_drops_oldest_whole_turns_first() -> None:
    messages = conversation(turns=6)
    system = messages[0]
    turn = cost([messages[1], messages[2]]) - REPLY_PRIMING
    budget = cost(messages) - 3 * turn + 1  # the three oldest (similar-sized) turns must go
    window = build_window(messages, COUNTER, budget)
    assert window.kept[0] is system
    assert window.dropped == messages[1 : 1 + len(window.dropped)]
    assert len(window.dropped) % 2 == 0  # whole turns: a question and its answer together
    assert window.dropped_turns == len(window.dropped) // 2 >= 2
    assert window.kept[1:] == messages[1 + len(window.dropped) :]
    assert window.prompt_tokens == cost(window.kept) <= budget
    # greedy: keeping one more turn would not fit
    one_more = [system, *messages[1 + len(window.dropped) - 2 :]]
    assert cost(one_more) > budget


def test_never_drops_the_newest_turn() -> None:
    messages = conversation()
    newest = messages[-1]
    budget = cost([messages[0], newest])
    window = build_window(messages, COUNTER, budget)
    assert window.kept == [messages[0], newest]
    assert window.dropped == messages[1:-1]
    assert window.prompt_tokens == budget


def test_newest_turn_with_replies_is_kept_whole() -> None:
    """Regenerating: the newest turn is a user message with a partial reply after it."""
    s, u1, a1, u2, a2 = sys_(), user("old question " * 20), bot("old answer " * 20), user("new"), bot("partial")
    budget = cost([s, u2, a2])
    window = build_window([s, u1, a1, u2, a2], COUNTER, budget)
    assert window.kept == [s, u2, a2]
    assert window.dropped == [u1, a1]


def test_system_message_is_never_dropped_and_keeps_its_place() -> None:
    s1, u1, a1, s2, u2 = sys_("first"), user("one " * 50), bot("two " * 50), sys_("second"), user("three")
    budget = cost([s1, s2, u2])
    window = build_window([s1, u1, a1, s2, u2], COUNTER, budget)
    assert window.kept == [s1, s2, u2]
    assert window.dropped == [u1, a1]


def test_no_system_message() -> None:
    u1, a1, u2 = user("alpha " * 30), bot("beta " * 30), user("gamma")
    window = build_window([u1, a1, u2], COUNTER, budget=cost([u2]))
    assert window.kept == [u2]
    assert window.dropped == [u1, a1]


def test_newest_turn_alone_too_long_raises() -> None:
    s = sys_()
    big = user("word " * 400)
    messages = [s, user("hi"), bot("hello"), big]
    need = cost([s, big])
    with pytest.raises(ContextTooLongError) as info:
        build_window(messages, COUNTER, budget=need - 1)
    message = str(info.value)
    assert f"{need:,}" in message  # what the prompt needs
    assert f"{need - 1:,}" in message  # what fits
    assert f"{cost([big]) - REPLY_PRIMING:,}" in message  # the newest turn's share
    assert info.value.exit_code == EXIT_CONTEXT


def test_negative_budget_raises_and_says_zero_fit() -> None:
    with pytest.raises(ContextTooLongError) as info:
        build_window([user("hi")], COUNTER, budget=-500)
    assert "only 0 fit" in str(info.value)


def test_system_prompt_alone_too_long_raises() -> None:
    s = sys_("rules " * 300)
    with pytest.raises(ContextTooLongError):
        build_window([s, user("hi")], COUNTER, budget=cost([s]) - 1)


def test_window_counts_are_cached() -> None:
    messages = conversation()
    build_window(messages, COUNTER, 10_000)
    assert all("o200k_base" in m.token_counts for m in messages)


def test_large_budget_numbers_are_formatted_with_separators() -> None:
    big = user("token " * 2000)
    with pytest.raises(ContextTooLongError) as info:
        build_window([big], COUNTER, budget=1500)
    assert f"{cost([big]):,}" in str(info.value) and "1,500" in str(info.value)


# --------------------------------------------------------------------------------------------------
# property test
# --------------------------------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=40)


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    messages: list[Message] = []
    if draw(st.booleans()):
        messages.append(Message("system", draw(TEXT)))
    n_turns = draw(st.integers(1, 30))
    for i in range(n_turns):
        messages.append(Message("user", draw(TEXT)))
        if i < n_turns - 1:
            for _ in range(draw(st.integers(0, 2))):
                messages.append(Message("assistant", draw(TEXT)))
    return messages


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=conversations(), budget=st.integers(-10, 1200))
def test_window_properties(messages: list[Message], budget: int) -> None:
    counter = TokenCounter("o200k_base")
    system = [m for m in messages if m.role == "system"]
    newest = messages[-1]
    assert newest.role == "user"
    try:
        window = build_window(messages, counter, budget)
    except ContextTooLongError:
        assert counter.count_prompt([*system, newest]) > budget
        return
    kept_ids = {id(m) for m in window.kept}
    assert window.prompt_tokens == counter.count_prompt(window.kept)
    assert window.prompt_tokens <= budget
    assert all(id(m) in kept_ids for m in system)
    assert id(newest) in kept_ids
    # kept + dropped is the whole conversation, each in conversation order
    position = {id(m): i for i, m in enumerate(messages)}
    assert sorted([*window.kept, *window.dropped], key=lambda m: position[id(m)]) == messages
    assert len(window.kept) + len(window.dropped) == len(messages)
    assert [position[id(m)] for m in window.kept] == sorted(position[id(m)] for m in window.kept)
    assert [position[id(m)] for m in window.dropped] == sorted(position[id(m)] for m in window.dropped)
    # every dropped message is older than every kept non-system message
    kept_rest = [position[id(m)] for m in window.kept if m.role != "system"]
    if window.dropped:
        assert max(position[id(m)] for m in window.dropped) < min(kept_rest)
        # whole turns: the kept part starts at a user message
        assert window.kept[len(system)].role == "user"
        # greedy: the newest dropped turn would not have fit as well
        last_turn_start = max(i for i, m in enumerate(window.dropped) if m.role == "user")
        assert counter.count_prompt([*system, *window.dropped[last_turn_start:], *window.kept[len(system):]]) > budget
    assert all(m.role != "system" for m in window.dropped)
