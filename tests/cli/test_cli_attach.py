"""`chat -p ... -a FILE` run as a subprocess against the fake OpenAI server: what is sent, and every refusal."""

from __future__ import annotations

import base64
import io
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fake_openai import Error, FakeOpenAI, Reply
from support import offline

KEY = "sk-test-SECRETSECRET1234"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "cwd"
    path.mkdir()
    return path


@pytest.fixture
def run_chat(fake: FakeOpenAI, tmp_path: Path, workdir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """run_chat(*args, stdin=bytes, env_extra={...}) -> the finished `chat`, its output decoded."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    for var, sub in (("XDG_CONFIG_HOME", "xdg-config"), ("XDG_DATA_HOME", "xdg-data"),
                     ("XDG_STATE_HOME", "xdg-state")):
        (tmp_path / sub).mkdir()
        env[var] = str(tmp_path / sub)
    env.update(CHAT_CATALOGUE_PRICES="true", OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url,
               CHAT_MODEL="gpt-4o")
    offline(env)

    def run(*args: str, stdin: bytes = b"",
            env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "chatbot", *args], input=stdin, capture_output=True,
                              env={**env, **(env_extra or {})}, cwd=workdir, timeout=120)
        assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())

    return run


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 128, 255)).save(out, "PNG")
    return out.getvalue()


def parts(fake: FakeOpenAI) -> Any:
    return fake.last_body["messages"][-1]["content"]


def sent_size(part: dict[str, Any]) -> tuple[int, int]:
    data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
    return Image.open(io.BytesIO(data)).size


def test_images_and_text_files_reach_the_server_as_content_parts(fake: FakeOpenAI, run_chat,
                                                                 workdir: Path) -> None:
    (workdir / "photo.png").write_bytes(png(3000, 1500))
    (workdir / "small.png").write_bytes(png(64, 32))
    (workdir / "main.py").write_text("print('hi')\n")
    fake.queue(Reply("Two blue images and a script."))

    done = run_chat("-p", "what are these?", "-a", "photo.png", "-a", "small.png:low", "-a", "main.py")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "Two blue images and a script.\n"
    content = parts(fake)
    assert content[0] == {"type": "text", "text": "what are these?\n\nmain.py\n```python\nprint('hi')\n```"}
    assert [p["image_url"]["detail"] for p in content[1:]] == ["auto", "low"]
    assert sent_size(content[1]) == (1536, 768)  # downscaled to what gpt-4o uses
    assert sent_size(content[2]) == (64, 32)


def test_the_configured_detail_applies_to_every_image(fake: FakeOpenAI, run_chat, workdir: Path) -> None:
    (workdir / "photo.png").write_bytes(png(3000, 1500))
    fake.queue(Reply("ok"))
    done = run_chat("-p", "look", "-a", "photo.png", env_extra={"CHAT_ATTACHMENTS__DETAIL": "low"})
    assert done.returncode == 0, done.stderr
    assert parts(fake)[1]["image_url"]["detail"] == "low"
    assert sent_size(parts(fake)[1]) == (512, 256)


def test_an_image_from_stdin(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("a blue square"))
    # argparse takes a value starting with "-" for a flag, so stdin with its own detail is --attach=-:high.
    done = run_chat("-p", "what is this?", "--attach=-:high", stdin=png(100, 100))
    assert done.returncode == 0, done.stderr
    content = parts(fake)
    assert content[0] == {"type": "text", "text": "what is this?"}  # stdin is the file, not more prompt
    assert content[1]["image_url"]["detail"] == "high" and sent_size(content[1]) == (100, 100)


def test_a_text_file_from_stdin(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("ok"))
    done = run_chat("-p", "review", "-a", "-", stdin=b"SELECT 1;\n")
    assert done.returncode == 0, done.stderr
    assert parts(fake) == "review\n\nstdin\n```\nSELECT 1;\n```"


def test_stdin_attached_needs_the_prompt_from_p(fake: FakeOpenAI, run_chat) -> None:
    done = run_chat("-a", "-", stdin=b"some text")
    assert done.returncode == 2
    assert "-a - reads the attached file from stdin, so the prompt must come from -p" in done.stderr
    assert fake.chat_requests == []


def test_stdin_attached_twice_is_refused(fake: FakeOpenAI, run_chat) -> None:
    done = run_chat("-p", "two?", "-a", "-", "--attach=-:low", stdin=b"one file")
    assert done.returncode == 2
    assert "-a - is given twice: stdin holds one file" in done.stderr
    assert fake.chat_requests == []


def test_attach_without_a_prompt_is_refused_rather_than_opening_the_app(fake: FakeOpenAI, workdir: Path) -> None:
    """On a terminal, `chat -a notes.txt` would open the app and drop the file without a word."""
    (workdir / "notes.txt").write_text("x")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "chatbot", "-a", "notes.txt"], capture_output=True,
                              text=True, stdin=follower, cwd=workdir, timeout=60,
                              env=offline({**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url}))
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2, done.stderr
    assert "-a attaches files to a one-shot prompt, and there is none" in done.stderr
    assert fake.chat_requests == []


def _binary(workdir: Path) -> str:
    (workdir / "tool.bin").write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe" * 20)
    return "tool.bin"


def _directory(workdir: Path) -> str:
    (workdir / "src").mkdir()
    return "src"


def _unreadable(workdir: Path) -> str:
    if os.geteuid() == 0:
        return "/proc/self/mem"  # root reads any file it has permission bits for; this one fails with EIO
    (workdir / "secret.txt").write_text("x")
    (workdir / "secret.txt").chmod(0)
    return "secret.txt"


def _big(workdir: Path) -> str:
    (workdir / "big.log").write_text("x" * 5000)
    return "big.log"


def _missing(workdir: Path) -> str:
    return "nowhere.png"


@pytest.mark.parametrize(("make", "reason"), [
    (_binary, "it is a binary file, neither text nor an image"),
    (_directory, "it is a directory"),
    (_unreadable, ""),
    (_big, "it is 5,000 bytes, over the 4,096 bytes limit"),
    (_missing, "no such file"),
])
def test_a_file_that_cannot_be_attached_is_refused_and_nothing_is_sent(
        fake: FakeOpenAI, run_chat, workdir: Path, make: Callable[[Path], str], reason: str) -> None:
    (workdir / "ok.txt").write_text("fine")
    name = make(workdir)
    done = run_chat("-p", "look", "-a", "ok.txt", "-a", name, env_extra={"CHAT_ATTACHMENTS__MAX_BYTES": "4096"})
    assert done.returncode == 2
    assert f"cannot attach {name}: {reason}" in done.stderr
    assert fake.chat_requests == []


def test_a_model_without_vision_is_refused_and_nothing_is_sent(fake: FakeOpenAI, run_chat, workdir: Path,
                                                               tmp_path: Path) -> None:
    (workdir / "photo.png").write_bytes(png(10, 10))
    config = tmp_path / "config.toml"
    config.write_text('[models."text-only"]\ncontext_window = 8192\nvision = false\n')
    done = run_chat("--config", str(config), "-m", "text-only", "-p", "look", "-a", "photo.png")
    assert done.returncode == 2
    assert "model 'text-only' does not accept images (photo.png); nothing was sent" in done.stderr
    assert fake.chat_requests == []


def test_an_unknown_model_is_tried_and_the_refusal_explained(fake: FakeOpenAI, run_chat, workdir: Path) -> None:
    (workdir / "photo.png").write_bytes(png(10, 10))
    fake.queue(Error(400, "this model does not support image input"))
    done = run_chat("-m", "some-local-model", "-p", "look", "-a", "photo.png")
    assert done.returncode == 2
    assert "does not support image input" in done.stderr
    assert "'some-local-model' may not accept images" in done.stderr
    assert len(fake.chat_requests) == 1


def test_attach_is_a_chat_flag_not_a_store_commands(run_chat) -> None:
    done = run_chat("-a", "x.png", "history")
    assert done.returncode == 2
    assert "-a/--attach is a chat flag" in done.stderr


def test_the_prompt_estimate_includes_the_image(fake: FakeOpenAI, run_chat, workdir: Path) -> None:
    """A server that reports no usage: the prompt is billed at chat's own count, the image's 765 tokens in it."""
    (workdir / "photo.png").write_bytes(png(1024, 1024))
    fake.queue(Reply("ok", send_usage=False), Reply("ok", send_usage=False))
    without = run_chat("-p", "look", "--json")
    with_image = run_chat("-p", "look", "-a", "photo.png", "--json")
    assert without.returncode == with_image.returncode == 0, with_image.stderr
    before, after = json.loads(without.stdout)["usage"], json.loads(with_image.stdout)["usage"]
    assert before["estimated"] and after["estimated"]
    assert after["prompt_tokens"] - before["prompt_tokens"] == 765  # 1024x1024 at auto on gpt-4o


def test_export_and_import_carry_the_attached_files(fake: FakeOpenAI, run_chat, workdir: Path) -> None:
    (workdir / "photo.png").write_bytes(png(300, 200))
    fake.queue(Reply("A blue rectangle."), Reply("Still blue."))
    assert run_chat("-p", "what is this?", "-a", "photo.png", "--save").returncode == 0

    to_stdout = run_chat("export", "1", "--format", "md")
    to_file = run_chat("export", "1", "--format", "md", "-o", "chat.md")
    as_json = run_chat("export", "1", "--format", "json", "-o", "chat.json")
    imported = run_chat("import", "chat.json")
    resumed = run_chat("--resume", imported.stdout.strip(), "-p", "and now?")

    assert "- attached: photo.png (image/png, 300x200)" in to_stdout.stdout
    assert "1 attached file not written" in to_stdout.stderr and "-o FILE" in to_stdout.stderr
    assert to_file.returncode == 0 and "1 attached file written to" in to_file.stderr
    assert (workdir / "chat_files" / "photo.png").read_bytes() == (workdir / "photo.png").read_bytes()
    assert "![photo.png (image/png, 300x200)](chat_files/photo.png)" in (workdir / "chat.md").read_text()
    assert as_json.returncode == imported.returncode == resumed.returncode == 0, imported.stderr
    first, again = ([p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]
                     if p["type"] == "image_url"] for body in (fake.requests[0].body, fake.last_body))
    assert again == first
