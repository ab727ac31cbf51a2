"""Every command that prints stored text, on a real pseudo-terminal, prints no sequence.

A stored conversation holds every sequence of hostile.HOSTILE_ESCAPES in every field: its text, its title, its
model and preset names, its system prompt and an error. Into a pipe or a file an export stays exact."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.store.export import to_json, to_markdown
from chatbot.core.store.history import HistoryStore
from chatbot.core.terminal import neutralize
from hostile import (
    CONTROL,
    H,
    assert_nothing_raw,
    clean_line,
    hostile_export,
    run_in_pty,
    seed_old_database,
)

# -- a stored conversation with every sequence in every field ----------------------------------------------------


def db_of(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "chatbot" / "history.db"


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
    code, out, _err = run_in_pty(env, Path(env["XDG_DATA_HOME"]),
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

