"""The chat app driven through Textual's pilot against the fake OpenAI server."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from textual.widgets import Markdown, Static

from chatbot.core.settings import load_settings
from chatbot.core.terminal import neutralize
from chatbot.ui.app import make_app
from chatbot.ui.widgets.prompt_input import PromptInput
from fake_openai import Error, FakeOpenAI, Reply
from support import SIZE, app_for, screen_text, send, status, stop_mid_reply, until, views, wait_turn


async def test_send_streams_reply_and_updates_status(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("Hello **world**, here is `code`.", prompt_tokens=21, completion_tokens=9, cached_tokens=5))
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi there")
        assert views(app) == [("user", "hi there"), ("assistant", "Hello **world**, here is `code`.")]
        body = fake.last_body
        assert body["model"] == "gpt-4o"
        assert body["messages"][-1] == {"role": "user", "content": "hi there"}
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        text = status(app)
        # At 100 columns the full labels would wrap, so the bar names the counts in/out and stays one line.
        assert "in 21 (5 cached) out 9" in text and "\n" not in text
        assert "gpt-4o · balanced" in text
        # 16 uncached at $2.50, 5 cached at $1.25, 9 out at $10 per 1M
        assert "last $0.000136" in text and "session $0.000136" in text
        assert app.query_one(PromptInput).text == ""
        await pilot.resize_terminal(140, 30)
        await until(pilot, lambda: "prompt 21 cached 5 completion 9" in status(app))
        assert "\n" not in status(app)
        await pilot.resize_terminal(60, 30)
        # Still one line: the cached count, the last cost and the preset are left out first (status_bar.py).
        await until(pilot, lambda: status(app) == "gpt-4o │ in 21 out 9 │ ctx 28/128k │ session $0.000136")


async def test_keys_typed_right_after_enter_stay_in_the_prompt(fake: FakeOpenAI, make_settings: Any) -> None:
    from textual import events

    fake.queue(Reply("ok"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await app.ready.wait()
        app.query_one(PromptInput).insert("first message")
        # Delivered as a terminal delivers a fast typist's keys: all queued before the app handles any.
        for key, char in (("enter", None), ("n", "n"), ("e", "e"), ("x", "x"), ("t", "t")):
            event = events.Key(key, char)
            event.set_sender(app)
            app._driver.send_message(event)
        await until(pilot, lambda: app.screen.turn_worker is not None)
        await wait_turn(pilot)
        assert app.query_one(PromptInput).text == "next"
        assert fake.last_body["messages"][-1]["content"] == "first message"


async def test_stop_keeps_partial_reply_and_counts_it(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(["one ", "two ", "three ", "four ", "five ", "six "], chunk_delay=0.3))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await stop_mid_reply(pilot, "count")
        reply = screen.session.conversation.last_reply()
        assert reply is not None and reply.stopped
        assert reply.content.startswith("one ") and len(reply.content) < len("one two three four five six ")
        assert screen.session.totals.completion_tokens > 0
        assistant = next(v for v in screen.transcript.views() if v.role == "assistant")
        assert "stopped" in assistant.note
        assert assistant.text == reply.content


async def test_regenerate_replaces_last_reply(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("first answer"), Reply("second answer"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        assert views(app) == [("user", "question"), ("assistant", "second answer")]
        assert [m.content for m in app.session.conversation.messages] == ["question", "second answer"]
        # The regenerated request does not carry the replaced reply.
        assert [m["role"] for m in fake.last_body["messages"]] == ["system", "user"]


async def test_switch_model_and_preset_mid_conversation(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("a"), Reply("b"))
    app = app_for(make_settings, model="gpt-4o-mini")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        assert fake.last_body["model"] == "gpt-4o-mini" and fake.last_body["temperature"] == 1.0
        await pilot.press("f2")
        await pilot.press(*"gpt-4.1-nano")
        await pilot.press("enter")
        await pilot.pause()
        assert "gpt-4.1-nano" in status(app)
        await pilot.press("f3")
        await pilot.press(*"writing")
        await pilot.press("enter")
        await pilot.pause()
        assert "writing" in status(app)
        await send(pilot, "second")
        body = fake.last_body
        assert body["model"] == "gpt-4.1-nano"
        assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.7, 0.9, 2000)
        assert [m["content"] for m in body["messages"][1:]] == ["first", "a", "second"]


async def test_the_preset_menu_shows_what_the_next_request_will_send(fake: FakeOpenAI, make_settings: Any) -> None:
    from chatbot.ui.screens.picker import Picker

    fake.queue(Reply("ok"))
    app = app_for(make_settings, model="gpt-4o-mini", max_tokens=200)  # as CHAT_MAX_TOKENS=200 would
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        rows = " ".join(str(app.screen.options.get_option_at_index(i).prompt)
                        for i in range(app.screen.options.option_count))
        assert "max_tokens 200" in rows and "max_tokens 1500" not in rows  # support's own 1500 is overridden
        await pilot.press(*"support", "enter")
        await send(pilot, "hi")
        assert (fake.last_body["max_tokens"], fake.last_body["temperature"]) == (200, 0.3)  # as the menu said
        await pilot.press("f2", *"o3", "enter", "f3")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        rows = " ".join(str(app.screen.options.get_option_at_index(i).prompt)
                        for i in range(app.screen.options.option_count))
        assert "max_completion_tokens 200" in rows and "temperature" not in rows  # o3 takes no sampling


async def test_reasoning_model_from_menu_gets_only_what_it_accepts(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("ok"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2", *"o4-mini", "enter")
        await send(pilot, "think")
        body = fake.last_body
        assert body["model"] == "o4-mini"
        assert "temperature" not in body and "top_p" not in body and "max_tokens" not in body
        assert body["max_completion_tokens"] == 4096
        assert body["messages"][0]["role"] == "developer"


async def test_dropped_turns_are_dimmed_and_left_out(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("alpha " * 20), Reply("beta " * 20), Reply("gamma"))
    app = app_for(make_settings, max_tokens=10, budget={"max_context_tokens": 90})
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "one " * 10)
        await send(pilot, "two " * 10)
        await send(pilot, "three")
        sent = [m["content"] for m in fake.last_body["messages"]]
        assert sent[0] == app.settings.system_prompt
        assert sent[-1] == "three"
        assert "one " * 10 not in sent
        window = app.session.last_window
        assert window is not None and window.dropped_turns >= 1
        dimmed = [v.text for v in app.screen.transcript.views() if v.has_class("dropped")]
        assert "one " * 10 in dimmed
        assert all(m.content in dimmed for m in app.session.dropped())
        # ctrl+o lists them, counted in turns as the status bar counts them, and in messages.
        upcoming = app.session.next_window()
        assert upcoming is not None
        await pilot.press("ctrl+o")
        await pilot.pause()
        title = str(app.screen.query_one("#info-title", Static).render())
        turns, messages = upcoming.dropped_turns, len(upcoming.dropped)
        assert f"{turns} turn{'s' if turns != 1 else ''}, {messages} messages" in title
        assert re.search(r"dropped (\d+)", status(app))[1] == str(turns)  # type: ignore[index]


async def test_the_bar_counts_dropped_turns_as_ctrl_o_does(fake: FakeOpenAI, make_settings: Any) -> None:
    # A long last reply: the next request must leave out more turns than the last one did. The bar counted the
    # last request's (here none, so it said nothing) beside ctrl+o's "1 turn, 2 messages".
    fake.queue(Reply("alpha " * 20), Reply("beta " * 20), Reply("gamma " * 40))
    app = app_for(make_settings, max_tokens=10, budget={"max_context_tokens": 120})
    async with app.run_test(size=SIZE) as pilot:
        for text in ("one " * 10, "two " * 10, "three"):
            await send(pilot, text)
        last, upcoming = app.session.last_window, app.session.next_window()
        assert last is not None and upcoming is not None and upcoming.dropped_turns > last.dropped_turns
        await pilot.press("ctrl+o")
        await pilot.pause()
        title = str(app.screen.query_one("#info-title", Static).render())
        turns = upcoming.dropped_turns
        assert f"{turns} turn{'s' if turns != 1 else ''}, {len(upcoming.dropped)} messages" in title
        assert re.search(rf"dropped {turns}\b", status(app))
        assert "one one" in str(app.screen.query_one("#info-body Static", Static).render())


async def test_error_keeps_the_message_and_the_app_keeps_working(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Error(401, "Incorrect API key provided: sk-test-SECRETSECRET1234", type="invalid_request_error",
                     code="invalid_api_key"), Reply("works now"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "my precious words")
        roles = [role for role, _ in views(app)]
        assert roles == ["user", "error"]
        error_text = views(app)[1][1]
        assert "API key" in error_text and "SECRETSECRET" not in error_text
        assert app.query_one(PromptInput).text == "my precious words"
        assert app.session.conversation.messages == []
        await pilot.press("enter")
        await wait_turn(pilot)
        assert app.session.conversation.messages[-1].content == "works now"


async def test_rate_limit_retries_then_succeeds(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Error(429, "slow down", type="requests", retry_after=0.05), Reply("after the wait"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        assert views(app)[-1] == ("assistant", "after the wait")
        assert len(fake.chat_requests) == 2


async def test_first_run_without_key_explains_and_does_not_crash(make_settings: Any) -> None:
    settings, _ = load_settings(None)  # no key, no base_url: OpenAI itself
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        info = views(app)
        assert info[0][0] == "info" and "OPENAI_API_KEY" in info[0][1] and "base-url" in info[0][1]
        await send(pilot, "hello?")
        assert views(app)[-1][0] == "error"
        assert "no API key" in views(app)[-1][1]
        assert app.query_one(PromptInput).text == "hello?"
        assert app.is_running


async def test_message_sent_while_streaming_waits_for_the_reply(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(["slow ", "reply "], chunk_delay=0.2), Reply("second reply"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).insert("first")
        await pilot.press("enter")
        app.query_one(PromptInput).insert("next one")
        await pilot.press("enter")
        screen = app.screen
        await until(pilot, lambda: len(fake.chat_requests) == 2 and not screen.busy)
        await wait_turn(pilot)
        assert [m.content for m in app.session.conversation.messages] == ["first", "slow reply ", "next one",
                                                                          "second reply"]


def _held_reply(fake: FakeOpenAI, *after: Reply) -> threading.Event:
    """Queue a reply that streams its first piece and then waits until the returned event is set."""
    hold = threading.Event()
    fake.queue(Reply(["slow ", "reply "], hold=hold, hold_after=1), *after)
    return hold


async def _send_first(pilot: Any, app: Any) -> None:
    """Send "first" and wait until its (held) reply has begun."""
    await pilot.press(*"first", "enter")
    await until(pilot, lambda: "slow" in views(app)[-1][1])


async def _queue_behind_first(pilot: Any, app: Any, *texts: str) -> None:
    """Send "first", then each of `texts` while its (held) reply streams, and wait until they show, waiting."""
    await _send_first(pilot, app)
    for text in texts:
        await pilot.press(*text, "enter")
    await until(pilot, lambda: len(views(app)) == 2 + len(texts))


async def test_a_message_sent_while_streaming_shows_as_queued_then_sends(fake: FakeOpenAI, make_settings: Any) -> None:
    from chatbot.ui.widgets.message_view import MessageView

    hold = _held_reply(fake, Reply("second reply"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await _queue_behind_first(pilot, app, "next one")
        waiting = list(app.query(MessageView))[-1]
        assert (waiting.role, waiting.text) == ("user", "next one") and "queued" in waiting.note
        hold.set()
        screen = app.screen
        await until(pilot, lambda: len(fake.chat_requests) == 2 and not screen.busy)
        # It sent as it stood in the transcript: the reply follows it, and the note is gone.
        assert views(app) == [("user", "first"), ("assistant", "slow reply "), ("user", "next one"),
                              ("assistant", "second reply")]
        assert "queued" not in waiting.note


async def test_escape_sends_nothing_that_waited_it_goes_back_to_the_prompt(fake: FakeOpenAI,
                                                                           make_settings: Any) -> None:
    """Escape stops the reply and what was queued behind it: the messages come back to the prompt, oldest first,
    before what was typed since, and no request is sent for them."""
    _held_reply(fake, Reply("never asked for"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await _queue_behind_first(pilot, app, "second", "third")
        await pilot.press(*"typed")
        await pilot.press("escape")
        await wait_turn(pilot)
        assert len(fake.chat_requests) == 1
        assert app.query_one(PromptInput).text == "second\n\nthird\n\ntyped"
        assert views(app) == [("user", "first"), ("assistant", "slow ")]
        assert app.screen.queued == []


async def test_what_waited_behind_a_stopped_edit_is_no_part_of_the_edit(fake: FakeOpenAI,
                                                                        make_settings: Any) -> None:
    """An edit stopped before its reply began goes back into the prompt, still an edit; what was queued behind
    it is kept apart, with what the prompt held before the edit, which ending the edit gives back."""
    hold = threading.Event()
    fake.queue(Reply("zero reply"), Reply("edited reply", hold=hold, hold_after=0), Reply("never asked for"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "zero")
        prompt = app.query_one(PromptInput)
        await pilot.press("shift+tab", "g", "e")
        assert prompt.text == "zero"
        prompt.clear()
        prompt.insert("zero, edited")
        await pilot.press("enter")
        screen = app.screen
        await until(pilot, lambda: screen.busy and len(fake.chat_requests) == 2)
        await pilot.press(*"queued one", "enter")
        await until(pilot, lambda: len(screen.queued) == 1)
        await pilot.press("escape")  # stops the edit's request before a word came
        await wait_turn(pilot)
        assert prompt.text == "zero, edited" and "editing" in str(prompt.border_title)
        assert len(fake.chat_requests) == 2
        await pilot.press("escape")  # ends the edit
        assert prompt.text == "queued one"
    hold.set()


async def test_a_new_conversation_gives_back_what_waited_for_the_old_one(fake: FakeOpenAI,
                                                                         make_settings: Any) -> None:
    _held_reply(fake, Reply("never asked for"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await _queue_behind_first(pilot, app, "for later")
        await pilot.press("ctrl+n")
        screen = app.screen
        await until(pilot, lambda: not screen.busy and views(app) == [])
        await pilot.pause()
        assert app.query_one(PromptInput).text == "for later" and len(fake.chat_requests) == 1


async def test_a_reply_that_breaks_off_sends_nothing_that_waited(fake: FakeOpenAI, make_settings: Any) -> None:
    hold = threading.Event()
    fake.queue(Reply(["slow ", "reply ", "cut"], hold=hold, hold_after=1, drop_after=2), Reply("never asked for"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await _queue_behind_first(pilot, app, "next one")
        hold.set()
        await wait_turn(pilot)
        assert len(fake.chat_requests) == 1
        assert app.query_one(PromptInput).text == "next one"
        assert ("user", "next one") not in views(app)


async def test_up_takes_a_queued_message_back_before_it_sends(fake: FakeOpenAI, make_settings: Any) -> None:
    hold = _held_reply(fake)
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await _queue_behind_first(pilot, app, "oops, not yet")
        await pilot.press("up")
        prompt = app.query_one(PromptInput)
        assert prompt.text == "oops, not yet"
        await until(pilot, lambda: len(views(app)) == 2)  # its queued view is gone
        hold.set()
        screen = app.screen
        await until(pilot, lambda: not screen.busy)
        await pilot.pause()
        assert len(fake.chat_requests) == 1 and prompt.text == "oops, not yet"  # never sent, still the user's


async def test_up_recalls_previous_message(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("ok"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "say it again")
        await pilot.press("up")
        assert app.query_one(PromptInput).text == "say it again"


async def test_up_and_down_walk_through_the_messages_sent(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("one"), Reply("two"), Reply("three"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        for text in ("first", "second\nof two lines", "third"):
            await send(pilot, text)
        prompt = app.query_one(PromptInput)
        seen = []
        for key in ("up", "up", "up", "up", "up", "down", "down", "down", "down"):
            await pilot.press(key)
            seen.append(prompt.text)
        # Up on the second line of a recalled message moves the cursor first; up at the oldest stays there;
        # down past the newest is the empty prompt the walk started from.
        assert seen == ["third", "second\nof two lines", "second\nof two lines", "first", "first",
                        "second\nof two lines", "third", "", ""]


async def test_an_edited_recalled_message_is_never_walked_away_from(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("one"), Reply("two"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        await send(pilot, "second")
        prompt = app.query_one(PromptInput)
        await pilot.press("up", "!", "up", "down")
        assert prompt.text == "second!"


async def test_the_transcript_scrolls_from_the_prompt(fake: FakeOpenAI, make_settings: Any) -> None:
    from chatbot.ui.widgets.transcript import Transcript

    fake.queue(Reply("\n\n".join(f"line {i}" for i in range(80))))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "long please")
        transcript = app.query_one(Transcript)
        await until(pilot, lambda: transcript.max_scroll_y > 0 and transcript.scroll_y == transcript.max_scroll_y)
        bottom = transcript.scroll_y
        await pilot.press("pageup")
        await until(pilot, lambda: transcript.scroll_y < bottom)
        await pilot.press("ctrl+home")
        await until(pilot, lambda: transcript.scroll_y == 0)
        await pilot.press("pagedown")
        await until(pilot, lambda: transcript.scroll_y > 0)
        await pilot.press("ctrl+end")
        await until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y)
        assert app.query_one(PromptInput).has_focus and app.query_one(PromptInput).text == ""


async def test_ctrl_c_says_how_to_quit_in_plain_words(make_settings: Any) -> None:
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+c")
        await until(pilot, lambda: list(app._notifications), "a notification")
        assert [n.message for n in app._notifications] == ["Press ctrl+q to quit the app"]
        assert not app._exit_renderables and app.is_running


async def test_the_transcript_stays_at_its_end_while_the_prompt_grows_and_shrinks(fake: FakeOpenAI,
                                                                                     make_settings: Any) -> None:
    # The transcript's height changes in a layout that moves nothing else: it must still show its last line.
    from chatbot.ui.widgets.transcript import Transcript

    fake.queue(Reply("\n\n".join(f"line {i}" for i in range(80))))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "long please")
        transcript, prompt = app.query_one(Transcript), app.query_one(PromptInput)
        await until(pilot, lambda: transcript.max_scroll_y > 0 and transcript.scroll_y == transcript.max_scroll_y)
        height, most = prompt.size.height, transcript.max_scroll_y
        await pilot.press("a", "ctrl+j", "b", "ctrl+j", "c")
        await until(pilot, lambda: prompt.size.height > height and transcript.max_scroll_y > most, "a taller prompt")
        await until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y, "the transcript at its end")
        prompt.clear()
        await until(pilot, lambda: transcript.max_scroll_y == most, "the prompt back to one line")
        await until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y, "the transcript at its end")


async def test_sending_while_scrolled_up_follows_the_new_message(fake: FakeOpenAI, make_settings: Any) -> None:
    from chatbot.ui.widgets.transcript import Transcript

    fake.queue(Reply("\n\n".join(f"line {i}" for i in range(80))), Reply("the answer"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "long please")
        transcript = app.query_one(Transcript)
        await until(pilot, lambda: transcript.max_scroll_y > 0 and transcript.scroll_y == transcript.max_scroll_y)
        await pilot.press("pageup")
        await until(pilot, lambda: transcript.scroll_y < transcript.max_scroll_y)
        await send(pilot, "and now?")
        await until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y, "the transcript at its end")
        question, answer = transcript.views()[-2:]
        assert question.text == "and now?" and answer.text == "the answer"
        assert transcript.region.contains_region(answer.region)  # on screen, not below it


async def test_typing_after_focus_left_the_prompt_goes_to_the_prompt(fake: FakeOpenAI, make_settings: Any) -> None:
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press("tab")
        assert not prompt.has_focus
        await pilot.press("s", "o")  # keys of the message cursor's own (j, k, y, ...) act there instead
        assert prompt.has_focus and prompt.text == "so"


async def test_copy_last_reply(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("copy me"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await pilot.press("ctrl+y")
        assert app.clipboard == "copy me"


async def test_keymap_that_takes_another_bindings_key_is_not_applied(fake: FakeOpenAI, make_settings: Any) -> None:
    from chatbot.ui.screens.picker import Picker

    app = app_for(make_settings, keymap={"send": "f2", "help": "f10"})
    async with app.run_test(size=SIZE) as pilot:
        warnings = " ".join(app.startup_warnings)
        assert "send = 'f2' not applied: f2 is model_menu's key" in warnings
        assert "help" not in warnings  # a free key is remapped
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, Picker))  # f2 still opens the model menu


async def test_keymap_onto_one_of_the_prompts_editing_keys_is_not_applied(fake: FakeOpenAI, make_settings: Any) -> None:
    from chatbot.ui.screens.picker import Picker

    # f6/f7 select a line/everything in the prompt, which has focus: remapped there, the menu would never open.
    app = app_for(make_settings, keymap={"model_menu": "f6", "help": "f7", "copy_reply": "ctrl+y,f12"})
    async with app.run_test(size=SIZE) as pilot:
        warnings = " ".join(app.startup_warnings)
        assert "model_menu = 'f6' not applied: f6 is the prompt's select line key" in warnings
        assert "help = 'f7' not applied: f7 is the prompt's select all key" in warnings
        assert "copy_reply" not in warnings  # ctrl+y is its own key already; f12 is free
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, Picker))  # the model menu keeps f2


async def test_keymap_with_unknown_key_names_keeps_help_and_send_where_they_were(fake: FakeOpenAI,
                                                                                 make_settings: Any) -> None:
    from chatbot.ui.screens.info import InfoScreen

    fake.queue(Reply("still sends"))
    app = app_for(make_settings, keymap={"help": "F9", "send": "notakey"})
    async with app.run_test(size=SIZE) as pilot:
        warnings = " ".join(app.startup_warnings)
        assert "help = 'F9' not applied: 'F9' is no key name (did you mean 'f9'?)" in warnings
        assert "send = 'notakey' not applied" in warnings
        await send(pilot, "hello")
        assert views(app)[-1] == ("assistant", "still sends")
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, InfoScreen))


async def test_command_palette_has_help_and_none_of_textuals_broken_commands(fake: FakeOpenAI, make_settings: Any,
                                                                              tmp_path: Any,
                                                                              monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Help", "Screenshot", "Theme", "Quit"} <= set(commands)
        assert not {"Keys", "Maximize", "Minimize"} & set(commands)
        commands["Screenshot"].callback()
        await until(pilot, lambda: list(tmp_path.glob("*.svg")) != [])
        commands["Help"].callback()
        await until(pilot, lambda: type(app.screen).__name__ == "InfoScreen")


async def test_help_at_60x20_scrolls_to_its_last_row_and_keeps_its_footer_in_sight(fake: FakeOpenAI,
                                                                                    make_settings: Any) -> None:
    from textual.containers import VerticalScroll

    from chatbot.ui.screens.info import InfoScreen

    app = app_for(make_settings)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, InfoScreen))
        screen = app.screen
        body = screen.query_one("#info-body", VerticalScroll)
        footer = screen.query_one("#info-footer", Static)
        await until(pilot, lambda: body.max_scroll_y > 0)  # more rows than fit: it scrolls
        box = screen.query_one("#info")
        # The footer is drawn whole inside the box, which is inside the screen: neither is cut off.
        assert screen.region.contains_region(box.region)
        assert box.content_region.contains_region(footer.region)
        assert footer.content_size.height == 1
        await pilot.press("end")
        await until(pilot, lambda: body.scroll_y == body.max_scroll_y)


@pytest.mark.parametrize(("size", "left_out"), [((60, 20), {"new_conversation", "command_palette"}),
                                                ((70, 20), {"command_palette"}), ((100, 30), set())])
async def test_the_footers_keys_fit_the_width_whole(fake: FakeOpenAI, make_settings: Any, size: tuple[int, int],
                                                    left_out: set[str]) -> None:
    from chatbot.ui.widgets.footer import ChatFooter

    app = app_for(make_settings)
    async with app.run_test(size=size) as pilot:
        footer = app.screen.query_one(ChatFooter)
        everything = {"help", "model_menu", "preset_menu", "history", "stop", "new_conversation", "quit",
                      "command_palette"}
        await until(pilot, lambda: {getattr(k, "action", None) for k in footer.children} == everything - left_out)
        await pilot.pause()
        # Every key that is shown is shown whole: none runs past the right edge.
        assert all(k.region.right <= size[0] for k in footer.children)


def test_example_config_lists_every_binding_with_its_default_keys(make_settings: Any) -> None:
    from support import PROJECT

    text = (PROJECT / "config.example.toml").read_text(encoding="utf-8")
    bindings = [b for _, b in app_for(make_settings)._all_bindings() if b.id]
    assert len(bindings) >= 12
    missing = [f'# {b.id} = "{b.key}"' for b in bindings if f'# {b.id} = "{b.key}"' not in text]
    assert missing == [], f"config.example.toml's [keymap] lacks {missing}"


async def test_keymap_from_config_remaps_send(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("remapped"))
    app = app_for(make_settings, keymap={"send": "ctrl+s"})
    async with app.run_test(size=SIZE) as pilot:
        assert "ctrl+s sends" in str(app.query_one(PromptInput).placeholder)  # the hint names the key that works
        app.query_one(PromptInput).insert("via ctrl+s")
        await pilot.press("ctrl+s")
        await wait_turn(pilot)
        assert views(app)[-1] == ("assistant", "remapped")


async def test_newline_keys_do_not_send(fake: FakeOpenAI, make_settings: Any) -> None:
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "ctrl+j", "b")
        assert app.query_one(PromptInput).text == "a\nb"
        assert fake.chat_requests == []


async def test_new_conversation_clears(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("x"), Reply("y"))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "old")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert views(app) == []
        await send(pilot, "new")
        assert [m["content"] for m in fake.last_body["messages"][1:]] == ["new"]


async def test_model_text_is_never_markup(fake: FakeOpenAI, make_settings: Any) -> None:
    hostile = "[bold red]loud[/] [@click=app.quit]quit[/] [link=https://example.invalid]x[/link]"
    fake.queue(Reply(hostile))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "[b]user markup[/b]")
        await pilot.pause()
        assert app.is_running
        rendered = screen_text(app)
        assert "[bold red]loud[/]" in rendered
        assert "[b]user markup[/b]" in rendered


async def test_a_streamed_reply_settles_without_being_rebuilt(fake: FakeOpenAI, make_settings: Any,
                                                              monkeypatch: Any) -> None:
    # Pieces a frame apart, so the reply reaches the Markdown widget in several appends; one escape sequence
    # is split across two of them and must still be removed whole.
    from chatbot.ui.widgets.reply_markdown import ReplyMarkdown

    pieces = ["# Title\n\nFirst paragraph, ", "then \x1b[3", "1mred.\n\n- one\n- two\n\n",
              "| a | b |\n|---|---|\n| 1 | 2 |\n\n", "Last words."]
    full_renders: list[str] = []
    original = ReplyMarkdown.update

    def update(self: ReplyMarkdown, markdown: str) -> Any:
        if markdown:
            full_renders.append(markdown)
        return original(self, markdown)

    monkeypatch.setattr(ReplyMarkdown, "update", update)
    fake.queue(Reply(pieces, chunk_delay=0.06))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "show me")
        view = app.screen.transcript.views()[-1]
        markdown = view.query_one(ReplyMarkdown)
        assert markdown.source == neutralize("".join(pieces))
        assert full_renders == []
        assert "31m" not in screen_text(app) and "Last words." in screen_text(app)


async def test_views_of_a_resumed_conversation_are_freed_when_it_is_left(make_settings: Any, tmp_path: Any) -> None:
    # What survives a full collection is frozen out of the collector's reach; views frozen that way must still be
    # freed once they are gone and the user is idle.
    import gc
    import weakref

    from chatbot.core.conversation import Message
    from chatbot.core.store.history import HistoryStore

    store = HistoryStore(tmp_path / "history.db")
    conversation_id = store.create("gpt-4o", "balanced", "system")
    for i in range(5):
        store.add(conversation_id, Message("user", f"question {i}"))
        store.add(conversation_id, Message("assistant", f"answer {i}"))
    app = make_app(make_settings(), store=store, resume_id=conversation_id)
    async with app.run_test(size=SIZE) as pilot:
        await app.ready.wait()
        await pilot.pause()
        resumed = [weakref.ref(view) for view in app.screen.transcript.views()]
        assert len(resumed) == 10
        gc.collect()  # a full collection: the views survive it and are frozen
        assert app.collector.frozen_since >= 1
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not app.screen.transcript.views())
        for i in range(5):  # Textual's layout caches let go of removed widgets as newer layouts replace them
            await app.screen.add_note("info", f"note {i}")
            await pilot.pause()
        gc.collect()
        assert [ref for ref in resumed if ref() is not None] != [], "frozen: only a whole-heap collection frees them"
        compactions = app.collector.compactions
        app.collector.idle = 0.1
        await until(pilot, lambda: app.collector.compactions > compactions)
        assert [ref for ref in resumed if ref() is not None] == []


async def test_long_conversation_keeps_only_the_newest_messages_mounted(make_settings: Any, tmp_path: Any) -> None:
    from chatbot.core.conversation import Message
    from chatbot.core.store.history import HistoryStore
    from chatbot.ui.widgets.transcript import MAX_VIEWS

    store = HistoryStore(tmp_path / "history.db")
    conversation_id = store.create("gpt-4o", "balanced", "system")
    for i in range(MAX_VIEWS):
        store.add(conversation_id, Message("user", f"question {i}"))
        store.add(conversation_id, Message("assistant", f"answer {i}"))
    app = make_app(make_settings(), store=store, resume_id=conversation_id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = views(app)
        assert len(shown) == MAX_VIEWS
        assert shown[-1] == ("assistant", f"answer {MAX_VIEWS - 1}")
        assert app.screen.transcript.hidden == MAX_VIEWS
        assert f"{MAX_VIEWS} more messages not shown" in screen_text(app)
        # Every message is still in the conversation the next request is built from.
        assert len(app.session.conversation.messages) == 2 * MAX_VIEWS


async def test_a_jump_to_an_old_message_marks_the_newer_ones_it_leaves_out(fake: FakeOpenAI, make_settings: Any,
                                                                           tmp_path: Any) -> None:
    from chatbot.core.conversation import Message
    from chatbot.core.store.history import HistoryStore
    from chatbot.ui.widgets.transcript import MAX_VIEWS

    store = HistoryStore(tmp_path / "history.db")
    conversation_id = store.create("gpt-4o", "balanced", "system")
    for i in range(MAX_VIEWS):
        store.add(conversation_id, Message("user", f"question {i}"))
        store.add(conversation_id, Message("assistant", f"answer {i}"))
    fake.queue(Reply("the newest answer"))
    app = make_app(make_settings(), store=store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.assembly.resume(store.load(conversation_id))
        messages = app.session.conversation.messages
        target = messages[10]  # "question 5": older than the newest MAX_VIEWS
        await app.screen.transcript.clear()
        await app.screen.show_conversation(jump_to=target.id)
        await pilot.pause()
        shown = views(app)
        assert shown[0] == ("user", "question 5") and len(shown) == MAX_VIEWS
        newer = len(messages) - 10 - MAX_VIEWS
        text = screen_text(app)
        assert "10 more messages not shown" in text
        notes = [str(n.render()) for n in app.screen.transcript.query(".hidden-note")]
        assert any(f"{newer} newer messages not shown" in n for n in notes)
        # A new turn comes after the marked gap, not straight after "question 5"'s window.
        await send(pilot, "and now?")
        children = list(app.screen.transcript.children)
        note = app.screen.transcript.query_one("#newer-note")
        assert children.index(note) < children.index(app.screen.transcript.views()[-1])


async def test_fast_replies_always_reach_the_screen(fake: FakeOpenAI, make_settings: Any) -> None:
    # A reply that streams in faster than a frame once ended with a blank view: stopping the Markdown stream
    # before its task had started cancelled the turn.
    replies = [" ".join(f"w{n}-{i}" for i in range(600)) for n in range(6)]
    fake.queue(*(Reply(text) for text in replies))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        for n, text in enumerate(replies):
            await send(pilot, f"reply {n}")
            view = [v for v in app.screen.transcript.views() if v.role == "assistant"][-1]
            assert view.text == text
            assert view.query_one(Markdown).source == text
            assert "waiting" not in view.note
