"""Model text is data in the app: markup, Markdown links, terminal escape sequences and huge replies.

"What reaches the terminal" is checked on the compositor's full update, the exact strips the app would write
(App._display renders the same update with `render_segments`): no segment of text may hold an escape or control
character, and the rendered sequence may hold no OSC at all (Textual's own output is CSI only).
export_screenshot() and the widgets' plain text are checked too (hostile.assert_terminal_clean)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Markdown

from chatbot.core.terminal import neutralize
from chatbot.ui.app import ChatApp, make_app
from chatbot.ui.screens.picker import Picker
from chatbot.ui.widgets.prompt_input import PromptInput
from fake_openai import Error, FakeOpenAI, Reply
from hostile import (
    BEL,
    CONTROL,
    ESC,
    HOSTILE_ESCAPES,
    VISIBLE_WORDS,
    assert_terminal_clean,
    find_on_screen,
    split_everywhere,
    terminal_update,
)
from support import SIZE, Notified, app_for, send, until, views, wait_turn


class Spy:
    """Records the actions the app runs, the URLs it would open, the messages it handles and its toasts."""

    def __init__(self) -> None:
        self.actions: list[str] = []
        self.urls: list[str] = []
        self.messages: list[Any] = []
        self.notified = Notified()

    def attach(self, app: ChatApp) -> None:
        run_action = app.run_action

        async def spy_run_action(action: Any, *args: Any, **kwargs: Any) -> bool:
            self.actions.append(str(action))
            return await run_action(action, *args, **kwargs)

        app.run_action = spy_run_action  # type: ignore[method-assign]
        app.open_url = lambda url, **_: self.urls.append(url)  # type: ignore[method-assign]

    def hook(self, message: Any) -> None:
        self.messages.append(message)
        self.notified(message)

    def link_clicks(self) -> list[str]:
        return [m.href for m in self.messages if isinstance(m, Markdown.LinkClicked)]


# -- (a) markup and links in the TUI ------------------------------------------------------------------------


MARKUP_REPLY = ("[bold red]LOUD[/] [@click=app.quit]QUITME[/] [@click=app.notify('pwned')]NOTIFYME[/] "
                "[link=https://example.invalid]LINKME[/link] [on red]BG[/on red]")


async def test_rich_and_textual_markup_in_a_reply_is_literal_and_clicking_it_does_nothing(
        fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(MARKUP_REPLY))
    spy = Spy()
    app = app_for(make_settings)
    async with app.run_test(size=SIZE, message_hook=spy.hook) as pilot:
        spy.attach(app)
        await send(pilot, "[@click=app.quit]user markup[/]")
        lines, _ = terminal_update(app)
        drawn = "\n".join(lines)
        spy.actions.clear()
        for literal in ("[bold red]LOUD[/]", "[@click=app.quit]QUITME[/]", "[@click=app.notify('pwned')]NOTIFYME[/]",
                        "[on red]BG[/on red]", "[@click=app.quit]user markup[/]"):
            assert literal in drawn, drawn
        for word in ("LOUD", "QUITME", "NOTIFYME", "LINKME", "BG", "user markup"):
            x, y = find_on_screen(app, word)
            for dx in range(len(word)):
                await pilot.click(offset=(x + dx, y))
            await pilot.pause()
        assert app.is_running
        assert not [a for a in spy.actions if "quit" in a or "notify" in a], spy.actions
        assert not any("pwned" in n for n in spy.notified.messages)
        assert spy.urls == []
        assert views(app)[-1] == ("assistant", MARKUP_REPLY)


# A link in a paragraph, in a list and in a table: lists and tables are drawn by the reply's own blocks.
SHAPES = {"paragraph": "{}", "list": "- first\n- {}", "table": "| head |\n|---|\n| {} |"}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("target",
                         ["app.quit", "app.notify('pwned')", "screen.new_conversation", "javascript:alert(1)"])
async def test_markdown_link_to_an_action_is_only_a_link(target: str, shape: str, fake: FakeOpenAI,
                                                         make_settings: Any) -> None:
    reply = SHAPES[shape].format(f"Before [CLICKME]({target}) after, and an autolink <{target}>.")
    fake.queue(Reply(reply))
    spy = Spy()
    app = app_for(make_settings)
    async with app.run_test(size=SIZE, message_hook=spy.hook) as pilot:
        spy.attach(app)
        await send(pilot, "give me a link")
        spy.actions.clear()  # the enter that sent the message ran "submit"
        x, y = find_on_screen(app, "CLICKME")
        for dx in range(len("CLICKME")):
            await pilot.click(offset=(x + dx, y))
        await pilot.pause()
        assert app.is_running
        if not target.startswith("javascript:"):
            # The click landed on the link: Markdown saw it, and passed the href on as data.
            assert spy.link_clicks() and set(spy.link_clicks()) <= {target}, spy.link_clicks()
        assert spy.urls == []  # open_links=False: nothing is opened either
        assert all(a.startswith("link(") for a in spy.actions), spy.actions
        assert not any("pwned" in n for n in spy.notified.messages)
        assert [role for role, _ in views(app)] == ["user", "assistant"]  # no new_conversation ran


@pytest.mark.parametrize("chunking", ["whole", "split"])
async def test_escape_sequences_in_a_reply_never_reach_the_terminal(chunking: str, fake: FakeOpenAI,
                                                                    make_settings: Any) -> None:
    chunks = [HOSTILE_ESCAPES] if chunking == "whole" else split_everywhere(HOSTILE_ESCAPES)
    fake.queue(Reply(chunks))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        title, clipboard = app.title, app.clipboard
        await send(pilot, "hi")
        assert app.is_running
        assert views(app)[-1] == ("assistant", HOSTILE_ESCAPES)  # the conversation keeps the reply as sent
        assert_terminal_clean(app, forbidden=("pwned", "evil.invalid", "cHduZWQ"))
        drawn = "\n".join(terminal_update(app)[0])
        for word in VISIBLE_WORDS:
            assert word in drawn, (word, drawn)
        assert (app.title, app.clipboard) == (title, clipboard)


async def test_escape_sequences_are_kept_off_the_terminal_while_streaming(fake: FakeOpenAI,
                                                                         make_settings: Any) -> None:
    # Every delta ends inside a sequence; the server pauses between deltas so each state is drawn.
    chunks = ["start \x1b[3", "1mred \x1b]0;pw", "ned\x07 mid \x1b]52;c;cHdu", "ZWQ=\x07 clip \x1b", "[2Jend"]
    fake.queue(Reply(chunks, chunk_delay=0.3))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).insert("hi")
        await pilot.press("enter")
        screen = app.screen
        seen = 0
        while seen < len(chunks) - 1:
            await until(pilot, lambda seen=seen: screen.session.in_flight is None
                        or len(screen.session.in_flight.parts) > seen)
            if screen.session.in_flight is None:
                break
            seen = len(screen.session.in_flight.parts)
            await pilot.pause()
            assert_terminal_clean(app)
        await wait_turn(pilot)
        assert seen >= 2, "never saw the reply in flight"
        assert_terminal_clean(app, forbidden=("pwned", "cHduZWQ"))
        assert views(app)[-1] == ("assistant", "".join(chunks))


async def test_escape_sequences_in_the_users_own_message_and_in_errors_are_neutralized(
        fake: FakeOpenAI, make_settings: Any) -> None:
    hostile_error = f"bad {ESC}]0;pwned{BEL}{ESC}[31mrequest{ESC}]52;c;cHduZWQ={BEL}"
    fake.queue(Error(400, hostile_error), Error(429, hostile_error, type="requests", retry_after=30))
    app = app_for(make_settings, max_retries=1, retry_max_wait=60)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, f"mine {ESC}]0;pwned{BEL}{ESC}[2Jtext")
        assert views(app)[-1][0] == "error" and "request" in views(app)[-1][1]
        # The unsent text went back into the prompt, whose TextArea draws the user's own text as it is
        # (see test_users_own_escape_sequences_in_the_prompt_box); the transcript is what is checked here.
        app.query_one(PromptInput).clear()
        await pilot.pause()
        assert "mine text" in "\n".join(terminal_update(app)[0])
        assert_terminal_clean(app, forbidden=("pwned", "cHduZWQ"))
        # The retry countdown shows the (hostile) server message in the reply's header.
        app.query_one(PromptInput).clear()
        app.query_one(PromptInput).insert("again")
        await pilot.press("enter")
        screen = app.screen
        await until(pilot, lambda: screen.reply_view is not None and "retrying in" in screen.reply_view.note)
        assert_terminal_clean(app, forbidden=("pwned", "cHduZWQ"))
        await pilot.press("escape")
        await wait_turn(pilot)
        assert app.is_running


HOSTILE_MODELS = [f"evil{ESC}]0;pwned{BEL}model", f"red{ESC}[31mmodel", "[@click=app.quit]markup-model[/]"]


async def test_server_model_ids_are_not_markup(make_settings: Any) -> None:
    spy = Spy()
    with FakeOpenAI(models=HOSTILE_MODELS) as server:
        server.queue(Reply("ok"))
        app = make_app(make_settings(base_url=server.base_url))
        async with app.run_test(size=SIZE, message_hook=spy.hook) as pilot:
            spy.attach(app)
            await pilot.press("f2")
            await until(pilot, lambda: app.server_models_fetched)
            await pilot.pause()
            await pilot.press(*"markup-model")
            await pilot.pause()
            assert "[@click=app.quit]markup-model[/]" in "\n".join(terminal_update(app)[0])
            spy.actions.clear()
            await pilot.press("enter")
            await pilot.pause()
            assert app.is_running and not isinstance(app.screen, Picker)
            assert app.session.model == "[@click=app.quit]markup-model[/]"
            await send(pilot, "hi")
            assert server.last_body["model"] == "[@click=app.quit]markup-model[/]"
            # The id is drawn literally (status bar, reply header); clicking it runs nothing.
            spy.actions.clear()
            x, y = find_on_screen(app, "[@click=app.quit]markup-model[/]")
            for dx in range(len("[@click=app.quit]markup-model[/]")):
                await pilot.click(offset=(x + dx, y))
            await pilot.pause()
            assert app.is_running
            assert not [a for a in spy.actions if "quit" in a], spy.actions


async def test_server_model_ids_with_escapes_do_not_reach_the_terminal_in_the_picker(make_settings: Any) -> None:
    with FakeOpenAI(models=HOSTILE_MODELS) as server:
        app = make_app(make_settings(base_url=server.base_url))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f2")
            await until(pilot, lambda: app.server_models_fetched)
            await pilot.pause()
            await pilot.press(*"evil")
            await pilot.pause()
            assert "model" in "\n".join(terminal_update(app)[0])
            assert_terminal_clean(app)


async def test_chosen_server_model_id_with_escapes_does_not_reach_the_terminal(make_settings: Any) -> None:
    with FakeOpenAI(models=HOSTILE_MODELS) as server:
        app = make_app(make_settings(base_url=server.base_url))
        notified = Notified()
        async with app.run_test(size=SIZE, message_hook=notified) as pilot:
            await pilot.press("f2")
            await until(pilot, lambda: app.server_models_fetched)
            await pilot.pause()
            await pilot.press(*"evil", "enter")
            await pilot.pause()
            assert app.session.model == HOSTILE_MODELS[0]
            assert_terminal_clean(app)
            assert not any(CONTROL.search(n) for n in notified.messages), notified.messages


# -- (c) rendering stress in the TUI ------------------------------------------------------------------------


def nested_list(depth: int) -> str:
    return "\n".join(f"{'  ' * level}- level {level}" for level in range(depth)) + "\n"


def table(rows: int) -> str:
    return "| n | square | word |\n|---|---:|:---|\n" + "".join(f"| {i} | {i * i} | w{i} |\n" for i in range(rows))


def words(n: int) -> list[str]:
    """n word tokens in paragraphs of 50 (one 10,000-word paragraph takes about a minute to stream: every
    refresh re-wraps the whole paragraph)."""
    return [f"w{i}" + ("\n\n" if i % 50 == 49 else " ") for i in range(n)]


STRESS = {
    "long-line": "x" * 20_000,
    "long-line-with-spaces": ("word " * 4_000).strip(),
    "code-block-2000-lines": "```python\n" + "".join(f"value_{i} = {i} * 2  # line {i}\n" for i in range(2000))
                             + "```\n",
    "unclosed-fence": "Here:\n```python\ndef f():\n    return [1, 2,\n" + "    3,\n" * 50,
    "nested-list-50": nested_list(50),
    "table-200-rows": table(200),
}


@pytest.mark.parametrize("name", list(STRESS), ids=list(STRESS))
async def test_rendering_stress(name: str, fake: FakeOpenAI, make_settings: Any) -> None:
    text = STRESS[name]
    fake.queue(Reply([text[i:i + 4000] for i in range(0, len(text), 4000)]), Reply("still here"))
    app = app_for(make_settings)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await send(pilot, "stress")
        assert app.is_running
        assert views(app)[-1] == ("assistant", text)
        assert notified.errors == []
        markdown = app.screen.transcript.views()[-1].query_one(Markdown)
        assert markdown.source == neutralize(text)
        assert list(markdown.children), "the reply rendered nothing"
        lines, _ = terminal_update(app)  # the screen still composes
        assert len(lines) == SIZE[1]
        await send(pilot, "and now?")
        assert views(app)[-1] == ("assistant", "still here")


async def test_ten_thousand_tokens_in_two_thousand_chunks(fake: FakeOpenAI, make_settings: Any) -> None:
    """A long reply streamed in many small deltas; the finished view holds it all and the end is on screen."""
    tokens = words(10_000)
    chunks = ["".join(tokens[i:i + 5]) for i in range(0, len(tokens), 5)]
    assert len(chunks) == 2000
    fake.queue(Reply(chunks))
    app = app_for(make_settings)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await send(pilot, "talk a lot")
        assert app.is_running
        text = "".join(tokens)
        assert views(app)[-1] == ("assistant", text)
        assert app.session.conversation.last_reply().content == text
        assert app.screen.transcript.views()[-1].query_one(Markdown).source == text
        assert notified.errors == []
        assert "w9999" in "\n".join(terminal_update(app)[0])  # anchored: the end of the reply is on screen


async def test_a_stray_osc_introducer_in_a_reply_does_not_hide_the_rest_of_it(fake: FakeOpenAI,
                                                                              make_settings: Any) -> None:
    fake.queue(Reply("Visible start. A stray \x1b] and then\n\nTHE IMPORTANT REST of the answer."))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        drawn = "\n".join(terminal_update(app)[0])
        assert "Visible start. A stray" in drawn
        assert "THE IMPORTANT REST" in drawn


async def test_users_own_escape_sequences_in_the_prompt_box(fake: FakeOpenAI, make_settings: Any) -> None:
    from textual import events

    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        app.post_message(events.Paste(f"pasted {ESC}]0;pwned{BEL}{ESC}[2Jtext"))
        await pilot.pause()
        assert "pasted" in prompt.text
        assert_terminal_clean(app, forbidden=("pwned",))

