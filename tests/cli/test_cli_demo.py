"""`chat --demo -p` as a subprocess: the demo's reply, and a conversation continued in the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chatbot.core.conversation import Message
from chatbot.core.demo import DEMO_MODEL, REPLIES
from chatbot.core.settings import load_settings
from chatbot.core.store.history import HistoryStore
from chatbot.core.tokens import TokenCounter
from support import offline

# -- chat --demo -p --------------------------------------------------------------------------------------------

def chat(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`chat ARGS` offline, with no key, no server and XDG dirs in `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        (tmp_path / var).mkdir(exist_ok=True)
        env[var] = str(tmp_path / var)
    return subprocess.run([sys.executable, "-m", "chatbot", *args], capture_output=True, env=offline(env),
                          cwd=tmp_path, timeout=120, stdin=subprocess.DEVNULL, text=True, encoding="utf-8")


def test_chat_demo_one_shot_prints_the_demo_reply(tmp_path: Path) -> None:
    done = chat(tmp_path, "--demo", "-p", "hi", "--usage")
    assert done.returncode == 0, done.stderr
    assert done.stdout == REPLIES[0]
    assert "built-in demo, not from a model" in done.stdout
    counter = TokenCounter("o200k_base")
    prompt = counter.count_prompt([Message("system", load_settings(None)[0].system_prompt), Message("user", "hi")])
    assert done.stderr == (f"usage: prompt {prompt} (cached 0), completion {counter.count_text(REPLIES[0])}, "
                           "cost $0\n")


def test_continuing_a_conversation_in_the_demo_answers_as_the_demo(tmp_path: Path) -> None:
    """The demo answers, so the reply is stored as the demo's, whatever model the conversation had."""
    (tmp_path / "XDG_DATA_HOME" / "chatbot").mkdir(parents=True)
    db = tmp_path / "XDG_DATA_HOME" / "chatbot" / "history.db"
    store = HistoryStore(db)
    try:
        conversation_id = store.create("gpt-4o", "balanced", "", title="Earlier")
    finally:
        store.close()
    done = chat(tmp_path, "--demo", "--resume", str(conversation_id), "-p", "what does it cost?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == REPLIES[2]
    store = HistoryStore(db)
    try:
        stored = store.load(conversation_id)
    finally:
        store.close()
    assert [(m.role, m.model) for m in stored.conversation.messages] == [("user", None), ("assistant", DEMO_MODEL)]



def test_a_model_named_with_the_demo_is_said_to_be_unused(tmp_path: Path) -> None:
    done = chat(tmp_path, "--demo", "-m", "gpt-4o", "-p", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == REPLIES[0]  # the demo answered, as itself
    assert done.stderr == "chat: warning: --demo answers as the model 'demo': -m gpt-4o is not used\n"
