"""Stored and model text reaches a terminal only through one boundary: chatbot/cli/output.py for the command
line, chatbot/ui/shown.py (and ChatApp.notify) for the app.

The store cleans titles and model names as they enter. The last tests read the source: a print, a write or a
widget that takes text by another path fails them. (The commands on a terminal are in
tests/cli/test_cli_terminal_boundary.py, the app in tests/app/test_ui_terminal_boundary.py.)"""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.request import Request
from chatbot.core.store.export import import_json
from chatbot.core.store.history import HistoryStore
from hostile import (
    H,
    assert_nothing_raw,
    clean_line,
    hostile_export,
)
from support import PROJECT

ROOT = PROJECT


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
UI_SINKS = {"Static", "Label", "Button", "Option", "Selection", "TextArea", "Input", "Markdown", "ReplyMarkdown",
            "Content", "Text", "update", "settle", "write", "write_line", "write_lines", "load_text",
            "copy_to_clipboard", "add_option", "add_options", "set_options", "add_row", "add_rows", "add_column",
            "from_markup", "from_ansi"}
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
    # graphics.py writes the terminal the app's own Kitty graphics sequences (a query, base64 image data), no text;
    # driver.py writes Textual's frames, drawn from widgets whose text is checked here.
    files = python_files(ROOT / "chatbot" / "ui", skip=(UI_BOUNDARY, "chatbot/ui/widgets/reply_markdown.py",
                                                        "chatbot/ui/graphics.py", "chatbot/ui/driver.py"))
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

