"""api_key_cmd: the API key as the stdout of a shell command (a password manager), so it never sits in a file."""

from __future__ import annotations

import subprocess

from chatbot.core.errors import ConfigError, redact

TIMEOUT = 30  # seconds: long enough to unlock a password manager, short enough to notice a hung command


def key_from_command(command: str) -> str:
    """Run `command` through the shell and return its stdout, stripped. Raises ConfigError, key removed."""
    try:
        done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"api_key_cmd took longer than {TIMEOUT} s", "check the command in your config") from None
    if done.returncode != 0:
        # The command may have printed the key before failing; it must not reach the message.
        secrets = tuple(line.strip() for line in done.stdout.splitlines() if line.strip())
        detail = redact(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "", secrets)
        reason = "command not found" if done.returncode == 127 else f"exit status {done.returncode}"
        raise ConfigError(f"api_key_cmd failed ({reason}){': ' + detail if detail else ''}",
                          "check the command in your config")
    key = done.stdout.strip()
    if not key:
        raise ConfigError("api_key_cmd printed nothing", "the command must print the API key on stdout")
    return key
