"""`chat` run as a subprocess against the fake OpenAI server (which runs in this pytest process)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import chatbot
from chatbot.core.store.history import HistoryStore
from fake_openai import Error, FakeOpenAI, Reply
from support import PROJECT, closed_port
from support import TEST_API_KEY as KEY

ECHO = f"Incorrect API key provided: {KEY}"


def last_user(fake: FakeOpenAI) -> str:
    messages = fake.last_body["messages"]
    assert messages[-1]["role"] == "user"
    return messages[-1]["content"]


def assert_clean(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert KEY not in done.stdout + done.stderr
    assert "SECRETSECRET" not in done.stdout + done.stderr


# -- one-shot replies ------------------------------------------------------------------------


def test_prompt_streams_reply_to_stdout(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("Paris is the capital of France."))

    done = run_chat("-p", "Capital of France?")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "Paris is the capital of France.\n"
    assert last_user(fake) == "Capital of France?"
    assert fake.last_body["stream"] is True
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert_clean(done)


def test_piped_stdin_is_appended_to_the_prompt(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("It sums numbers."))

    done = run_chat("-p", "Explain this code:", input="def f(xs):\n    return sum(xs)\n")

    assert done.returncode == 0, done.stderr
    sent = last_user(fake)
    assert sent.startswith("Explain this code:")
    assert "def f(xs):\n    return sum(xs)" in sent
    assert sent.index("Explain this code:") < sent.index("def f(xs)")
    assert done.stdout == "It sums numbers.\n"


def test_stdin_alone_is_the_prompt(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("Hello!"))

    done = run_chat(input="hello from a pipe")

    assert done.returncode == 0, done.stderr
    assert last_user(fake) == "hello from a pipe"
    assert done.stdout == "Hello!\n"


def test_reply_ending_in_newline_gets_no_extra_newline(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply(["line one\n", "line two\n"]))

    done = run_chat("-p", "two lines")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "line one\nline two\n"


def test_usage_prints_one_line_to_stderr(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("ok", prompt_tokens=1000, completion_tokens=500, cached_tokens=200))

    done = run_chat("-p", "hi", "--usage", "--model", "gpt-4o")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert "1000" in line and "500" in line and "200" in line
    # (800 * 2.50 + 200 * 1.25 + 500 * 10.00) / 1M = $0.00725
    assert "$0.00725" in line


def test_config_example_prints_the_documented_example(run_chat) -> None:
    done = run_chat("--config-example")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (PROJECT / "config.example.toml").read_text(encoding="utf-8")


def test_output_closed_early_ends_quietly(fake: FakeOpenAI, chat_env: dict[str, str], tmp_path: Path) -> None:
    fake.queue(Reply([f"line {i}\n" for i in range(200)], chunk_delay=0.01))
    env = {**chat_env, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url}
    proc = subprocess.Popen([sys.executable, "-m", "chatbot", "-p", "count"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()  # as `| head -1` does
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_json_prints_one_object(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("The answer.", prompt_tokens=1000, completion_tokens=500))

    done = run_chat("-p", "hi", "--json", "--model", "gpt-4o")

    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1
    result = json.loads(done.stdout)
    assert result["reply"] == "The answer."
    assert result["model"] == "gpt-4o"
    assert result["finish_reason"] == "stop"
    assert result["usage"] == {"prompt_tokens": 1000, "completion_tokens": 500, "cached_tokens": 0,
                               "reasoning_tokens": 0, "estimated": False}
    assert Decimal(result["cost_usd"]) == Decimal("0.0075")


def test_json_prints_an_object_for_a_failed_request_too(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Error(404, "The model does not exist", code="model_not_found"))

    done = run_chat("-p", "hi", "--json", "--model", "gpt-4o")

    assert done.returncode == 2
    result = json.loads(done.stdout)
    assert result["reply"] == "" and result["usage"] is None and result["cost_usd"] is None
    assert "does not exist" in result["error"] and "does not exist" in done.stderr


def test_json_with_unknown_price_has_null_cost(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("local"))

    done = run_chat("-p", "hi", "--json", "--model", "my-local-llama")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cost_usd"] is None


def test_length_finish_prints_a_note(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("cut o", finish_reason="length"))

    done = run_chat("-p", "hi")

    assert done.returncode == 0, done.stderr
    assert "max_tokens" in done.stderr


@pytest.mark.parametrize(("flags", "check"), [
    (["--model", "gpt-4o"], lambda b: b["model"] == "gpt-4o"),
    (["--model", "gpt-5"], lambda b: b["model"] == "gpt-5" and "temperature" not in b
     and b["messages"][0]["role"] == "developer" and "max_completion_tokens" in b),
    (["--temperature", "0.2"], lambda b: b["temperature"] == 0.2),
    (["--top-p", "0.5"], lambda b: b["top_p"] == 0.5),
    (["--max-tokens", "123"], lambda b: b["max_tokens"] == 123),
    (["--system", "Answer in French."], lambda b: b["messages"][0] == {"role": "system",
                                                                      "content": "Answer in French."}),
    (["--preset", "extraction"], lambda b: b["response_format"] == {"type": "json_object"}
     and b["temperature"] == 0.0 and b["max_tokens"] == 2000),
])
def test_flags_reach_the_request_body(fake: FakeOpenAI, run_chat, flags: list[str],
                                      check: Callable[[dict[str, Any]], bool]) -> None:
    fake.queue(Reply("{}"))

    done = run_chat("-p", "hi", *flags)

    assert done.returncode == 0, done.stderr
    assert check(fake.last_body), fake.last_body


def test_base_url_flag_overrides_the_environment(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("via flag"))

    done = run_chat("-p", "hi", "--base-url", fake.base_url,
                    env={"OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"})

    assert done.returncode == 0, done.stderr
    assert done.stdout == "via flag\n"


def test_invalid_utf8_on_stdin_is_replaced_not_fatal(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("ok"))

    done = run_chat(input=b"caf\xe9 and \xff\xfe bytes")

    assert done.returncode == 0, done.stderr
    assert_clean(done)
    sent = last_user(fake)
    assert sent.startswith("caf\ufffd and ")
    assert sent.endswith(" bytes")
    assert "\ufffd" in sent.split(" and ")[1]


def test_a_bare_question_is_refused_with_the_way_to_ask_it(fake: FakeOpenAI, run_chat) -> None:
    done = run_chat("what", "is", "a", "monad?")
    assert done.returncode == 2
    assert 'chat -p "what is a monad?"' in done.stderr
    assert fake.chat_requests == []
    unknown = run_chat("--frobnicate")
    assert unknown.returncode == 2 and "--frobnicate" in unknown.stderr and "chat -p" not in unknown.stderr


@pytest.mark.parametrize("stdin", [b"", b"   \n\t\n  "])
def test_empty_stdin_is_a_usage_error(fake: FakeOpenAI, run_chat, stdin: bytes) -> None:
    done = run_chat(input=stdin)

    assert done.returncode == 2
    assert "empty" in done.stderr
    assert fake.requests == []
    assert_clean(done)


def test_whitespace_prompt_with_empty_stdin_is_a_usage_error(fake: FakeOpenAI, run_chat) -> None:
    done = run_chat("-p", "   ")

    assert done.returncode == 2
    assert fake.requests == []
    assert_clean(done)


# -- exit codes ------------------------------------------------------------------------------


@pytest.mark.parametrize(("scripted", "code"), [
    (Error(401, ECHO, code="invalid_api_key"), 3),
    (Error(403, ECHO), 3),
    (Error(404, f"The model does not exist ({KEY})", code="model_not_found"), 2),
    (Error(400, f"bad parameter, key {KEY}", code="invalid_value"), 2),
    (Error(429, f"Rate limit reached for {KEY}", code="rate_limit_exceeded"), 4),
    (Error(429, f"You exceeded your current quota, {KEY}", code="insufficient_quota"), 4),
    (Error(400, f"maximum context length exceeded ({KEY})", code="context_length_exceeded"), 5),
    (Error(500, ECHO, type="server_error"), 6),
    (Error(503, ECHO, type="server_error"), 6),
    (Reply("partial", error_in_stream={"message": ECHO, "type": "server_error"}), 6),
    (Reply("one two three", drop_after=1), 6),
])
def test_errors_give_exit_codes_without_traceback_or_key(fake: FakeOpenAI, run_chat, scripted: Any,
                                                         code: int) -> None:
    fake.queue(scripted)

    done = run_chat("-p", "hi", env={"CHAT_MAX_RETRIES": "0"})

    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("chat: ")
    assert_clean(done)
    assert len(fake.chat_requests) == 1


def test_dropped_stream_keeps_what_arrived_on_stdout(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("one two three", drop_after=2))

    done = run_chat("-p", "hi")

    assert done.returncode == 6
    assert done.stdout.startswith("one two")
    assert "stream dropped" in done.stderr
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize("reply", [
    Reply("one two three", finish_reason=None),
    Reply("one two three", finish_reason=None, send_done=False, chunked=False),
], ids=["done-without-finish", "eof-without-finish"])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_reply_without_finish_reason_is_cut_off_not_finished(fake: FakeOpenAI, run_chat, reply: Reply,
                                                               as_json: bool) -> None:
    fake.queue(reply)

    done = run_chat("-p", "hi", *(["--json"] if as_json else []))

    assert done.returncode == 6, done.stderr
    if as_json:
        result = json.loads(done.stdout)
        assert result["reply"] == "one two three"
        assert "broke off" in result["error"]
    else:
        assert done.stdout == "one two three\n"
        assert "broke off" in done.stderr


def test_a_cut_off_reply_is_stored_as_broken_off(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("one two three", finish_reason=None))

    assert run_chat("-p", "hi", "--save").returncode == 6
    exported = run_chat("export", "1", "--format", "json")

    assert exported.returncode == 0, exported.stderr
    reply = json.loads(exported.stdout)["messages"][-1]
    assert reply["content"] == "one two three"
    assert "broke off" in reply["error"]
    assert "broke off" in run_chat("export", "1", "--format", "md").stdout


def test_retries_are_announced_then_succeed(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Error(429, "Rate limit reached", retry_after=0), Reply("made it"))

    done = run_chat("-p", "hi")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "made it\n"
    assert "retrying" in done.stderr
    assert len(fake.chat_requests) == 2


def test_connection_refused_exits_6(run_chat) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"

    done = run_chat("-p", "hi", "--base-url", url, env={"CHAT_MAX_RETRIES": "0"})

    assert done.returncode == 6
    assert url in done.stderr
    assert_clean(done)


def test_unknown_flag_exits_2(run_chat) -> None:
    done = run_chat("--no-such-flag")

    assert done.returncode == 2
    assert "--no-such-flag" in done.stderr
    assert_clean(done)


def test_bad_config_file_exits_2_naming_it(fake: FakeOpenAI, run_chat, tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('model = "gpt-4o"\ntemperature = = 3\n', encoding="utf-8")

    done = run_chat("-p", "hi", "--config", str(config))

    assert done.returncode == 2
    assert str(config) in done.stderr
    assert fake.requests == []
    assert_clean(done)


def test_unknown_key_in_config_exits_2_naming_file_and_key(fake: FakeOpenAI, run_chat, tmp_path: Path) -> None:
    config = tmp_path / "typo.toml"
    config.write_text('modle = "gpt-4o"\n', encoding="utf-8")

    done = run_chat("-p", "hi", "--config", str(config))

    assert done.returncode == 2
    assert str(config) in done.stderr and "modle" in done.stderr
    assert fake.requests == []
    assert_clean(done)


def test_out_of_range_temperature_exits_2_naming_the_flag(fake: FakeOpenAI, run_chat) -> None:
    done = run_chat("-p", "hi", "--temperature", "5")

    assert done.returncode == 2
    assert "--temperature" in done.stderr
    assert fake.requests == []
    assert_clean(done)


def test_no_key_and_no_base_url_exits_3(fake: FakeOpenAI, run_chat) -> None:
    done = run_chat("-p", "hi", key=False, base_url=False)

    assert done.returncode == 3
    assert "OPENAI_API_KEY" in done.stderr
    assert_clean(done)


def test_no_key_with_a_local_base_url_is_fine(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("local answer"))

    done = run_chat("-p", "hi", key=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "local answer\n"
    assert fake.chat_requests[-1].headers["authorization"] == "Bearer not-needed"


def test_spend_limit_exits_4_before_any_request(fake: FakeOpenAI, run_chat) -> None:
    done = run_chat("-p", "hi", "--model", "gpt-4o", env={"CHAT_MAX_SESSION_COST": "0.001"})

    assert done.returncode == 4
    assert fake.requests == []
    assert_clean(done)


# -- information -----------------------------------------------------------------------------


def test_version(run_chat) -> None:
    done = run_chat("--version")

    assert done.returncode == 0
    assert done.stdout.strip() == f"chat {chatbot.__version__}"


def test_list_models(fake: FakeOpenAI, run_chat) -> None:
    done = run_chat("--list-models", base_url=False)

    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert "128,000" in rows["gpt-4o"]
    assert "400,000" in rows["gpt-5"]
    assert "128,000" in rows["gpt-4o-mini"]
    assert fake.requests == []
    assert_clean(done)


def test_list_models_with_a_base_url_lists_the_servers_models_too(fake: FakeOpenAI, run_chat) -> None:
    fake.models = ["llama3.2:3b", "qwen2.5-coder"]
    # A server that is not OpenAI: the catalogue's prices are not its own.
    done = run_chat("--list-models", "--base-url", fake.base_url, base_url=False, env={"CHAT_CATALOGUE_PRICES": None})

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    [gpt_4o] = [line.split() for line in lines if line.startswith("gpt-4o ")]  # the catalogue first
    assert gpt_4o == ["gpt-4o", "128,000", "16,384", "?", "?", "?"]
    assert f"from the server at {fake.base_url}:" in lines
    assert "llama3.2:3b  (from the server)" in lines and "qwen2.5-coder  (from the server)" in lines
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/v1/models")]
    assert_clean(done)


def test_list_models_with_a_dead_server_says_so_in_one_line(run_chat) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = run_chat("--list-models", "--base-url", url, base_url=False)

    assert done.returncode == 0
    assert any(line.startswith("gpt-4o ") for line in done.stdout.splitlines())
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"chat: could not list the models of {url}: "), done.stderr


def test_help_lists_exit_codes(run_chat) -> None:
    done = run_chat("--help")

    assert done.returncode == 0
    assert "exit codes" in done.stdout
    assert "--list-models" in done.stdout


def test_unknown_preset_flag_is_blamed_on_the_flag(fake: FakeOpenAI, run_chat) -> None:
    # Regression: the error used to name the (absent) config file instead of --preset.
    done = run_chat("-p", "hi", "--preset", "no-such-preset")

    assert done.returncode == 2
    assert "no-such-preset" in done.stderr
    assert "--preset" in done.stderr
    assert "config.toml" not in done.stderr, done.stderr
    assert_clean(done)


# -- chat history --clear: asks on a terminal, refuses a script without --yes --------------------------------------


@pytest.fixture
def three_stored(chat_env: dict[str, str]) -> Path:
    """Three conversations in the history `chat` will open; returns the database's path."""
    path = Path(chat_env["XDG_DATA_HOME"]) / "chatbot" / "history.db"
    store = HistoryStore(path)
    try:
        for title in ("one", "two", "three"):
            store.create("gpt-4o", "balanced", "", title=title)
    finally:
        store.close()
    return path


def stored_titles(path: Path) -> list[str]:
    store = HistoryStore(path)
    try:
        return sorted(s.title for s in store.conversations())
    finally:
        store.close()


def test_history_clear_with_yes_deletes_without_asking(run_chat, three_stored: Path) -> None:
    done = run_chat("history", "--clear", "--yes", input=None)
    assert done.returncode == 0, done.stderr
    assert "[y/N]" not in done.stderr and str(three_stored) in done.stderr
    assert stored_titles(three_stored) == []


@pytest.mark.parametrize("stdin", [None, b"y\n"], ids=["no stdin", "a pipe saying y"])
def test_history_clear_without_a_terminal_refuses_and_deletes_nothing(run_chat, three_stored: Path,
                                                                      stdin: bytes | None) -> None:
    """A script or CI has no one to ask; not even a piped y is taken as consent."""
    done = run_chat("history", "--clear", input=stdin)
    assert done.returncode == 2
    assert done.stderr.startswith("chat: usage error: --clear would delete 3 conversations")
    assert "--yes" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert stored_titles(three_stored) == ["one", "three", "two"]


def clear_on_a_terminal(env: dict[str, str], cwd: Path, answer: bytes | None) -> tuple[int, str]:
    """`chat history --clear` with stdin, stdout and stderr on a pseudo-terminal; once it asks, type `answer`
    and enter (None: interrupt it, as ctrl+c would). Returns (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "chatbot", "history", "--clear"], stdin=slave, stdout=slave,
                                stderr=slave, env=env, cwd=cwd)
    finally:
        os.close(slave)
    shown = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                proc.kill()
                raise AssertionError(f"chat showed nothing more for 120 s: {shown!r}")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            shown += data
            if shown.endswith(b"[y/N] "):
                if answer is None:
                    proc.send_signal(signal.SIGINT)
                else:
                    os.write(master, answer + b"\n")
    finally:
        os.close(master)
    return proc.wait(timeout=120), shown.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.parametrize(("answer", "deleted"), [(b"y", True), (b"Yes", True), (b"n", False), (b"", False),
                                                 (b"maybe", False)])
def test_history_clear_on_a_terminal_asks_first(chat_env: dict[str, str], three_stored: Path, tmp_path: Path,
                                                answer: bytes, deleted: bool) -> None:
    code, shown = clear_on_a_terminal(chat_env, tmp_path, answer)
    assert code == 0, shown
    assert f"chat: delete 3 conversations from {three_stored}? [y/N] " in shown
    assert stored_titles(three_stored) == ([] if deleted else ["one", "three", "two"])
    assert ("history deleted" in shown) == deleted and ("nothing deleted" in shown) != deleted


def test_history_clear_interrupted_at_the_question_deletes_nothing(chat_env: dict[str, str], three_stored: Path,
                                                                   tmp_path: Path) -> None:
    code, shown = clear_on_a_terminal(chat_env, tmp_path, None)
    assert code == 130, shown
    assert "Traceback" not in shown and "interrupted" in shown
    assert stored_titles(three_stored) == ["one", "three", "two"]


def test_history_clear_of_an_empty_history_asks_nothing(run_chat, chat_env: dict[str, str]) -> None:
    done = run_chat("history", "--clear", input=None)
    assert done.returncode == 0, done.stderr
    assert "history deleted" in done.stderr


@pytest.mark.parametrize("command", [["history"], ["usage"], ["cost", "--requests", "10", "--prompt", "100",
                                                               "--completion", "10"], ["--config-example"]])
def test_a_command_whose_reader_has_gone_ends_quietly(command: list[str], chat_env: dict[str, str],
                                                       three_stored: Path, tmp_path: Path) -> None:
    """As `chat history | head -1` when head has read its line: the pipe is closed before chat writes at all."""
    reading, writing = os.pipe()
    os.close(reading)
    try:
        done = subprocess.run([sys.executable, "-m", "chatbot", *command], stdin=subprocess.DEVNULL, stdout=writing,
                              stderr=subprocess.PIPE, env=chat_env, cwd=tmp_path, timeout=60, check=False)
    finally:
        os.close(writing)
    assert done.returncode == 141, done.stderr
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr, done.stderr
