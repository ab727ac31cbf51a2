"""The command line's listings (`chat history`, `--search`, `chat usage`, `--list-models`): one table printer,
columns measured in terminal cells. main() runs in this process against a real SQLite file in the test's XDG
data directory; stdout is captured."""

from __future__ import annotations

import os
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.cli import main
from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.ledger import Request

WIDE_MODEL = "模型-中文"  # CJK: two cells a character
EMOJI_MODEL = "🤖-bot"  # an emoji drawn two cells wide
WIDE_TITLE = "日本語のタイトル 🐧 ペンギン"


def cells(text: str) -> int:
    """Terminal cells, by Unicode's East Asian Width (independent of the printer's own measure)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in text)


def store() -> HistoryStore:
    return HistoryStore(Path(os.environ["XDG_DATA_HOME"]) / "chatbot" / "history.db")


def chat(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.splitlines()


def ends_at(line: str, cell: str) -> int:
    """The cell where `cell`, the first time it is in `line`, ends."""
    return cells(line[:line.index(cell) + len(cell)])


def starts_at(line: str, cell: str) -> int:
    return cells(line[:line.index(cell)])


def test_history_has_a_header_and_columns_aligned_in_cells(capsys: pytest.CaptureFixture[str]) -> None:
    opened = store()
    try:
        for model, title in (("gpt-4o", "plain title"), (WIDE_MODEL, WIDE_TITLE), (EMOJI_MODEL, "🐧🐧🐧")):
            conversation_id = opened.create(model, "balanced", "", title=title)
            opened.add(conversation_id, Message("user", "hello"))
    finally:
        opened.close()

    table = chat(capsys, "history")

    assert table[0].split() == ["id", "updated", "model", "turns", "cost", "title"]
    assert len(table) == 4
    rows = [(table[0], "model", "turns", "cost", "title")] + [
        (line, model, "1 turn", "$0", title) for line, (model, title) in zip(
            table[1:], ((EMOJI_MODEL, "🐧🐧🐧"), (WIDE_MODEL, WIDE_TITLE), ("gpt-4o", "plain title")), strict=True)]
    # Left-aligned columns start in one place, right-aligned ones end in one place, whatever the cells before.
    assert len({starts_at(line, model) for line, model, _, _, _ in rows}) == 1, table
    assert len({ends_at(line, turns) for line, _, turns, _, _ in rows}) == 1, table
    assert len({ends_at(line, cost) for line, _, _, cost, _ in rows}) == 1, table
    assert len({starts_at(line, title) for line, _, _, _, title in rows}) == 1, table


def test_history_search_is_one_line_a_hit_with_titles_cut_in_cells(capsys: pytest.CaptureFixture[str]) -> None:
    opened = store()
    try:
        long_title = "ペンギン" * 15  # 60 characters, 120 cells
        a = opened.create("gpt-4o", "balanced", "", title=long_title)
        opened.add(a, Message("user", "first line\nabout penguins\n\n- a list\n- of things"))
        b = opened.create("gpt-4o", "balanced", "", title="short")
        opened.add(b, Message("assistant", "penguins\tare\nbirds"))
        # A title written by an older chat, before titles were made one line on entry.
        opened.db.execute("UPDATE conversations SET title = ? WHERE id = ?", ("two\nlines", b))
    finally:
        opened.close()

    hits = chat(capsys, "history", "--search", "penguins")

    assert len(hits) == 2, hits  # one line a hit, no header
    assert all("«penguins»" in line for line in hits)
    assert any("two lines" in line for line in hits)
    [long_hit] = [line for line in hits if line.lstrip().startswith(str(a))]
    title_cell = long_hit.split("  ")[1]
    assert title_cell.endswith("…") and cells(title_cell) <= 40
    # The role column lines up behind titles of any width.
    assert len({starts_at(line, ": ") for line in hits}) == 1, hits


def fill_usage(models: tuple[str, ...]) -> None:
    opened = store()
    try:
        conversation_id = opened.create("gpt-4o", "balanced", "")
        for model in models:
            opened.add_request(conversation_id, Request(model, "ok", Usage(1000, 20, 0), Decimal("0.001")))
    finally:
        opened.close()


def test_usage_columns_align_in_cells(capsys: pytest.CaptureFixture[str]) -> None:
    fill_usage(("gpt-4o", WIDE_MODEL, EMOJI_MODEL))

    table = chat(capsys, "usage")

    assert table[0].split() == ["day", "model", "requests", "prompt", "cached", "completion", "cost"]
    assert len(table) == 5  # header, three models, total
    assert len({cells(line) for line in table}) == 1, table  # the last column is right-aligned: one width
    assert len({ends_at(line, "1,000" if i else "prompt") for i, line in enumerate(table[:-1])}) == 1, table


def test_usage_of_an_empty_store_says_nothing_is_spent_yet(capsys: pytest.CaptureFixture[str]) -> None:
    assert chat(capsys, "usage") == ["nothing spent yet: chat usage counts every request chat sends"]
    assert main(["usage", "--json"]) == 0
    assert capsys.readouterr().out == "[]\n"


def test_history_of_an_empty_store_says_there_is_none_yet(capsys: pytest.CaptureFixture[str]) -> None:
    [line] = chat(capsys, "history")
    assert line.startswith("no conversations yet")


def test_list_models_aligns_wide_model_names_in_cells(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("".join(f'[models."{name}"]\ncontext_window = 8192\nmax_output = 1024\n'
                              'input_price = 0\noutput_price = 0\n\n' for name in (WIDE_MODEL, EMOJI_MODEL)),
                      encoding="utf-8")

    lines = chat(capsys, "--list-models", "--config", str(config))

    table = [line for line in lines if line.split()[:1] in (["model"], ["gpt-4o"], [WIDE_MODEL], [EMOJI_MODEL])]
    assert len(table) == 4, lines
    # The context column is right-aligned behind the names, whatever their width.
    assert len({ends_at(line, line.split()[1]) for line in table}) == 1, table
    assert len({cells(line) for line in table}) == 1, table
