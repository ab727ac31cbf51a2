"""Keys on a real pseudo-terminal: a burst acts in the order it was typed, keys typed during start-up are kept,
and a bracketed paste arrives exactly.

The pilot waits after every key it presses, so it cannot show what one write of "text + enter" does (a fast
typist, an expect script, `tmux send-keys "..." Enter`): these tests run `chat` itself on a pty and read what the
fake server received. The prompt is seen empty after a send when the next burst arrives exactly as typed.
"""

from __future__ import annotations

import os
import select
import termios
from collections.abc import Callable
from pathlib import Path

from chatbot.ui.typeahead import typed_ahead
from fake_openai import FakeOpenAI, Reply
from pty_terminal import ALTERNATE_SCREEN, LIMIT, Terminal, ready


def sent(fake: FakeOpenAI) -> list[str]:
    """The user message of every chat request the fake received, in order."""
    return [request.body["messages"][-1]["content"] for request in fake.chat_requests if request.body]


def send_burst(terminal: Terminal, fake: FakeOpenAI, burst: bytes) -> str:
    """Write `burst` in one write and return the message it sent."""
    count = len(sent(fake))
    terminal.write(burst)
    terminal.wait_for(lambda: len(sent(fake)) > count, f"a request after {burst!r} (sent before: {sent(fake)})")
    return sent(fake)[count]


def test_text_and_enter_in_one_write_sends_all_of_it_twenty_times(spawn: Callable[..., Terminal],
                                                                  fake: FakeOpenAI) -> None:
    fake.queue(*[Reply("ok") for _ in range(21)])
    terminal = ready(spawn())
    for n in range(20):
        assert send_burst(terminal, fake, b"explain monads\r") == "explain monads", f"burst {n + 1}"
    # Nothing of the 20th burst stayed in the prompt either.
    assert send_burst(terminal, fake, b"and one more\r") == "and one more"


def test_editing_keys_in_a_burst_act_in_order(spawn: Callable[..., Terminal], fake: FakeOpenAI) -> None:
    fake.queue(*[Reply("ok") for _ in range(4)])
    terminal = ready(spawn())
    # backspace (DEL), ctrl+j (newline), and up in an empty prompt (recall) are bindings, not text.
    assert send_burst(terminal, fake, b"explain monadz\x7fs\r") == "explain monads"
    assert send_burst(terminal, fake, b"line one\nline two\r") == "line one\nline two"
    assert send_burst(terminal, fake, b"\x1b[A again\r") == "line one\nline two again"
    assert send_burst(terminal, fake, b"done\r") == "done"


def test_remapped_send_and_newline_act_in_order(spawn: Callable[..., Terminal], fake: FakeOpenAI) -> None:
    fake.queue(Reply("ok"), Reply("ok"))
    terminal = ready(spawn(config='[keymap]\nsend = "ctrl+s"\nnewline = "enter"\n'))
    assert "ctrl+s sends" in terminal.text()
    assert send_burst(terminal, fake, b"one\rtwo\x13") == "one\ntwo"  # enter, then ctrl+s
    assert send_burst(terminal, fake, b"three\x13") == "three"


def test_keys_typed_before_the_app_starts_are_kept(spawn: Callable[..., Terminal], fake: FakeOpenAI) -> None:
    fake.queue(Reply("ok"), Reply("ok"))
    # Written before the process exists: the terminal is still cooked, and turns the enter into a line feed.
    terminal = spawn(typed_before=b"typed early\r")
    terminal.write(b"and late")
    ready(terminal)
    terminal.wait_for(lambda: len(sent(fake)) >= 1, "the early message sent")
    assert sent(fake)[0] == "typed early"
    assert send_burst(terminal, fake, b"\r") == "and late"


def test_keys_typed_while_the_app_starts_are_kept(spawn: Callable[..., Terminal], fake: FakeOpenAI) -> None:
    fake.queue(Reply("ok"), Reply("ok"))
    terminal = spawn()
    # Textual switches to the alternate screen as it takes the terminal, before it builds the first screen: keys
    # written now are read by the app before its prompt exists.
    terminal.wait_for(lambda: ALTERNATE_SCREEN in terminal.written(), "the alternate screen")
    terminal.write(b"during start-up\r")
    ready(terminal)
    terminal.wait_for(lambda: len(sent(fake)) >= 1, "the start-up message sent")
    assert sent(fake)[0] == "during start-up"
    assert send_burst(terminal, fake, b"next\r") == "next"


def test_bracketed_paste_arrives_exactly(spawn: Callable[..., Terminal], fake: FakeOpenAI) -> None:
    fake.queue(Reply("ok"), Reply("ok"))
    terminal = ready(spawn())
    # CRLF line breaks, a colour sequence on the last line and a carriage return after it: the sequence goes where
    # it stands, the line breaks stay line breaks, and nothing is sent until enter.
    paste = b"\x1b[200~one\r\ntwo\r\nthree \x1b[31mred\x1b[0m\rfour\x1b[201~"
    assert send_burst(terminal, fake, paste + b"\r") == "one\ntwo\nthree red\nfour"
    assert send_burst(terminal, fake, b"after\r") == "after"


def test_typed_ahead_reads_what_the_cooked_terminal_holds_and_gives_the_terminal_back() -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        os.write(master, b"hi\rthere")
        # The terminal echoes what it has taken in: once the echo is back, it holds all of it.
        echo = b""
        while not echo.endswith(b"there"):
            assert select.select([master], [], [], LIMIT)[0], f"no echo, only {echo!r}"
            echo += os.read(master, 1024)
        with typed_ahead(slave) as typed:
            assert typed == "hi\nthere"  # cooked: the enter became a line feed
            lflag, iflag = termios.tcgetattr(slave)[3], termios.tcgetattr(slave)[0]
            assert not lflag & (termios.ICANON | termios.ECHO) and not iflag & termios.ICRNL
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(slave)
        os.close(master)


def says(terminal: Terminal, *words: str) -> bool:
    """Whether every one of `words` has been drawn: a toast's sentence wraps inside its frame, and the rows
    between its lines are drawn in pieces of their own, so its words are read, not the sentence."""
    text = terminal.text()
    return all(word in text for word in words)


def editor_script(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.sh"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script)


def test_ctrl_g_composes_in_the_editor_and_the_app_comes_back(spawn: Callable[..., Terminal], fake: FakeOpenAI,
                                                              tmp_path: Path) -> None:
    fake.queue(Reply("ok"), Reply("ok"))
    # The editor sees the prompt's text in its file, adds a line as a user would, and saves.
    editor = editor_script(tmp_path, f'cp "$1" "{tmp_path}/seen"; printf "draft\\nsecond line\\n" > "$1"')
    terminal = ready(spawn(EDITOR=editor))
    terminal.write(b"draft\x07")  # ctrl+g
    # The app gives the terminal up (leaves the alternate screen) and takes it back.
    terminal.wait_for(lambda: terminal.written().count(ALTERNATE_SCREEN) >= 2, "the app back after the editor")
    assert (tmp_path / "seen").read_text() == "draft"
    assert send_burst(terminal, fake, b"\r") == "draft\nsecond line"
    assert send_burst(terminal, fake, b"typing works again\r") == "typing works again"


def test_an_editor_that_fails_leaves_the_prompt_as_it_was(spawn: Callable[..., Terminal], fake: FakeOpenAI,
                                                          tmp_path: Path) -> None:
    fake.queue(Reply("ok"))
    temp = tmp_path / "tmp"
    temp.mkdir()
    terminal = ready(spawn(EDITOR=editor_script(tmp_path, 'printf "half-written" > "$1"; exit 3'), TMPDIR=str(temp)))
    terminal.write(b"my words\x07")
    terminal.wait_for(lambda: says(terminal, "exited", "status"), "the editor's failure said")
    # What the editor wrote is kept. The toast names the file too (test_editor.py reads its words).
    assert [p.read_text() for p in temp.glob("chat-*/prompt.md")] == ["half-written"]
    assert send_burst(terminal, fake, b"\r") == "my words"


def test_an_editor_that_is_not_installed_is_named_and_the_app_comes_back(spawn: Callable[..., Terminal],
                                                                        fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.queue(Reply("ok"))
    terminal = ready(spawn(EDITOR="no-such-editor-here"))
    terminal.write(b"my draft\x07")  # ctrl+g
    terminal.wait_for(lambda: says(terminal, "'no-such-editor-here'", "found:"), "the missing editor named")
    assert send_burst(terminal, fake, b"\r") == "my draft"


def test_enter_twice_in_one_burst_on_a_menu_picks_once_and_the_app_lives_on(spawn: Callable[..., Terminal],
                                                                            fake: FakeOpenAI) -> None:
    """The second enter reaches the menu after it is dismissed: it must neither pick again nor close the chat
    screen under it (which ended the app)."""
    fake.queue(Reply("ok"))
    terminal = ready(spawn())
    terminal.write(b"\x1bOQ")  # f2, the model menu
    terminal.wait_for(lambda: "fake-local-model" in terminal.text(), "the model menu, with the server's models")
    terminal.write(b"fake-local\r\r")  # the server's model, typed, then enter twice
    terminal.wait_for(lambda: "Model: fake-local-model" in terminal.text(), "the model picked")
    assert send_burst(terminal, fake, b"still here\r") == "still here"
    assert fake.chat_requests[-1].body["model"] == "fake-local-model"


def test_keys_after_a_menu_key_go_to_the_menu_and_those_after_its_enter_to_the_prompt(
        spawn: Callable[..., Terminal], fake: FakeOpenAI) -> None:
    """One write: f2, a filter, enter, more words. f2 opens the menu only once it is back at the app, and enter
    picks only once the menu has its Submitted message: keys handed on meanwhile went to the prompt (the filter
    was sent as a message) and to the closing menu's filter (the words became the model's name)."""
    fake.queue(Reply("ok"))
    terminal = ready(spawn())
    terminal.write(b"\x1bOQ" + b"4.1-mini\r" + b"still here")
    terminal.wait_for(lambda: "Model: gpt-4.1-mini" in terminal.text(), "the model picked")
    assert send_burst(terminal, fake, b"\r") == "still here"
    assert len(sent(fake)) == 1  # the filter was not sent
    assert fake.chat_requests[-1].body["model"] == "gpt-4.1-mini"


def test_a_menu_that_keeps_its_enter_still_gets_the_keys_after_it(spawn: Callable[..., Terminal],
                                                                 fake: FakeOpenAI) -> None:
    """Enter on a filter that matches nothing leaves the preset menu open: the keys after it are held only until
    the menu has handled the enter, then go to the menu."""
    fake.queue(Reply("ok"))
    terminal = ready(spawn())
    terminal.write(b"\x1bOR" + b"zzz\r" + b"q")  # f3
    terminal.wait_for(lambda: "Nothing matches 'zzzq'" in terminal.text(), "the key after enter in the filter")
    # ctrl+u clears the filter; then a preset picked and a message sent, in one write.
    assert send_burst(terminal, fake, b"\x15writing\r" + b"after\r") == "after"
    assert "Preset: writing" in terminal.text()
    assert fake.chat_requests[-1].body["temperature"] == 0.7


def test_chat_quits_when_its_terminal_goes_away(spawn: Callable[..., Terminal]) -> None:
    """Its terminal closed under it, with no hangup signal (chat is not the leader of the terminal's session): the
    end of its input ends the app, instead of a loop that reads nothing at a whole core for ever."""
    terminal = ready(spawn())
    terminal.hang_up()
    assert terminal.proc.wait(timeout=LIMIT) is not None
