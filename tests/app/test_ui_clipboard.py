"""ctrl+y in the app: the reply goes to the desktop's tool (a stand-in `xclip` on PATH) and by OSC 52, and the
toast says which way it went."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from chatbot.ui.app import make_app
from fake_openai import FakeOpenAI, Reply
from support import Notified, send, stand_in, until


async def test_ctrl_y_says_which_way_the_reply_went(fake: FakeOpenAI, make_settings: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in(tmp_path / "bin", "xclip", tmp_path / "kept")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":0")
    notified = Notified()
    fake.queue(Reply("copy me"))
    app = make_app(make_settings())
    async with app.run_test(size=(100, 30), message_hook=notified) as pilot:
        await send(pilot, "hi")
        await pilot.press("ctrl+y")
        await until(pilot, lambda: any("Copied" in n for n in notified.messages))
        assert app.clipboard == "copy me"  # OSC 52 as well
        assert (tmp_path / "kept").read_text() == "copy me"
        assert "Copied the last reply (7 characters) to xclip, and sent it to the terminal." in notified.messages


async def test_ctrl_y_with_only_osc52_says_it_was_sent_not_that_it_arrived(fake: FakeOpenAI,
                                                                           make_settings: Any) -> None:
    notified = Notified()
    fake.queue(Reply("copy me"))
    app = make_app(make_settings())
    async with app.run_test(size=(100, 30), message_hook=notified) as pilot:
        await send(pilot, "hi")
        await pilot.press("ctrl+y")
        await until(pilot, lambda: any("OSC 52" in n for n in notified.messages))
        assert app.clipboard == "copy me"
        assert not any(n.startswith("Copied") for n in notified.messages)

