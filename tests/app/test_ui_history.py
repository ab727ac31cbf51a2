"""The history in the chat app: saving as you chat, the history screen (ctrl+h), resume and export.

The app closes its store when it exits, so each app gets its own HistoryStore on the same file, and the checks
afterwards open another one.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, OptionList

from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.store.export import to_json
from chatbot.core.store.history import HistoryStore
from chatbot.ui.app import ChatApp, make_app
from chatbot.ui.screens.chat import ChatScreen
from chatbot.ui.screens.export import ExportScreen
from chatbot.ui.screens.history import HistoryScreen
from chatbot.ui.widgets.confirm_bar import ConfirmBar
from chatbot.ui.widgets.status_bar import StatusBar
from fake_openai import FakeOpenAI, Reply
from stored_history import seed
from support import Notified, caught_up, options, run_command, send, stop_mid_reply, until, views

SIZE = (110, 36)


# -- helpers -----------------------------------------------------------------------------------------------------


async def open_history(pilot: Any) -> HistoryScreen:
    await caught_up(pilot.app)  # what was just said is listed
    await pilot.press("ctrl+h")
    await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, HistoryScreen)
    return screen


@pytest.fixture
def three(db: Path) -> dict[str, int]:
    """Three stored conversations: penguins (oldest), volcanoes (newest), teapots (in between)."""
    return {
        "penguins": seed(db, "Penguins", "gpt-4.1-nano", [("How do penguins keep warm?", "They huddle."),
                                                          ("And emperor penguins?", "Even closer.")],
                         updated=1_700_000_000.0, preset="support", system_prompt="Talk like a zoologist."),
        "volcanoes": seed(db, "Volcanoes", "gpt-4o", [("Why do volcanoes erupt?", "Pressure builds.")],
                          updated=1_700_000_300.0),
        "teapots": seed(db, "Teapots", "gpt-4o-mini", [("Best teapot?", "A brown betty.")],
                        updated=1_700_000_200.0),
    }


def app_with(make_settings: Any, db: Path, **kwargs: Any) -> ChatApp:
    return make_app(make_settings(), store=HistoryStore(db), **kwargs)


# -- saving while chatting -------------------------------------------------------------------------------------


async def test_a_sent_exchange_is_saved(fake: FakeOpenAI, make_settings: Any, db: Path, reader: Any) -> None:
    fake.queue(Reply("Hello from the fake.", prompt_tokens=21, completion_tokens=5), Reply("Again."))
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first words")
        await send(pilot, "second words")
        await caught_up(app)
        conversation_id = app.recorder.conversation_id
        assert conversation_id is not None and app.recorder.error is None
        # Saved while the app runs, not on exit.
        stored = reader().load(conversation_id)
        assert [(m.role, m.content) for m in stored.conversation.messages] == [
            ("user", "first words"), ("assistant", "Hello from the fake."), ("user", "second words"),
            ("assistant", "Again.")]
        assert stored.conversation.messages[1].usage == Usage(21, 5, 0)
        assert stored.title == "first words" and stored.model == "gpt-4o-mini"
    assert not app.is_running
    store = reader()
    assert [s.id for s in store.conversations()] == [conversation_id]
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        assert not path.exists() or b"SECRETSECRET" not in path.read_bytes()


async def test_new_conversation_starts_a_new_stored_one(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                        reader: Any) -> None:
    fake.queue(Reply("one"), Reply("two"))
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "old topic")
        await pilot.press("ctrl+n")
        await pilot.pause()
        await send(pilot, "new topic")
    assert [s.title for s in reader().conversations()] == ["new topic", "old topic"]


async def test_a_stopped_reply_is_saved_as_stopped(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                   reader: Any) -> None:
    fake.queue(Reply(["one ", "two ", "three ", "four ", "five ", "six "], chunk_delay=0.3))
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await stop_mid_reply(pilot, "count")
        await caught_up(app)
        conversation_id = app.recorder.conversation_id
    reply = reader().load(conversation_id).conversation.messages[-1]
    assert reply.stopped and reply.content.startswith("one ")
    assert len(reply.content) < len("one two three four five six ")


# -- the history screen ----------------------------------------------------------------------------------------


async def test_ctrl_h_lists_conversations_newest_first(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                       three: dict[str, int]) -> None:
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        listed = options(app)
        assert [option_id for option_id, _ in listed] == [
            f"{three['volcanoes']}:", f"{three['teapots']}:", f"{three['penguins']}:"]
        assert "Volcanoes" in listed[0][1] and "gpt-4o" in listed[0][1] and "1 turn " in listed[0][1]
        assert "Penguins" in listed[2][1] and "2 turns" in listed[2][1] and "$0.00002" in listed[2][1]
        assert screen.query_one(OptionList).highlighted == 0
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert views(app) == []  # closing changes nothing


async def test_typing_a_query_shows_the_hits(fake: FakeOpenAI, make_settings: Any, db: Path,
                                             three: dict[str, int]) -> None:
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        assert screen.focused is screen.query_one(Input)
        await pilot.press(*"penguins")
        await until(pilot, lambda: len(options(app)) == 2)
        hits = options(app)
        assert all(option_id.startswith(f"{three['penguins']}:") for option_id, _ in hits)
        assert all("«penguins»" in text.lower() for _, text in hits)
        await pilot.press(*" NEAR(\"")  # FTS syntax is never syntax here
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, HistoryScreen)
        for _ in range(len(' NEAR("')):
            await pilot.press("backspace")
        await until(pilot, lambda: len(options(app)) == 2)
        await pilot.press("ctrl+a", "ctrl+k")  # an empty query lists every conversation again
        await until(pilot, lambda: len(options(app)) == 3)


async def test_stored_text_with_escape_sequences_is_listed_as_plain_text(fake: FakeOpenAI, make_settings: Any,
                                                                          db: Path) -> None:
    seed(db, "Title \x1b]0;pwned\x07 here", "gpt-4o",
         [("about penguins \x1b[31mred", "penguins \x1b]52;c;eA==\x07 huddle")], updated=1_700_000_000.0)
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await open_history(pilot)
        await until(pilot, lambda: len(options(app)) == 1)
        listed = options(app)
        await pilot.press(*"penguins")
        await until(pilot, lambda: len(options(app)) == 2)
        for _, text in listed + options(app):
            assert "\x1b" not in text and "\x07" not in text, text


async def test_enter_on_a_hit_opens_that_conversation_and_the_next_request_continues_it(
        fake: FakeOpenAI, make_settings: Any, db: Path, three: dict[str, int], reader: Any) -> None:
    fake.queue(Reply("Their feathers overlap."))
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await open_history(pilot)
        await pilot.press(*"emperor")
        await until(pilot, lambda: len(options(app)) == 1)
        [(option_id, _)] = options(app)
        found_row = int(option_id.partition(":")[2])
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.pause()

        assert views(app) == [("user", "How do penguins keep warm?"), ("assistant", "They huddle."),
                              ("user", "And emperor penguins?"), ("assistant", "Even closer.")]
        found = [v for v in app.screen.transcript.views() if v.has_class("found")]
        assert [v.text for v in found] == ["And emperor penguins?"]
        assert app.recorder.row_id(found[0].message) == found_row
        assert (app.session.model, app.session.preset_name) == ("gpt-4.1-nano", "support")
        assert "gpt-4.1-nano · support" in str(app.query_one(StatusBar).render())

        await send(pilot, "What about their feet?")

        body = fake.last_body
        assert body["model"] == "gpt-4.1-nano" and body["temperature"] == 0.3
        assert body["messages"] == [
            {"role": "system", "content": "Talk like a zoologist."},
            {"role": "user", "content": "How do penguins keep warm?"},
            {"role": "assistant", "content": "They huddle."},
            {"role": "user", "content": "And emperor penguins?"},
            {"role": "assistant", "content": "Even closer."},
            {"role": "user", "content": "What about their feet?"},
        ]
    store = reader()
    messages = store.load(three["penguins"]).conversation.messages
    assert [m.content for m in messages[-2:]] == ["What about their feet?", "Their feathers overlap."]
    assert len(store.conversations()) == 3  # continued, not copied
    assert store.conversations()[0].id == three["penguins"]  # and now the newest


async def test_arrows_and_enter_open_a_listed_conversation(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                           three: dict[str, int]) -> None:
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await open_history(pilot)
        await pilot.press("down")  # volcanoes -> teapots
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.pause()
        assert views(app) == [("user", "Best teapot?"), ("assistant", "A brown betty.")]
        assert app.recorder.conversation_id == three["teapots"]
        assert not [v for v in app.screen.transcript.views() if v.has_class("found")]


async def test_ctrl_t_renames(fake: FakeOpenAI, make_settings: Any, db: Path, three: dict[str, int],
                              reader: Any) -> None:
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        await pilot.press("ctrl+t")  # the highlighted one: volcanoes, the newest
        await pilot.pause()
        search = screen.query_one(Input)
        assert search.value == "Volcanoes" and screen.renaming == three["volcanoes"]
        await pilot.press("ctrl+a", "ctrl+k", *"Magma and me ", "enter")
        await until(pilot, lambda: screen.renaming is None and len(options(app)) == 3)
        assert "Magma and me" in options(app)[0][1]
        assert isinstance(app.screen, HistoryScreen)  # renaming does not open it
    store = reader()
    assert store.load(three["volcanoes"]).title == "Magma and me"
    assert store.load(three["teapots"]).title == "Teapots"


def asking(screen: HistoryScreen) -> str | None:
    """The delete question on the history screen, or None when none is asked."""
    bar = screen.query_one(ConfirmBar)
    return str(bar.render()) if bar.display else None


def stored_ids(reader: Any) -> set[int]:
    return {s.id for s in reader().conversations()}


@pytest.mark.parametrize("where", ["search field", "list"])
async def test_ctrl_d_asks_and_escape_keeps_the_conversation(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                             three: dict[str, int], reader: Any, where: str) -> None:
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        await pilot.press("down")  # teapots
        if where == "list":
            await pilot.press("tab")
            await until(pilot, lambda: screen.focused is screen.query_one(OptionList))
        focused = screen.focused
        await pilot.press("ctrl+d")
        await until(pilot, lambda: asking(screen) is not None)
        assert asking(screen) == "Delete 'Teapots'? enter/y deletes, escape keeps"
        assert stored_ids(reader) == set(three.values())  # nothing is deleted while it asks
        await pilot.press("ctrl+d", "escape")  # asked twice, answered once
        await until(pilot, lambda: asking(screen) is None)
        assert app.screen is screen  # escape answered the question; it did not close the history
        assert len(options(app)) == 3 and screen.focused is focused
        await pilot.press("ctrl+d", "n")
        await until(pilot, lambda: asking(screen) is None)
        assert len(options(app)) == 3
    assert stored_ids(reader) == set(three.values())


@pytest.mark.parametrize(("where", "answer"), [("search field", "enter"), ("search field", "y"), ("list", "enter"),
                                               ("list", "y")])
async def test_ctrl_d_then_confirming_deletes_it(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                 three: dict[str, int], reader: Any, where: str, answer: str) -> None:
    app = app_with(make_settings, db)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        screen = await open_history(pilot)
        await pilot.press("down")  # teapots
        if where == "list":
            await pilot.press("tab")
            await until(pilot, lambda: screen.focused is screen.query_one(OptionList))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: asking(screen) is not None)
        assert stored_ids(reader) == set(three.values())
        await pilot.press("down", "x", "ctrl+d")  # the question waits for its answer; nothing else moves
        assert "'Teapots'" in str(asking(screen)) and screen.query_one(OptionList).highlighted == 1
        await pilot.press(answer)
        await until(pilot, lambda: len(options(app)) == 2)
        assert asking(screen) is None and app.screen is screen
        assert [option_id for option_id, _ in options(app)] == [f"{three['volcanoes']}:", f"{three['penguins']}:"]
        assert screen.query_one(OptionList).highlighted == 1  # the row that took the deleted one's place
        assert any("Deleted 'Teapots'" in str(n.message) for n in notified.notes)
        assert screen.query_one(Input).value == ""  # the y went to the question, not into the search
    assert stored_ids(reader) == {three["volcanoes"], three["penguins"]}
    assert reader().search("teapot") == []


async def test_ctrl_d_in_a_search_asks_about_the_hit_and_leaves_the_query_alone(
        fake: FakeOpenAI, make_settings: Any, db: Path, three: dict[str, int], reader: Any) -> None:
    """In the search field ctrl+d is the screen's delete (it asks), not the field's delete-right."""
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        search = screen.query_one(Input)
        await pilot.press(*"brown betty", "home")
        await until(pilot, lambda: len(options(app)) == 1)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: asking(screen) is not None)
        assert "'Teapots'" in str(asking(screen))
        await pilot.press("escape")
        await until(pilot, lambda: asking(screen) is None)
        assert search.value == "brown betty" and screen.focused is search
        await pilot.press("delete")  # delete-right is still on the delete key
        assert search.value == "rown betty"
    assert stored_ids(reader) == set(three.values())


async def test_the_question_goes_away_when_focus_leaves_it(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                           three: dict[str, int], reader: Any) -> None:
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: asking(screen) is not None)
        await pilot.click(Input)  # the search box
        await until(pilot, lambda: asking(screen) is None)
        await pilot.press("enter")  # opens the highlighted conversation; deletes nothing
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
    assert stored_ids(reader) == set(three.values())


async def test_deleting_the_current_conversation_keeps_recording(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                                 reader: Any) -> None:
    fake.queue(Reply("first reply"), Reply("second reply"))
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "soon deleted")
        await open_history(pilot)
        await pilot.press("ctrl+d", "enter")  # the only conversation: the current one
        await until(pilot, lambda: [row_id for row_id, _ in options(app)] == [None])  # the empty history's line
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert views(app) == []  # the deleted conversation is off the screen too
        await send(pilot, "kept?")
        assert app.recorder.error is None
        # and out of the next request: a new conversation, as ctrl+n starts one
        assert [m["content"] for m in fake.last_body["messages"][1:]] == ["kept?"]
    assert [s.title for s in reader().conversations()] == ["kept?"]


async def test_history_is_off_without_a_store(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("hi"))
    app = make_app(make_settings())
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await send(pilot, "hello")
        assert app.recorder is None
        await pilot.press("ctrl+h")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        assert any("History is off" in str(n.message) for n in notified.notes)


# -- resume_id -------------------------------------------------------------------------------------------------


async def test_make_app_with_resume_id_opens_the_conversation(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                              three: dict[str, int], reader: Any) -> None:
    fake.queue(Reply("Ice."))
    app = app_with(make_settings, db, resume_id=three["penguins"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert views(app) == [("user", "How do penguins keep warm?"), ("assistant", "They huddle."),
                              ("user", "And emperor penguins?"), ("assistant", "Even closer.")]
        assert (app.session.model, app.session.preset_name) == ("gpt-4.1-nano", "support")
        assert app.session.conversation.system_prompt == "Talk like a zoologist."
        # Resumed replies keep what they cost (seeded with 2 completion tokens at $0.00001 each).
        assert [v.note for v in app.screen.transcript.views() if v.role == "assistant"] == [
            "2 tokens · $0.00001", "2 tokens · $0.00001"]
        # The status bar counts the context it uses before anything is sent, as it stood after the last reply:
        # the prompt that reply answered and the 2 tokens it wrote.
        await app.ready.wait()
        used = app.session.counter.count_prompt(app.session.conversation.all_messages()[:-1]) + 2
        await until(pilot, lambda: f"ctx {used}/" in str(app.query_one(StatusBar).render()))
        await send(pilot, "What do they eat?")
        body = fake.last_body
        assert body["model"] == "gpt-4.1-nano"
        assert [m["content"] for m in body["messages"]] == [
            "Talk like a zoologist.", "How do penguins keep warm?", "They huddle.", "And emperor penguins?",
            "Even closer.", "What do they eat?"]
    assert [m.content for m in reader().load(three["penguins"]).conversation.messages][-2:] == [
        "What do they eat?", "Ice."]


async def test_a_reply_cut_off_by_a_crash_is_shown_as_stopped(fake: FakeOpenAI, make_settings: Any, db: Path) -> None:
    store = HistoryStore(db)
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("user", "tell me everything"))
    row = store.add(conversation_id, Message("assistant", "", model="gpt-4o"), streaming=True)
    store.save_partial(row, "Everything begins with")
    store.close()
    app = app_with(make_settings, db, resume_id=conversation_id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert views(app) == [("user", "tell me everything"), ("assistant", "Everything begins with")]
        reply_view = app.screen.transcript.views()[1]
        assert reply_view.note == "stopped"


# -- export from the palette -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "json"])
async def test_palette_export_writes_the_conversation_into_the_cwd(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                                   reader: Any, fmt: str) -> None:
    fake.queue(Reply("An exported answer.", prompt_tokens=20, completion_tokens=4))
    app = app_with(make_settings, db)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await send(pilot, "export this")
        await caught_up(app)
        conversation_id = app.recorder.conversation_id
        path = Path.cwd() / f"chat-{conversation_id}.{fmt}"
        await run_command(pilot, "Export conversation as Markdown" if fmt == "md" else "Export conversation as JSON")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        assert app.screen.query_one(Input).value == str(path)  # the default: the current folder
        await pilot.press("enter")
        await until(pilot, path.exists)
        await pilot.pause()
        assert any(f"Exported to {path}" in str(n.message) for n in notified.notes)
    text = path.read_text(encoding="utf-8")
    if fmt == "md":
        assert text.startswith("---\ntitle: \"export this\"\n")
        assert 'model: "gpt-4o-mini"' in text and "completion_tokens: 4" in text
        assert "## You\n\nexport this" in text and "An exported answer." in text
    else:
        assert json.loads(text) == to_json(reader().load(conversation_id))
    assert "SECRETSECRET" not in text
    assert sorted(p.name for p in Path.cwd().iterdir()) == [path.name]


async def test_export_asks_before_overwriting_and_keeps_the_file_on_escape(fake: FakeOpenAI, make_settings: Any,
                                                                          db: Path) -> None:
    from chatbot.ui.widgets.confirm_bar import ConfirmBar

    fake.queue(Reply("answer"))
    (Path.cwd() / "notes.md").write_text("my own notes\n", encoding="utf-8")
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "export this")
        await run_command(pilot, "Export conversation as Markdown")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        box = app.screen.query_one(Input)
        box.value = "notes.md"
        await pilot.press("enter")
        bar = app.screen.query_one(ConfirmBar)
        await until(pilot, lambda: bar.display)
        assert "notes.md exists. Overwrite it?" in str(bar.render())
        await pilot.press("escape")  # keeps it, and the path can be changed
        assert (Path.cwd() / "notes.md").read_text(encoding="utf-8") == "my own notes\n"
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("enter", "y")  # asked again; yes overwrites
        await until(pilot, lambda: "export this" in (Path.cwd() / "notes.md").read_text(encoding="utf-8"))


async def test_export_without_history_writes_what_is_in_memory(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("kept in memory only"))
    app = make_app(make_settings())  # no store: as with --no-history
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "remember me")
        await run_command(pilot, "Export conversation as JSON")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        path = Path(app.screen.query_one(Input).value)
        await pilot.press("enter")
        await until(pilot, path.exists)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [m["content"] for m in data["messages"]] == ["remember me", "kept in memory only"]
    assert data["title"] == "remember me" and data["model"] == "gpt-4o-mini"


async def test_palette_export_before_any_message_says_there_is_nothing(fake: FakeOpenAI, make_settings: Any,
                                                                       db: Path) -> None:
    app = app_with(make_settings, db)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await run_command(pilot, "Export conversation as Markdown")
        await until(pilot, lambda: any("Nothing to export" in str(n.message) for n in notified.notes))
    assert list(Path.cwd().iterdir()) == []


async def test_history_write_failure_is_shown_once_and_the_chat_goes_on(fake: FakeOpenAI, make_settings: Any,
                                                                        db: Path) -> None:
    fake.queue(Reply("one"), Reply("two"))
    app = app_with(make_settings, db)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        # A store that fails every insert (as a full disk would): a trigger that aborts.
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("DROP TRIGGER messages_ai")
        blocker.execute("CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk full');"
                        " END")
        blocker.close()
        await send(pilot, "first")
        await send(pilot, "second")
        assert [m.content for m in app.session.conversation.messages] == ["first", "one", "second", "two"]
        assert app.recorder.error and "history is not being saved" in app.recorder.error
        shown = [n for n in notified.notes if "history is not being saved" in str(n.message)]
        assert len(shown) == 1 and str(db) in str(shown[0].message)


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 30)])
async def test_rows_keep_the_title_and_the_cost_in_columns_at_any_width(make_settings: Any, db: Path,
                                                                        size: tuple[int, int]) -> None:
    from rich.cells import cell_len

    seed(db, "日本語のタイトル 🐧 and a long tail that cannot fit", "gpt-4o", [("q", "a")], updated=1_700_000_300.0)
    seed(db, "Plain", "gpt-4.1-nano-2025-04-14-long-name", [("q", "a")], updated=1_700_000_000.0)
    app = app_with(make_settings, db)
    async with app.run_test(size=size) as pilot:
        screen = await open_history(pilot)
        rows = [text for _, text in options(app)]
        assert rows[0].split("  ")[1].startswith("日本語") and rows[1].split("  ")[1].startswith("Plain")
        assert all(row.rstrip().endswith("$0.00001") for row in rows)  # the cost is never cut off
        # Columns line up in cells, not characters, and the rows fit the list.
        assert len({cell_len(row) for row in rows}) == 1
        assert cell_len(rows[0]) <= screen.options.scrollable_content_region.width - 2


async def test_an_empty_history_and_a_search_without_hits_say_so(make_settings: Any, db: Path) -> None:
    app = app_with(make_settings, db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_history(pilot)
        assert [text for _, text in options(app)] == [
            "No conversations yet: each one is kept here from its first message."]
        await pilot.press("n", "o", "n", "e", "down", "enter")
        await until(pilot, lambda: [text for _, text in options(app)] == ["No message contains 'none'."])
        assert app.screen is screen and screen.highlighted_id is None  # enter chose nothing, the screen stays


async def test_deleting_another_conversation_leaves_the_open_one_alone(fake: FakeOpenAI, make_settings: Any,
                                                                      db: Path) -> None:
    seed(db, "Old one", "gpt-4o", [("q", "a")], updated=1_000_000_000.0)  # listed after the open one
    fake.queue(Reply("first reply"), Reply("second reply"))
    app = app_with(make_settings, db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "mine")
        await open_history(pilot)
        await pilot.press("down", "ctrl+d", "enter")
        await until(pilot, lambda: len(options(app)) == 1)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await send(pilot, "still mine")
        assert [m["content"] for m in fake.last_body["messages"][1:]] == ["mine", "first reply", "still mine"]
