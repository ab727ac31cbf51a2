"""The wheel pip builds ships what `chat` reads at run time: the themes and the tokenizer files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from support import PROJECT

ROOT = PROJECT


def test_wheel_contains_themes_and_encodings(tmp_path: Path) -> None:
    """Build the wheel the way pip does and look inside: themes and tokenizer files must ship with it."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("chatbot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"chatbot/themes/chatbot-dark.toml", "chatbot/themes/chatbot-light.toml"} <= names
    assert "chatbot/config.example.toml" in names  # what `chat --config-example` prints
    assert {"chatbot/core/data/o200k_base.tiktoken", "chatbot/core/data/cl100k_base.tiktoken"} <= names
    assert any(n.endswith(".tcss") for n in names)

