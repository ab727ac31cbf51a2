"""The third-party server tier: `chat` against llama-cpp-python's own server and a real (small) model.

It runs only when asked for, with `pytest -m llama` or CHAT_TEST_LLAMA=1; a plain `pytest` skips it and says
how to run it. Asked for and not installed, it fails: a tier that was asked for never passes by skipping.
"""

from __future__ import annotations

import os

import pytest

from llama_server import INSTALL


def _asked_for(config: pytest.Config) -> bool:
    # Any -m expression that names the marker and left these tests selected asked for them.
    return os.environ.get("CHAT_TEST_LLAMA") == "1" or "llama" in (config.option.markexpr or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _asked_for(config):
        return
    skip = pytest.mark.skip(reason=f"the llama-cpp-python tier runs with -m llama (after: {INSTALL})")
    for item in items:
        if item.get_closest_marker("llama"):
            item.add_marker(skip)
