"""`chat`'s arguments: the store commands are argparse subcommands with generated help, and a chat flag given to
a store command is refused. main() runs in this process; what argparse prints is captured."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatbot.cli import main


def exits(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """main(args) for an argparse exit (help, or a usage error): (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as raised:
        main(list(args))
    out, err = capsys.readouterr()
    return int(raised.value.code or 0), out, err


def history_db() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "chatbot" / "history.db"


def test_help_lists_every_command_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = exits(capsys, "--help")
    assert code == 0
    listed = out[out.index("commands:"):]
    for name, help_line in (("history", "list, search or delete stored conversations"),
                            ("export", "export a conversation"), ("import", "import a conversation exported as JSON"),
                            ("usage", "tokens and cost per day and model")):
        assert any(line.split(None, 1) == [name, help_line] for line in listed.splitlines()), listed
    assert "exit codes:" in out and "--list-models" in out


@pytest.mark.parametrize(("command", "flags"), [
    ("history", ("--search", "--json", "--delete", "--clear", "--yes", "--with-usage")),
    ("export", ("--format", "--output", "id")),
    ("import", ("file",)),
    ("usage", ("--json",)),
])
def test_each_command_has_its_own_generated_help(capsys: pytest.CaptureFixture[str], command: str,
                                                 flags: tuple[str, ...]) -> None:
    code, out, _ = exits(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: chat {command} ")
    for flag in flags:
        assert flag in out, (flag, out)
    assert "--model" not in out  # a chat flag, not the command's


@pytest.mark.parametrize("args", [
    ["-m", "gpt-4o", "history"],
    ["--json", "usage"],
    ["-p", "hi", "export", "1"],
    ["--no-history", "history", "--clear", "--yes"],
])
def test_a_chat_flag_before_a_store_command_is_refused_and_nothing_is_done(
        capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = exits(capsys, *args)
    assert code == 2 and out == ""
    command = next(a for a in args if a in ("history", "export", "usage"))
    assert f"chat flag, not one of chat {command}'s (see chat {command} --help)" in err, err
    assert args[0] in err
    assert 'chat -p "' not in err  # not mistaken for a question
    assert not history_db().exists()  # the store was not even opened


def test_a_chat_flag_after_a_store_command_is_unknown_to_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = exits(capsys, "history", "-m", "gpt-4o")
    assert code == 2
    assert err.splitlines()[-1] == "chat history: error: unrecognized arguments: -m gpt-4o"


def test_the_commands_own_json_is_not_the_chat_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """`chat history --json` and `chat usage --json` are the command's own flags, not -p's --json."""
    assert main(["usage", "--json"]) == 0
    assert capsys.readouterr().out == "[]\n"
    assert main(["history", "--json"]) == 0
    assert capsys.readouterr().out == "[]\n"


@pytest.mark.parametrize("args", [["what", "is", "x"], ["-m", "gpt-4o", "what", "is", "x"],
                                  ["what", "is", "x", "--usage"]])
def test_words_that_are_no_command_are_a_question_typed_without_p(capsys: pytest.CaptureFixture[str],
                                                                  args: list[str]) -> None:
    code, _, err = exits(capsys, *args)
    assert code == 2
    assert 'to ask once: chat -p "what is x"' in err, err


def test_a_word_that_is_no_command_after_an_unknown_flag_gets_no_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = exits(capsys, "what", "--frobnicate")
    assert code == 2 and "--frobnicate" in err and "chat -p" not in err


def test_a_bad_flag_value_is_argparse_s_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = exits(capsys, "--temperature", "warm")
    assert code == 2
    assert err.splitlines()[-1] == "chat: error: argument --temperature: invalid float value: 'warm'"

