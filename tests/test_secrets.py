"""The API key never appears in any output: one-shot stdout/stderr (text, --usage, --json), the TUI's screen,
notifications and screenshot, repr()/str() of settings, client and every error (with its chain), and every file
the runs leave under the XDG directories, the working directory and the temp directory.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from fake_openai import Error, FakeOpenAI, Hang, Reply
from chatbot.core.client import ChatClient
from chatbot.core.errors import ChatError
from chatbot.core.session import Session
from chatbot.core.settings import Settings, load_settings
from chatbot.ui.app import ChatApp, make_app
from support import PROJECT, closed_port, send, until, wait_turn
from test_ui import SIZE, screen_text, views

LEAK = "sk-proj-LEAKCHECK0123456789abcdef"
# Also any recognisable piece of it (a server may echo part of a key).
FRAGMENTS = (LEAK, "LEAKCHECK0123456789abcdef", "LEAKCHECK0123", "LEAKCHECK")
ECHO = f"Incorrect API key provided: {LEAK}. You can find your API key at https://platform.openai.com."
PARTIAL_ECHO = "Incorrect API key provided: sk-proj-********************************cdef / sk-proj-LEAKC***."


def assert_no_key(text: str, where: str = "") -> None:
    for fragment in FRAGMENTS:
        assert fragment not in text, f"the key leaked into {where or 'output'}: {text!r}"


def assert_no_key_in_files(*roots: Path, allowed: Iterable[Path] = ()) -> int:
    """No file under `roots` holds the key (except `allowed`, config files the test wrote); returns files read."""
    allowed = {p.resolve() for p in allowed}
    seen = 0
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file() or path.resolve() in allowed:
                continue
            data = path.read_bytes()
            seen += 1
            for fragment in FRAGMENTS:
                for encoded in (fragment.encode(), fragment.encode("utf-16-le")):
                    assert encoded not in data, f"the key is in {path}"
    return seen


WRITTEN: list[Path] = []
"""Config files this test wrote with the key in them: the only files allowed to hold it."""


@pytest.fixture(autouse=True)
def _no_key_left_in_files(tmp_path: Path, _isolated_chat_env: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """After every test: no file under its tmp dirs (XDG dirs, cwd, TMPDIR of subprocesses, tempfile's dir of
    this process) holds the key."""
    import tempfile

    own_tmp = tmp_path / "process-tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    WRITTEN.clear()
    yield
    assert_no_key_in_files(tmp_path, _isolated_chat_env, allowed=WRITTEN)


# -- one-shot mode (subprocess) -------------------------------------------------------------------------------


@pytest.fixture
def oneshot(fake: FakeOpenAI, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """oneshot(*args, env={...}, key=True) -> CompletedProcess: `chat` with the key in OPENAI_API_KEY, XDG dirs,
    cwd and TMPDIR under tmp_path, history and the usage log on."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    for sub in ("xdg-config", "xdg-data", "xdg-state", "cwd", "tmp"):
        (tmp_path / sub).mkdir()
    base.update(XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_DATA_HOME=str(tmp_path / "xdg-data"),
                XDG_STATE_HOME=str(tmp_path / "xdg-state"), TMPDIR=str(tmp_path / "tmp"),
                PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT), base.get("PYTHONPATH", "")])),
                PYTHONIOENCODING="utf-8", OPENAI_BASE_URL=fake.base_url, CHAT_MAX_RETRIES="0")
    if "usage_log" in Settings.model_fields:
        base["CHAT_USAGE_LOG"] = "true"
    guard = f"http://127.0.0.1:{closed_port()}"
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        base[var] = guard
    base["NO_PROXY"] = base["no_proxy"] = "127.0.0.1,localhost"

    def run(*args: str, env: dict[str, str | None] | None = None, key: bool = True,
            input: bytes | None = b"") -> subprocess.CompletedProcess:
        full = dict(base)
        if key:
            full["OPENAI_API_KEY"] = LEAK
        for name, value in (env or {}).items():
            if value is None:
                full.pop(name, None)
            else:
                full[name] = value
        done = subprocess.run([sys.executable, "-m", "chatbot", *args], input=input, capture_output=True, env=full,
                              cwd=tmp_path / "cwd", timeout=120)
        out = subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                          done.stderr.decode("utf-8", "replace"))
        assert "Traceback" not in out.stderr, out.stderr
        assert_no_key(out.stdout, "stdout")
        assert_no_key(out.stderr, "stderr")
        return out

    return run


HTTP_FAULTS: dict[str, tuple[list[Any], int]] = {
    "401-echo": ([Error(401, ECHO, code="invalid_api_key")], 3),
    "401-partial-echo": ([Error(401, PARTIAL_ECHO, code="invalid_api_key")], 3),
    "403": ([Error(403, f"Project of key {LEAK} has no access to the model", type="permission_error")], 3),
    "404": ([Error(404, f"The model does not exist or key {LEAK} cannot see it", code="model_not_found")], 2),
    "429": ([Error(429, f"Rate limit reached for key {LEAK}", type="requests", code="rate_limit_exceeded")], 4),
    "429-quota": ([Error(429, f"Key {LEAK} exceeded its quota", code="insufficient_quota")], 4),
    "500": ([Error(500, f"The server had an error with {LEAK}", type="server_error")], 6),
    "400-param": ([Error(400, f"Invalid value: {LEAK}", param=LEAK, code=LEAK)], 2),
    "error-in-stream": ([Reply(["partial ", "answer "], error_in_stream={"message": ECHO, "type": "server_error",
                                                                       "code": LEAK})], 6),
    "error-in-stream-first": ([Reply([], error_in_stream={"message": ECHO, "code": 500})], 6),
    "dropped-stream": ([Reply(["one ", "two ", "three"], drop_after=1)], 6),
    "malformed-stream": ([Reply(["one ", "two "], malformed_after=1)], 6),
}


@pytest.mark.parametrize("mode", ["text", "json"])
@pytest.mark.parametrize("fault", list(HTTP_FAULTS), ids=list(HTTP_FAULTS))
def test_one_shot_http_faults_never_show_the_key(fault: str, mode: str, fake: FakeOpenAI, oneshot: Any,
                                                 tmp_path: Path, _isolated_chat_env: Path) -> None:
    scripted, code = HTTP_FAULTS[fault]
    fake.queue(*scripted)
    args = ["-p", "hi", "--save"] + (["--json"] if mode == "json" else ["--usage"])
    done = oneshot(*args)
    assert done.returncode == code, done.stderr
    assert any(line.startswith("chat: ") for line in done.stderr.splitlines()), done.stderr
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {LEAK}"  # the key was in play
    if mode == "json" and done.stdout:
        import json

        assert json.loads(done.stdout)["error"]
    if fault in ECHOED:
        assert "[redacted]" in done.stderr + done.stdout, done.stderr
    # The history database (--save) and the usage log are among the files read.
    assert assert_no_key_in_files(tmp_path, _isolated_chat_env) >= 2


def test_one_shot_retry_notices_never_show_the_key(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    fake.queue(Error(429, ECHO, type="requests", retry_after=0), Error(503, ECHO, type="server_error", retry_after=0),
               Reply("made it"))
    done = oneshot("-p", "hi", "--usage", "--save", env={"CHAT_MAX_RETRIES": "2"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("retrying") == 2
    assert done.stdout == "made it\n"
    assert_no_key_in_files(tmp_path)


@pytest.mark.parametrize("mode", ["text", "json"])
def test_one_shot_connection_refused_never_shows_the_key(mode: str, oneshot: Any, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = oneshot("-p", "hi", "--base-url", url, *(["--json"] if mode == "json" else []))
    assert done.returncode == 6
    assert url in done.stderr
    assert_no_key_in_files(tmp_path)


def test_one_shot_timeout_never_shows_the_key(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    hang = Hang()
    fake.queue(hang)
    try:
        done = oneshot("-p", "hi", env={"CHAT_TIMEOUT": "0.5"})
    finally:
        hang.release()
    assert done.returncode == 6
    assert_no_key_in_files(tmp_path)


def test_one_shot_success_with_json_and_usage_never_shows_the_key(fake: FakeOpenAI, oneshot: Any,
                                                                 tmp_path: Path) -> None:
    fake.queue(Reply("fine"), Reply("also fine"))
    done = oneshot("-p", "hi", "--json", "--save")
    assert done.returncode == 0, done.stderr
    done = oneshot("-p", "hi", "--usage", "-c")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "also fine\n"
    for command in (["history"], ["history", "--json"], ["export", "1"], ["export", "1", "--format", "json"],
                    ["usage"], ["usage", "--json"]):
        shown = oneshot(*command)
        assert shown.returncode == 0, (command, shown.stderr)
    assert_no_key_in_files(tmp_path)


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    WRITTEN.append(path)
    return path


def key_cmd(exit_code: int, key: str = LEAK) -> str:
    """A shell command that prints the key on stdout, echoes it on stderr, and exits with `exit_code`."""
    return f"printf '%s\\n' '{key}'; printf 'vault: bad token {key}\\n' >&2; exit {exit_code}"


def test_api_key_cmd_that_fails_after_printing_the_key(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg" / "config.toml", f'api_key_cmd = "{key_cmd(1)}"\n')
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 2, done.stderr
    assert "api_key_cmd failed (exit status 1)" in done.stderr
    assert fake.requests == []
    assert_no_key_in_files(tmp_path, allowed=[config])


def test_api_key_cmd_that_fails_echoing_a_key_of_another_shape(fake: FakeOpenAI, oneshot: Any,
                                                               tmp_path: Path) -> None:
    other = "LEAKCHECK0123456789abcdef-azure"
    config = write_config(tmp_path / "cfg" / "config.toml", f'api_key_cmd = "{key_cmd(1, other)}"\n')
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 2, done.stderr


def test_api_key_cmd_that_succeeds_then_the_server_echoes_it(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    fake.queue(Error(401, ECHO, code="invalid_api_key"))
    config = write_config(tmp_path / "cfg" / "config.toml", f'api_key_cmd = "{key_cmd(0)}"\n')
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 3, done.stderr
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {LEAK}"
    assert_no_key_in_files(tmp_path, allowed=[config])


BAD_CONFIGS = {
    "unknown-key": f'api_key = "{LEAK}"\nmodle = "gpt-4o"\n',
    "bad-value": f'api_key = "{LEAK}"\ntemperature = "{LEAK}"\n',
    "key-as-array": f'api_key = ["{LEAK}"]\n',
    "key-in-a-table": f'[budget]\napi_key = "{LEAK}"\n',
    "key-as-a-key-name": f'"{LEAK}" = 1\n',
    "syntax-error-after": f'api_key = "{LEAK}"\ntemperature = = 3\n',
    "unterminated-key": f'api_key = "{LEAK}\nmodel = "x"\n',
    "not-utf8": None,
}


def bad_config(path: Path, case: str) -> Path:
    text = BAD_CONFIGS[case]
    if text is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f'api_key = "{LEAK}"\nmodel = "caf'.encode() + b"\xe9\"\n")
        path.chmod(0o600)
        WRITTEN.append(path)
        return path
    return write_config(path, text)


def cases(marks: dict[str, pytest.MarkDecorator]) -> list[Any]:
    return [pytest.param(case, marks=marks[case]) if case in marks else case for case in BAD_CONFIGS]


@pytest.mark.parametrize("case", cases({}))
def test_bad_config_file_holding_the_key(case: str, fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    config = bad_config(tmp_path / "cfg" / "config.toml", case)
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 2, done.stderr
    assert str(config) in done.stderr
    assert fake.requests == []
    assert_no_key_in_files(tmp_path, allowed=[config])


def test_key_in_environment_with_a_bad_setting(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    done = oneshot("-p", "hi", env={"CHAT_TEMPERATURE": LEAK, "CHAT_API_KEY": LEAK})
    assert done.returncode == 2
    assert "CHAT_TEMPERATURE" in done.stderr


# -- the permission warning ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "warnings"), [(0o644, 1), (0o640, 1), (0o604, 1), (0o600, 0), (0o400, 0)])
def test_readable_config_with_the_key_warns_once_in_one_shot(mode: int, warnings: int, fake: FakeOpenAI,
                                                             oneshot: Any, tmp_path: Path) -> None:
    fake.queue(Reply("ok"))
    config = write_config(tmp_path / "cfg" / "config.toml", f'api_key = "{LEAK}"\n', mode)
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(lines) == warnings, done.stderr
    assert done.stderr.count(str(config)) == (2 if warnings else 0)  # "<path> holds api_key ...: chmod 600 <path>"
    if warnings:
        assert "chmod 600" in lines[0]
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {LEAK}"


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o600, False)])
async def test_readable_config_with_the_key_warns_in_the_app(mode: int, warned: bool, fake: FakeOpenAI,
                                                             tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", f'api_key = "{LEAK}"\nbase_url = "{fake.base_url}"\n', mode)
    settings, warnings = load_settings(config)
    app = make_app(settings, warnings=warnings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        notes = [n for n in app._notifications if "api_key" in n.message]
        assert len(notes) == (1 if warned else 0), [n.message for n in app._notifications]
        if warned:
            assert notes[0].severity == "warning" and str(config) in notes[0].message
        check_app_output(app)
    check_captured(capfd)


# -- the TUI -------------------------------------------------------------------------------------------------


def check_app_output(app: ChatApp) -> None:
    """Screen (as drawn), widgets' text, notifications, screenshot, transcript views."""
    update = app.screen._compositor.render_full_update()
    drawn = "\n".join("".join(seg.text for strip in line for seg in strip) for line in update.strips)
    assert_no_key(drawn, "the screen")
    assert_no_key(update.render_segments(app.console), "the terminal output")
    assert_no_key(screen_text(app), "a widget")
    for note in app._notifications:
        assert_no_key(f"{note.title} {note.message}", "a notification")
    assert_no_key(app.export_screenshot(), "the screenshot")
    from chatbot.ui.screens.chat import ChatScreen

    if isinstance(app.screen, ChatScreen):
        for _, text in views(app):
            assert_no_key(text, "the transcript")
    for message in app.session.conversation.messages:
        assert_no_key(repr(message), "a stored message")


def check_captured(capfd: pytest.CaptureFixture[str]) -> None:
    out, err = capfd.readouterr()
    assert_no_key(out, "the process's stdout")
    assert_no_key(err, "the process's stderr")


TUI_FAULTS = {name: scripted for name, (scripted, _) in HTTP_FAULTS.items()}
# Faults whose message (as the user sees it) echoes the key: the output must show it was removed.
ECHOED = {"401-echo", "401-partial-echo", "403", "404", "429", "429-quota", "500", "400-param", "error-in-stream",
          "error-in-stream-first"}


@pytest.mark.parametrize("fault", list(TUI_FAULTS), ids=list(TUI_FAULTS))
async def test_app_http_faults_never_show_the_key(fault: str, fake: FakeOpenAI, make_settings: Any,
                                                  tmp_path: Path, _isolated_chat_env: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    from chatbot.core.store.history import HistoryStore

    fake.queue(*TUI_FAULTS[fault])
    store = HistoryStore()  # under the isolated XDG_DATA_HOME
    app = make_app(make_settings(api_key=LEAK, max_retries=0), store=store)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "keep my words")
            assert views(app)[-1][0] == "error"
            if fault in ECHOED:
                assert "[redacted]" in views(app)[-1][1], views(app)[-1][1]
            check_app_output(app)
            await pilot.press("f1")  # the help screen, then back
            await pilot.pause()
            check_app_output(app)
    finally:
        store.close()
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {LEAK}"
    check_captured(capfd)
    assert assert_no_key_in_files(_isolated_chat_env) >= 1  # the history database at least


async def test_app_retry_countdown_never_shows_the_key(fake: FakeOpenAI, make_settings: Any,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    fake.queue(Error(429, ECHO, type="requests", retry_after=30))
    app = make_app(make_settings(api_key=LEAK, max_retries=2, retry_max_wait=60))
    async with app.run_test(size=SIZE) as pilot:
        app.screen.prompt.insert("patience")
        await pilot.press("enter")
        screen = app.screen
        await until(pilot, lambda: screen.reply_view is not None and "retrying in" in screen.reply_view._note)
        check_app_output(app)
        await pilot.press("escape")
        await wait_turn(pilot)
        check_app_output(app)
    check_captured(capfd)


def test_app_connection_refused_never_shows_the_key(make_settings: Any, capfd: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def run() -> None:
        app = make_app(make_settings(base_url=f"http://127.0.0.1:{port}/v1", api_key=LEAK, max_retries=0))
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "anyone?")
            assert views(app)[-1][0] == "error"
            check_app_output(app)

    asyncio.run(run())
    check_captured(capfd)


async def test_app_api_key_cmd_failure_never_shows_the_key(fake: FakeOpenAI, tmp_path: Path,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    settings, _ = load_settings(None, api_key_cmd=key_cmd(1), base_url=fake.base_url)
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready.is_set() and app._notifications)
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("api_key_cmd failed" in m for m in messages), messages
        check_app_output(app)
    check_captured(capfd)


# -- repr() and str() of what holds the key, and of every error ------------------------------------------------


def chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


def check_error(exc: ChatError) -> None:
    for link in chain(exc):
        assert_no_key(repr(link), f"repr of {type(link).__name__}")
        assert_no_key(str(link), f"str of {type(link).__name__}")
        assert_no_key(repr(link.args), f"args of {type(link).__name__}")
        assert_no_key(repr(getattr(link, "__notes__", [])), "exception notes")
        for name, value in vars(link).items():
            if isinstance(value, (str, int, float, type(None))):
                assert_no_key(repr(value), f"{type(link).__name__}.{name}")
    assert_no_key(exc.headline(), "headline")
    assert_no_key("".join(traceback.format_exception(exc)), "a formatted traceback")


def test_settings_and_client_repr_hide_the_key(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    loaded = []
    loaded.append(load_settings(None, api_key=LEAK, base_url=fake.base_url)[0])
    monkeypatch.setenv("OPENAI_API_KEY", LEAK)
    loaded.append(load_settings(None)[0])
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("CHAT_API_KEY", LEAK)
    loaded.append(load_settings(None)[0])
    monkeypatch.delenv("CHAT_API_KEY")
    config = write_config(tmp_path / "k.toml", f'api_key = "{LEAK}"\n')
    loaded.append(load_settings(config)[0])
    for settings in loaded:
        assert settings.api_key is not None and settings.api_key.get_secret_value() == LEAK
        for shown in (repr(settings), str(settings), repr(settings.api_key), str(settings.api_key),
                      repr(settings.model_dump()), settings.model_dump_json(), repr(settings.__dict__)):
            assert_no_key(shown, "settings")
        client = ChatClient.from_settings(settings)
        assert client.has_key
        assert_no_key(repr(client), "ChatClient repr")
        assert_no_key(str(client), "ChatClient str")
        session = Session(settings, client)
        assert_no_key(repr(session.conversation), "conversation")


@pytest.mark.parametrize("fault", list(HTTP_FAULTS), ids=list(HTTP_FAULTS))
async def test_every_chat_error_and_its_chain_hide_the_key(fault: str, fake: FakeOpenAI, make_settings: Any) -> None:
    scripted, _ = HTTP_FAULTS[fault]
    fake.queue(*scripted)
    client = ChatClient.from_settings(make_settings(api_key=LEAK, max_retries=0))
    session = Session(make_settings(api_key=LEAK, max_retries=0), client)
    with pytest.raises(ChatError) as caught:
        async for _ in session.send("hi"):
            pass
    await client.aclose()
    check_error(caught.value)
    for message in session.conversation.messages:
        assert_no_key(repr(message), "the partial reply")


async def test_connection_and_model_list_errors_hide_the_key(make_settings: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    client = ChatClient.from_settings(make_settings(api_key=LEAK, base_url=url, max_retries=0))
    with pytest.raises(ChatError) as caught:
        await client.list_models()
    check_error(caught.value)
    session = Session(make_settings(api_key=LEAK, base_url=url, max_retries=0), client)
    with pytest.raises(ChatError) as caught:
        async for _ in session.send("hi"):
            pass
    check_error(caught.value)
    await client.aclose()


def test_api_key_cmd_errors_hide_the_key() -> None:
    settings, _ = load_settings(None, api_key_cmd=key_cmd(1))
    with pytest.raises(ChatError) as caught:
        settings.resolve_api_key()
    check_error(caught.value)
    assert "api_key_cmd failed" in str(caught.value)
    settings, _ = load_settings(None, api_key_cmd=f"printf '%s' '{LEAK}' >&2; exit 127")
    with pytest.raises(ChatError) as caught:
        settings.resolve_api_key()
    check_error(caught.value)


def config_error(path: Path, case: str) -> ChatError:
    config = bad_config(path, case)
    with pytest.raises(ChatError) as caught:
        load_settings(config)
    assert str(config) in str(caught.value)
    return caught.value


@pytest.mark.parametrize("case", cases({}))
def test_config_error_messages_hide_the_key(case: str, tmp_path: Path) -> None:
    exc = config_error(tmp_path / "bad.toml", case)
    for shown in (str(exc), repr(exc), exc.headline(), exc.hint, repr(exc.args),
                  "".join(traceback.format_exception(exc))):
        assert_no_key(shown, "the config error")


@pytest.mark.parametrize("case", cases({}))
def test_config_error_chains_hide_the_key(case: str, tmp_path: Path) -> None:
    check_error(config_error(tmp_path / "bad.toml", case))
