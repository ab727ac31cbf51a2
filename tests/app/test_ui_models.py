"""The model menu against a server that serves one reply at a time: asking it for its models never cuts a reply."""

from __future__ import annotations

import threading
from typing import Any

from chatbot.ui.app import make_app
from chatbot.ui.screens.picker import Picker, PickerItem
from chatbot.ui.widgets.message_view import MessageView
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.status_bar import StatusBar
from fake_openai import FakeOpenAI, Reply
from support import until, wait_turn

SIZE = (100, 30)
LONG = " ".join(f"word{i}" for i in range(40))


def model_requests(fake: FakeOpenAI) -> list[int]:
    """Positions of the GET /v1/models requests among everything the server received."""
    return [i for i, r in enumerate(fake.requests) if r.method == "GET" and r.path.endswith("/models")]


async def test_the_model_menu_opened_mid_reply_does_not_cut_it_off(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.interrupting = True  # like llama.cpp's server: any request ends the stream in flight
    hold = threading.Event()
    fake.queue(Reply(LONG, hold=hold, hold_after=3))
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await app.ready.wait()
        app.query_one(PromptInput).insert("tell me a story")
        await pilot.press("enter")
        await until(pilot, lambda: app.session.in_flight is not None and app.session.in_flight.parts)
        await pilot.press("f2")
        assert isinstance(app.screen, Picker)
        await pilot.pause()
        hold.set()
        await until(pilot, lambda: app.server_models_fetched)
        picker = app.screen
        await pilot.press("escape")
        await wait_turn(pilot)

        last = app.session.conversation.last_reply()
        assert last is not None and last.content == LONG and last.error is None and last.finish_reason == "stop"
        # The list was asked for after the reply ended, and reached the menu that was open.
        assert model_requests(fake) == [len(fake.requests) - 1]
        assert "fake-local-model" in {item.value for item in picker.items}


async def test_the_server_models_are_fetched_once_and_again_on_demand(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await until(pilot, lambda: app.server_models_fetched)
        await pilot.press("escape")
        await pilot.press("f2")
        await pilot.pause()
        assert len(model_requests(fake)) == 1  # cached: a second look does not ask again

        fake.models.append("new-local-model")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "new-local-model" in app.server_models)
        assert len(model_requests(fake)) == 2
        assert "new-local-model" in {item.value for item in app.screen.items}


async def test_typing_a_name_exactly_highlights_that_model(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        picker = app.screen
        assert isinstance(picker, Picker) and picker.highlighted_id == "gpt-4o-mini"
        await pilot.press(*"gpt-4o")  # gpt-4o-mini matches too, and was highlighted
        assert picker.highlighted_id == "gpt-4o"
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.model == "gpt-4o"


async def test_a_query_naming_nothing_exactly_highlights_the_first_match(fake: FakeOpenAI,
                                                                         make_settings: Any) -> None:
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        picker = app.screen
        assert isinstance(picker, Picker)
        await pilot.press(*"nano")
        first = picker.options.get_option_at_index(0).id
        assert first is not None and "nano" in first and picker.highlighted_id == first


async def test_a_name_the_menu_does_not_list_can_be_used(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("hi"))
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        picker = app.screen
        assert isinstance(picker, Picker)
        await until(pilot, lambda: app.server_models_fetched)
        await pilot.press(*"gpt-4o-2024-08-06")
        assert picker.highlighted_id == "gpt-4o-2024-08-06"
        assert "use 'gpt-4o-2024-08-06'" in str(picker.options.get_option("gpt-4o-2024-08-06").prompt)
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.model == "gpt-4o-2024-08-06"
        app.query_one(PromptInput).insert("hello")
        await pilot.press("enter")
        await wait_turn(pilot)
        assert fake.last_body["model"] == "gpt-4o-2024-08-06"


async def test_a_listed_name_is_not_offered_twice(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        picker = app.screen
        assert isinstance(picker, Picker)
        await pilot.press(*"GPT-4O")
        ids = [picker.options.get_option_at_index(i).id for i in range(picker.options.option_count)]
        assert ids.count("gpt-4o") == 1 and "GPT-4O" not in ids and picker.highlighted_id == "gpt-4o"


def notes(app: Any) -> list[str]:
    return [view.text for view in app.screen.query(MessageView) if view.role == "info"]


async def test_a_server_with_no_model_chosen_says_which_model_is_used_and_how_to_pick(fake: FakeOpenAI,
                                                                                       make_settings: Any) -> None:
    # Only a base URL: no model in the config, the environment or the flags.
    app = make_app(make_settings(model=None, catalogue_prices=None))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        [note] = notes(app)
        assert f"Using gpt-4o-mini at {fake.base_url}: no model was chosen." in note
        assert "f2: the model menu" in note and "chat -m NAME" in note


async def test_a_chosen_model_needs_no_note(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings(model="gpt-4o-mini", catalogue_prices=None))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert notes(app) == []


async def test_another_servers_replies_are_not_priced_at_openais_rates(fake: FakeOpenAI,
                                                                       make_settings: Any) -> None:
    fake.queue(Reply("hi", prompt_tokens=20, completion_tokens=2))
    app = make_app(make_settings(model="gpt-4o", catalogue_prices=None))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).insert("hello")
        await pilot.press("enter")
        await wait_turn(pilot)
        assert app.session.last_cost is None
        assert "last $?" in str(app.query_one(StatusBar).render())


async def test_models_arriving_later_win_over_the_typed_name(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await until(pilot, lambda: app.server_models_fetched)
        picker = app.screen
        assert isinstance(picker, Picker)
        await pilot.press(*"llama")
        assert picker.highlighted_id == "llama"  # only "use 'llama'" is left
        picker.add_items([PickerItem("llama3.2", "from the server")])
        await pilot.pause()
        assert picker.highlighted_id == "llama3.2"
        await pilot.press("down")  # the user's own choice stays when more arrive
        assert picker.highlighted_id == "llama"
        picker.add_items([PickerItem("llama3.3", "from the server")])
        await pilot.pause()
        assert picker.highlighted_id == "llama"
