"""Stored and model text reaches a terminal only through one boundary: chatbot/cli/output.py for the command
line, chatbot/ui/shown.py (and ChatApp.notify) for the app.

A stored conversation holds every sequence of test_hostile.HOSTILE_ESCAPES in every field: its text, its title,
its model and preset names, its system prompt and an error. Every command that prints stored text runs on a
real pseudo-terminal and must print none of them; into a pipe or a file an export stays exact. The store
cleans titles and model names as they enter; the app draws and copies the text as shown. The last tests read
the source: a print, a write or a widget that takes text by another path fails them.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAI, Reply
from support import send, until
from test_cli import chat_env  # noqa: F401 - fixture
from test_hostile import CONTROL, HOSTILE_ESCAPES, assert_terminal_clean, notifications, run_in_pty
from test_ui import SIZE

from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.request import Request
from chatbot.core.store.export import FORMAT, FORMAT_VERSION, import_json, to_json, to_markdown
from chatbot.core.store.history import HistoryStore
from chatbot.core.terminal import neutralize
from chatbot.ui.app import make_app

H = HOSTILE_ESCAPES
ROOT = Path(__file__).resolve().parents[1]
# What lives only inside a sequence (a window title, a clipboard payload, a link target, a DCS query): it is
# never printed, not even as the leftover of a sequence cut in two.
HIDDEN = ("pwned", "other-title", "cHduZWQ", "evil.invalid", "1$qm")


def assert_nothing_raw(out: str) -> None:
    """No control character (newline and tab aside) and nothing that lived inside a sequence."""
    assert not CONTROL.search(out.replace("\n", "").replace("\t", "")), repr(out)
    for payload in HIDDEN:
        assert payload not in out, (payload, out)


def clean_line(text: str) -> str:
    return " ".join(neutralize(text).split())


# -- a stored conversation with every sequence in every field ----------------------------------------------------


def db_of(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "chatbot" / "history.db"


def seed_old_database(db: Path) -> int:
    """The conversation as a database written before titles and names were cleaned on entry holds it."""
    store = HistoryStore(db)
    try:
        conversation_id = store.create("gpt-4o", "balanced", H)
        store.add(conversation_id, Message("user", H))
        store.add(conversation_id, Message("assistant", H, model="gpt-4o", usage=Usage(10, 2, 0),
                                           cost=Decimal("0.00001"), finish_reason="stop"))
        store.add(conversation_id, Message("user", "and again " + H))
        store.add(conversation_id, Message("assistant", H, model="gpt-4o", usage=Usage(12, 3, 0),
                                           cost=Decimal("0.00002"), error=H))
        store.db.execute("UPDATE conversations SET title = ?, model = ?, preset = ? WHERE id = ?",
                         (H, H, H, conversation_id))
        store.db.execute("UPDATE messages SET model = ? WHERE role = 'assistant'", (H,))
        for usage, cost in ((Usage(10, 2, 0), Decimal("0.00001")), (Usage(12, 3, 0), Decimal("0.00002"))):
            store.add_request(conversation_id, Request(H, "ok", usage, cost))
        return conversation_id
    finally:
        store.close()


def hostile_export() -> dict[str, Any]:
    """A `chat export --format json` file as another program, or a hostile sender, could write it."""
    reply = {"role": "assistant", "content": H, "model": H, "finish_reason": "stop", "stopped": False, "error": None,
             "usage": {"prompt_tokens": 10, "completion_tokens": 2, "cached_tokens": 0, "estimated": False},
             "cost_usd": "0.00001"}
    return {"format": FORMAT, "version": FORMAT_VERSION, "title": H, "model": H, "preset": H, "system_prompt": H,
            "messages": [{"role": "user", "content": H}, reply, {"role": "user", "content": "and again " + H},
                         {**reply, "error": H}]}


def chat_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    """`chat *args` with stdout and stderr into pipes."""
    return subprocess.run([sys.executable, "-m", "chatbot", *args], capture_output=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120, cwd=env["XDG_DATA_HOME"])


@pytest.fixture(params=["old-database", "imported"])
def stored(request: pytest.FixtureRequest, chat_env: dict[str, str], tmp_path: Path) -> tuple[dict[str, str], int]:
    """(env, id) of the hostile conversation, seeded into the store or brought in with `chat import`."""
    if request.param == "old-database":
        return chat_env, seed_old_database(db_of(chat_env))
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(hostile_export(), ensure_ascii=False), encoding="utf-8")
    done = chat_run(chat_env, "import", str(path))
    assert done.returncode == 0, done.stderr
    return chat_env, int(done.stdout)


def load(env: dict[str, str], conversation_id: int) -> Any:
    store = HistoryStore(db_of(env))
    try:
        return store.load(conversation_id)
    finally:
        store.close()


# -- every command that prints stored text, on a terminal ---------------------------------------------------------


TEXT_COMMANDS = {
    "history": ["history"],
    "search-visible-word": ["history", "--search", "hyperlink"],
    "search-word-in-a-title-sequence": ["history", "--search", "pwned"],
    "search-last-word": ["history", "--search", "end"],
    "export": ["export", "{id}"],
    "export-md": ["export", "{id}", "--format", "md"],
    "usage": ["usage"],
}
JSON_COMMANDS = {
    "history-json": ["history", "--json"],
    "search-json": ["history", "--search", "clip", "--json"],
    "export-json": ["export", "{id}", "--format", "json"],
    "usage-json": ["usage", "--json"],
}


def on_a_terminal(env: dict[str, str], conversation_id: int, args: list[str]) -> str:
    code, out, err = run_in_pty(env, Path(env["XDG_DATA_HOME"]),
                                *(a.format(id=conversation_id) for a in args), stderr_to_tty=True)
    assert code == 0, out
    return out


@pytest.mark.parametrize("name", TEXT_COMMANDS)
def test_a_command_printing_stored_text_to_a_terminal_prints_no_sequence(
        name: str, stored: tuple[dict[str, str], int]) -> None:
    env, conversation_id = stored
    out = on_a_terminal(env, conversation_id, TEXT_COMMANDS[name])
    assert out.strip(), "printed nothing"
    if name.startswith("export"):
        # The front matter quotes the title as JSON: escaped text ("\\u001b]0;..."), which a terminal prints.
        assert not CONTROL.search(out.replace("\n", "").replace("\t", "")), repr(out)
        assert out == neutralize(to_markdown(load(env, conversation_id))) + "\n"
    else:
        assert_nothing_raw(out)
    # Every line ends: nothing opened a string that swallowed the newline after it.
    assert out.endswith("\n")
    if name.startswith("search"):
        hits = [line for line in out.splitlines() if line]
        assert hits and all(re.match(rf"\s*{conversation_id}  ", line) for line in hits), out
        assert len(hits) == 4  # one a message: every message holds the word


@pytest.mark.parametrize("name", JSON_COMMANDS)
def test_json_on_a_terminal_has_no_raw_control_and_holds_the_data_exactly(
        name: str, stored: tuple[dict[str, str], int], request: pytest.FixtureRequest) -> None:
    env, conversation_id = stored
    out = on_a_terminal(env, conversation_id, JSON_COMMANDS[name])
    assert not CONTROL.search(out.replace("\n", "")), repr(out)
    data = json.loads(out)
    if name == "export-json":
        assert data == to_json(load(env, conversation_id))
        assert [m["content"] for m in data["messages"]] == [H, H, "and again " + H, H]
    elif name == "usage-json" and request.node.callspec.params["stored"] == "imported":
        assert data == []  # an import sent no request: nothing was spent
    else:
        assert data


def test_the_search_snippet_is_cut_from_the_text_as_shown(stored: tuple[dict[str, str], int]) -> None:
    env, conversation_id = stored
    # Words the screen shows; one glued to a sequence's parameters ("\x1b[31mred") is indexed with them.
    for word in ("title", "clip", "hyperlink", "dcs", "end"):
        out = on_a_terminal(env, conversation_id, ["history", "--search", word])
        snippets = [line.partition(": ")[2].strip() for line in out.splitlines() if line]
        assert snippets and all(f"«{word}»" in s for s in snippets), out
        shown = clean_line(H)
        for snippet in snippets:
            words = snippet.replace("«", "").replace("»", "").strip("…")
            assert words in "and again " + shown, (words, shown)


# -- into a pipe or a file: the export is exact -------------------------------------------------------------------


def test_markdown_export_into_a_pipe_or_a_file_is_exact(stored: tuple[dict[str, str], int], tmp_path: Path) -> None:
    env, conversation_id = stored
    expected = to_markdown(load(env, conversation_id)) + "\n"
    assert H in expected  # the messages as stored, sequences and all
    done = chat_run(env, "export", str(conversation_id))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("utf-8") == expected
    target = tmp_path / "out.md"
    assert chat_run(env, "export", str(conversation_id), "-o", str(target)).returncode == 0
    assert target.read_text(encoding="utf-8") == expected


def test_json_export_and_import_keep_the_text_byte_for_byte(stored: tuple[dict[str, str], int],
                                                            tmp_path: Path) -> None:
    env, conversation_id = stored
    done = chat_run(env, "export", str(conversation_id), "--format", "json")
    assert done.returncode == 0, done.stderr
    # Escaped, every control: the file can be shown anywhere, and reads back as the same text.
    assert not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", done.stdout), done.stdout
    path = tmp_path / "again.json"
    path.write_bytes(done.stdout)
    again = chat_run(env, "import", str(path))
    assert again.returncode == 0, again.stderr
    before, after = load(env, conversation_id), load(env, int(again.stdout))
    assert [(m.role, m.content, m.error) for m in after.conversation.messages] == [
        (m.role, m.content, m.error) for m in before.conversation.messages]
    assert after.conversation.system_prompt == before.conversation.system_prompt == H
    assert [m.content for m in after.conversation.messages] == [H, H, "and again " + H, H]
    # Names are cleaned as they enter: the title and model read as they were shown.
    assert (after.title, after.model, after.preset) == (clean_line(H), clean_line(H), clean_line(H))


# -- the store cleans titles and model names as they enter --------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = HistoryStore(tmp_path / "history.db")
    yield opened
    opened.close()


def test_a_title_from_the_first_message_is_clean(store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("user", H))
    [summary] = store.conversations()
    assert_nothing_raw(summary.title)
    assert summary.title == clean_line(H)[:59].rstrip() + "…"
    assert store.load(conversation_id).conversation.messages[0].content == H  # the message itself is kept


def test_titles_and_names_given_to_the_store_are_clean(store: HistoryStore) -> None:
    conversation_id = store.create(H, H, H, title=H)
    store.add(conversation_id, Message("assistant", H, model=H))
    row = store.add(conversation_id, Message("assistant", "", model="gpt-4o"), streaming=True)
    store.finalize(row, Message("assistant", H, model=H))
    stored = store.load(conversation_id)
    assert (stored.title, stored.model, stored.preset) == (clean_line(H),) * 3
    assert [m.model for m in stored.conversation.messages] == [clean_line(H)] * 2
    assert stored.conversation.system_prompt == H  # text, kept as it is
    store.rename(conversation_id, "new " + H)
    store.update_settings(conversation_id, "other " + H, "p " + H, H)
    stored = store.load(conversation_id)
    assert (stored.title, stored.model, stored.preset) == (
        clean_line("new " + H), clean_line("other " + H), clean_line("p " + H))
    store.add_request(conversation_id, Request(H, "ok", Usage(1, 1, 0), Decimal(0)))
    assert [r.model for r in store.usage()] == [clean_line(H)]


def test_import_cleans_the_title_and_model_names_and_keeps_the_text(store: HistoryStore) -> None:
    stored = store.load(import_json(store, hostile_export()))
    assert (stored.title, stored.model, stored.preset) == (clean_line(H),) * 3
    assert {m.model for m in stored.conversation.messages if m.role == "assistant"} == {clean_line(H)}
    assert [m.content for m in stored.conversation.messages] == [H, H, "and again " + H, H]
    assert stored.conversation.system_prompt == H


def test_search_snippets_hold_no_control_and_no_cut_sequence(store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("user", "first line\n" + H + "\nlast line"))
    for word in ("first", "title", "pwned", "hyperlink", "end", "last"):
        [hit] = store.search(word)
        assert_nothing_raw(hit.snippet)
        assert "\n" not in hit.snippet  # one line: a listing of hits stays one hit a line
        if word != "pwned":  # found only inside a window title: the hit is listed, nothing is marked
            assert f"«{word}»" in hit.snippet


# -- the app draws and copies the text as shown -------------------------------------------------------------------


def app_on(db: Path, make_settings: Any, **kwargs: Any) -> Any:
    return make_app(make_settings(), store=HistoryStore(db), **kwargs)


async def test_ctrl_y_copies_the_reply_as_shown(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(H))
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await pilot.press("ctrl+y")
        await pilot.pause()
        # What the app hands to the terminal's clipboard (OSC 52) is the text on the screen, not the raw reply.
        assert app.clipboard == neutralize(H)
        assert any(f"({len(neutralize(H)):,} characters)" in n for n in notifications(app)), notifications(app)
        assert app.session.conversation.last_reply().content == H  # the conversation keeps what was sent


async def test_notifications_are_drawn_as_data(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        app.notify(H + " [@click=app.quit]markup[/]", title=H)
        app.screen.notify("from a screen " + H)
        await pilot.pause()
        assert all(not CONTROL.search(n.replace("\t", "")) for n in notifications(app)), notifications(app)
        assert any("[@click=app.quit]markup[/]" in n for n in notifications(app))  # literal, never markup
        assert_terminal_clean(app, forbidden=HIDDEN)


async def test_opening_a_conversation_with_a_hostile_title_shows_it_clean(fake: FakeOpenAI, make_settings: Any,
                                                                          tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    seed_old_database(db)
    app = app_on(db, make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HistoryScreen")
        await pilot.pause()
        assert_terminal_clean(app, forbidden=HIDDEN)
        await pilot.press("ctrl+t")  # rename: the title goes into the search box
        await pilot.pause()
        assert_terminal_clean(app, forbidden=HIDDEN)
        await pilot.press("escape")
        await pilot.press("f4")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HistoryScreen")
        await pilot.press("enter")
        await until(pilot, lambda: any(n.startswith("Opened") for n in notifications(app)))
        await pilot.pause()
        assert_terminal_clean(app, forbidden=HIDDEN)
        assert all(not CONTROL.search(n.replace("\t", "")) for n in notifications(app)), notifications(app)


async def test_the_system_prompt_editor_shows_a_stored_prompt_clean(fake: FakeOpenAI, make_settings: Any,
                                                                    tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    conversation_id = seed_old_database(db)
    app = app_on(db, make_settings, resume_id=conversation_id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.session.conversation.system_prompt == H
        app.screen.action_edit_system_prompt()
        await until(pilot, lambda: app.screen.__class__.__name__ == "SystemPromptScreen")
        await pilot.pause()
        assert_terminal_clean(app, forbidden=HIDDEN)
        assert "cleared" in app.screen.query_one("TextArea").text


# -- the source: no other way to the terminal ---------------------------------------------------------------------


def python_files(folder: Path, *, skip: tuple[str, ...]) -> list[Path]:
    return [p for p in sorted(folder.rglob("*.py")) if p.relative_to(ROOT).as_posix() not in skip]


def called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


CLI_BOUNDARY = "chatbot/cli/output.py"


def test_the_command_line_writes_only_through_its_writer() -> None:
    """chatbot/cli/ and chatbot/*.py (the command line, not the core or the app) never print or write a stream
    themselves: chatbot/cli/output.py's Output is the one way to stdout and stderr."""
    files = [p for p in [*sorted((ROOT / "chatbot").glob("*.py")), *python_files(ROOT / "chatbot" / "cli", skip=())]
             if p.relative_to(ROOT).as_posix() not in (CLI_BOUNDARY, "chatbot/__init__.py", "chatbot/__main__.py")]
    assert {p.name for p in files} >= {"run.py", "one_shot.py", "store_commands.py", "catalogue.py"}
    bypasses = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and called_name(node) in ("print", "write", "writelines", "pprint"):
                bypasses.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
            if isinstance(node, ast.Attribute) and node.attr == "buffer" and ast.unparse(node.value) in (
                    "sys.stdout", "sys.stderr"):
                bypasses.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert not bypasses, "write through chatbot.cli.output instead:\n" + "\n".join(bypasses)


UI_BOUNDARY = "chatbot/ui/shown.py"
# Widgets and methods that draw the text they are given, as it is or as markup. A new one belongs here.
UI_SINKS = {"Static", "Label", "Button", "Option", "TextArea", "Input", "Markdown", "ReplyMarkdown", "Content", "Text",
            "update", "settle", "write", "write_line", "write_lines", "load_text", "copy_to_clipboard", "add_option",
            "add_options", "set_options", "add_row", "add_rows", "add_column", "from_markup", "from_ansi"}
# Keyword arguments those sinks draw.
UI_SINK_KEYWORDS = {"value", "text", "markdown", "prompt", "content", "renderable", "label"}


def is_shown(node: ast.expr) -> bool:
    """A string literal, text from the boundary (a call of shown*), or an item a sink builds (itself checked)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.Call):
        name = called_name(node) or ""
        return name.startswith("shown") or name in UI_SINKS
    if isinstance(node, ast.List | ast.Tuple):
        return all(is_shown(e) for e in node.elts)
    if isinstance(node, ast.GeneratorExp | ast.ListComp):
        return is_shown(node.elt)
    if isinstance(node, ast.NamedExpr):
        return is_shown(node.value)
    return False


def test_every_ui_sink_takes_its_text_from_the_boundary() -> None:
    """In chatbot/ui, a widget or method that draws text gets a literal or text from chatbot/ui/shown.py, never a
    string built some other way. The Markdown widget's own blocks are exempt: they draw the source it was given,
    and that is checked where it is given (ReplyMarkdown(...), settle(...), the stream's write(...))."""
    files = python_files(ROOT / "chatbot" / "ui", skip=(UI_BOUNDARY, "chatbot/ui/widgets/reply_markdown.py"))
    bypasses = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and called_name(node) in UI_SINKS:
                drawn = node.args[:1] + [k.value for k in node.keywords if k.arg in UI_SINK_KEYWORDS]
                if called_name(node) == "update" and node.args and isinstance(node.args[0], ast.Dict):
                    continue  # a dict's update
                bad = [a for a in drawn if not is_shown(a)]
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "value"
                                                      for t in node.targets):
                bad = [] if is_shown(node.value) else [node.value]  # an Input's value is drawn
            else:
                continue
            bypasses += [f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:100]}" for _ in bad[:1]]
    assert not bypasses, "pass the text through chatbot.ui.shown:\n" + "\n".join(bypasses)


def test_the_boundaries_are_where_the_checks_look() -> None:
    # A rename of either module would leave the checks above reading nothing.
    assert (ROOT / CLI_BOUNDARY).is_file() and (ROOT / UI_BOUNDARY).is_file()
    from chatbot.ui.app import ChatApp

    assert "notify" in vars(ChatApp), "notifications pass through ChatApp.notify"
