"""`chat` leaves Python's garbage collector on, however it ends."""

from __future__ import annotations

import gc

import pytest


@pytest.mark.parametrize("args", [["--list-models"], ["--config", "/nowhere/config.toml", "-p", "hi"]],
                         ids=["list-models", "an-error"])
def test_chat_leaves_the_collector_on_however_it_ends(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from chatbot.cli import main

    main(args)
    capsys.readouterr()
    assert gc.isenabled()

