"""The key that must never show, the faults that tempt a program to show it, and the checks that it did not.

A test that writes a config holding the key lists the file in WRITTEN: it is the only file allowed to hold it
(the `no_key_left_in_files` fixture reads every other file the test left behind).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from fake_openai import Error, Reply

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


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    WRITTEN.append(path)
    return path


def key_cmd(exit_code: int, key: str = LEAK) -> str:
    """A shell command that prints the key on stdout, echoes it on stderr, and exits with `exit_code`."""
    return f"printf '%s\\n' '{key}'; printf 'vault: bad token {key}\\n' >&2; exit {exit_code}"


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


# Faults whose message (as the user sees it) echoes the key: the output must show it was removed.
ECHOED = {"401-echo", "401-partial-echo", "403", "404", "429", "429-quota", "500", "400-param", "error-in-stream",
          "error-in-stream-first"}

