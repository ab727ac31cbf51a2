"""Model text is data in one-shot mode: a terminal gets no escape sequence, a pipe gets the bytes, and
control characters on stdin or in the prompt flag are cleaned before they are sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatbot.core.terminal import neutralize
from fake_openai import Error, FakeOpenAI, Reply
from hostile import (
    BEL,
    CONTROL,
    ESC,
    HOSTILE_ESCAPES,
    VISIBLE_WORDS,
    run_in_pty,
    split_everywhere,
)
from support import TEST_API_KEY as KEY


@pytest.fixture
def tty_env(fake: FakeOpenAI, chat_env: dict[str, str], tmp_path: Path) -> tuple[dict[str, str], Path]:
    env = dict(chat_env, OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url, CHAT_MAX_RETRIES="0")
    cwd = tmp_path / "tty-cwd"
    cwd.mkdir()
    return env, cwd


@pytest.mark.parametrize("chunking", ["whole", "split"])
def test_one_shot_to_a_terminal_removes_escape_sequences(chunking: str, fake: FakeOpenAI,
                                                         tty_env: tuple[dict[str, str], Path]) -> None:
    fake.queue(Reply([HOSTILE_ESCAPES] if chunking == "whole" else split_everywhere(HOSTILE_ESCAPES)))
    code, out, err = run_in_pty(*tty_env, "-p", "hi")
    assert code == 0, err
    assert not CONTROL.search(out.replace("\n", "").replace("\t", "")), repr(out)
    for word in VISIBLE_WORDS:
        assert word in out


@pytest.mark.parametrize("chunking", ["whole", "split"])
def test_one_shot_to_a_terminal_prints_no_remnants_of_sequences(chunking: str, fake: FakeOpenAI,
                                                                tty_env: tuple[dict[str, str], Path]) -> None:
    fake.queue(Reply([HOSTILE_ESCAPES] if chunking == "whole" else split_everywhere(HOSTILE_ESCAPES)))
    code, out, err = run_in_pty(*tty_env, "-p", "hi")
    assert code == 0, err
    assert out == neutralize(HOSTILE_ESCAPES) + "\n"


def test_one_shot_to_a_terminal_keeps_ordinary_text_exactly(fake: FakeOpenAI,
                                                            tty_env: tuple[dict[str, str], Path]) -> None:
    text = "Plain text, tabs\tand unicode: café 😀 — [bold]markup[/] stays.\nSecond line."
    fake.queue(Reply(text))
    code, out, err = run_in_pty(*tty_env, "-p", "hi")
    assert code == 0, err
    assert out == text + "\n"


def test_one_shot_to_a_pipe_passes_the_reply_through_unchanged(fake: FakeOpenAI, run_chat: Any) -> None:
    fake.queue(Reply(split_everywhere(HOSTILE_ESCAPES)))
    done = run_chat("-p", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == HOSTILE_ESCAPES + "\n"


def test_one_shot_error_on_a_terminal_is_neutralized(fake: FakeOpenAI, tty_env: tuple[dict[str, str], Path]) -> None:
    fake.queue(Error(400, f"bad {ESC}]0;pwned{BEL}{ESC}[31mrequest"))
    code, out, _err = run_in_pty(*tty_env, "-p", "hi", stderr_to_tty=True)
    assert code == 2
    assert "request" in out and "pwned" not in out
    assert not CONTROL.search(out.replace("\n", "")), repr(out)


def test_one_shot_retry_notice_on_a_terminal_is_neutralized(fake: FakeOpenAI,
                                                            tty_env: tuple[dict[str, str], Path]) -> None:
    env, cwd = tty_env
    fake.queue(Error(503, f"busy {ESC}]0;pwned{BEL}{ESC}[2J", type="server_error", retry_after=0), Reply("fine"))
    code, out, _err = run_in_pty(dict(env, CHAT_MAX_RETRIES="1"), cwd, "-p", "hi", stderr_to_tty=True)
    assert code == 0, out
    assert "retrying" in out and "fine" in out
    assert not CONTROL.search(out.replace("\n", "")), repr(out)


def test_one_shot_json_on_a_terminal_has_no_raw_controls(fake: FakeOpenAI,
                                                         tty_env: tuple[dict[str, str], Path]) -> None:
    import json

    fake.queue(Reply(HOSTILE_ESCAPES))
    code, out, err = run_in_pty(*tty_env, "-p", "hi", "--json")
    assert code == 0, err
    assert json.loads(out)["reply"] == HOSTILE_ESCAPES
    assert not CONTROL.search(out.replace("\n", "")), repr(out)


def test_one_shot_json_on_a_terminal_escapes_esc_and_bel(fake: FakeOpenAI,
                                                         tty_env: tuple[dict[str, str], Path]) -> None:
    import json

    reply = f"{ESC}]0;pwned{BEL}{ESC}[31mred"  # C0 only
    fake.queue(Reply(reply))
    code, out, err = run_in_pty(*tty_env, "-p", "hi", "--json")
    assert code == 0, err
    assert json.loads(out)["reply"] == reply
    assert ESC not in out and BEL not in out


# -- (d) control characters and invalid UTF-8 on stdin ------------------------------------------------------


def test_control_characters_on_stdin_are_cleaned_before_sending(fake: FakeOpenAI, run_chat: Any) -> None:
    fake.queue(Reply("ok"))
    stdin = (b"nul[\x00] bel[\x07] csi[\x1b[31m] osc[\x1b]0;title\x07] clip[\x1b]52;c;cHduZWQ=\x07] "
             b"esc(\x1b) c1[\xc2\x9b31m] del[\x7f] bs[\x08] ff[\x0c] tab[\t] crlf[\r\n] cr[\r] "
             b"bad[\xff\xfe] cut[\xe2\x82] emoji[\xf0\x9f\x98\x80]")
    done = run_chat(input=stdin)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    sent = fake.last_body["messages"][-1]["content"]
    # What the cleaning does (cli._compose: decode with errors="replace", drop NUL, then neutralize):
    assert sent == ("nul[] bel[] csi[] osc[] clip[] esc() c1[31m] del[] bs[] ff[] tab[\t] crlf[\n] cr[\n] "
                    "bad[\ufffd\ufffd] cut[\ufffd] emoji[😀]")


def test_control_characters_in_the_prompt_flag_are_cleaned_too(fake: FakeOpenAI, run_chat: Any) -> None:
    fake.queue(Reply("ok"))
    done = run_chat("-p", f"a{ESC}[31mb{BEL}c\rd", input=f"e{ESC}]0;t{BEL}f")
    assert done.returncode == 0, done.stderr
    assert fake.last_body["messages"][-1]["content"] == "abc\nd\n\nef"


@pytest.mark.parametrize("stdin", [b"\x00\x00\x00", b"\x1b[31m\x1b[0m", b"\x07\x07\x1b]0;x\x07"],
                         ids=["only-nul", "only-csi", "only-bel-osc"])
def test_stdin_of_only_control_characters_is_a_usage_error(stdin: bytes, fake: FakeOpenAI, run_chat: Any) -> None:
    fake.queue(Reply("ok"))
    done = run_chat(input=stdin)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, (done.stderr, fake.last_body["messages"][-1])
    assert "empty" in done.stderr
    assert fake.requests == []


@pytest.mark.parametrize("stdin", [b"\x00\x00\x00", b"\x1b[31m\x1b[0m", b"\x07\x07\x1b]0;x\x07"],
                         ids=["only-nul", "only-csi", "only-bel-osc"])
def test_stdin_of_only_control_characters_does_not_crash(stdin: bytes, fake: FakeOpenAI, run_chat: Any) -> None:
    fake.queue(Reply("ok"))
    done = run_chat(input=stdin)
    assert "Traceback" not in done.stderr
    assert done.returncode in (0, 2), done.stderr
    if fake.chat_requests:
        assert not CONTROL.search(fake.last_body["messages"][-1]["content"])


def test_a_stray_osc_introducer_on_stdin_does_not_drop_the_rest_of_the_input(fake: FakeOpenAI, run_chat: Any) -> None:
    fake.queue(Reply("ok"))
    done = run_chat(input=b"first line\nstray \x1b] here\nthird line\nfourth line\n")
    assert done.returncode == 0, done.stderr
    sent = fake.last_body["messages"][-1]["content"]
    assert "third line" in sent and "fourth line" in sent, repr(sent)

