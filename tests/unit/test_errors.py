"""redact() and the ChatError family's exit codes."""

from __future__ import annotations

import inspect

import pytest

from chatbot.core import errors
from chatbot.core.errors import ChatError, redact


@pytest.mark.parametrize(
    "key",
    [
        "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
        "sk-proj-abc123DEF456ghi789JKL012mno345PQR678stu901",
        "sk-proj-****************abcd",
        "sk-svcacct-AbCdEf_123-456",
        "sk-None-abcdef123456",
        "rk-live-abcdef123456",
        "sess-ABCDEFGHIJKLMNOP",
    ],
)
def test_redacts_key_shaped_strings(key: str) -> None:
    text = f"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com."
    out = redact(text)
    assert key not in out
    assert "[redacted]" in out
    assert out.startswith("Incorrect API key provided: ")
    assert out.endswith(". You can find your API key at https://platform.openai.com.")


def test_redacts_masked_key_as_openai_echoes_it() -> None:
    message = "Error code: 401 - Incorrect API key provided: sk-proj-****************abcd."
    out = redact(message)
    assert "abcd" not in out
    assert "****" not in out
    assert out == "Error code: 401 - Incorrect API key provided: [redacted]."


def test_redacts_every_occurrence() -> None:
    out = redact("sk-aaaaaaaaaa and sk-bbbbbbbbbb, again sk-aaaaaaaaaa")
    assert out == "[redacted] and [redacted], again [redacted]"


def test_redacts_the_given_secret_whatever_its_shape() -> None:
    secret = "ollama-token-XYZ987"
    out = redact(f"auth failed for {secret} at {secret}", (secret,))
    assert secret not in out
    assert out == "auth failed for [redacted] at [redacted]"


def test_ignores_empty_and_tiny_secrets() -> None:
    """An empty or one-letter 'secret' must not blank out the whole message."""
    assert redact("all fine here", ("", "a")) == "all fine here"


def test_leaves_ordinary_text_alone() -> None:
    text = "task-manager risk-free desk-lamp sk- sk-short 1234 https://api.openai.com/v1"
    assert redact(text) == text


def test_redacts_key_in_json_and_headers() -> None:
    key = "sk-proj-abc123abc123abc123"
    assert key not in redact(f'{{"api_key": "{key}"}}')
    assert key not in redact(f"Authorization: Bearer {key}")


def test_with_secrets_removed() -> None:
    secret = "my-local-secret-42"
    exc = errors.AuthError(f"bad key {secret} / sk-proj-****abcd", f"check {secret}")
    exc.with_secrets_removed((secret,))
    assert secret not in str(exc) and "abcd" not in str(exc)
    assert secret not in exc.message and secret not in exc.hint
    assert exc.args == (exc.message,)


def test_str_includes_hint() -> None:
    assert str(ChatError("it broke", "try again")) == "it broke (try again)"
    assert str(ChatError("it broke")) == "it broke"


EXPECTED_CODES = {
    # family -> (exit code, classes); documented in errors.py and README.md
    "usage": (2, ["ConfigError", "UsageError", "BadRequestError", "ToolsRejectedError", "ModelNotFoundError"]),
    "auth": (3, ["AuthError", "PermissionError_"]),
    "rate": (4, ["RateLimitError", "QuotaError", "SpendLimitError"]),
    "context": (5, ["ContextTooLongError"]),
    "network": (6, ["ServerError", "TimeoutError_", "ConnectionError_", "StreamDroppedError", "ToolServerError"]),
}


@pytest.mark.parametrize(("family", "code", "name"),
                         [(f, c, n) for f, (c, names) in EXPECTED_CODES.items() for n in names])
def test_exit_codes(family: str, code: int, name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, ChatError)
    assert cls.exit_code == code
    assert cls("x").exit_code == code


def test_exit_code_constants() -> None:
    assert (errors.EXIT_OK, errors.EXIT_USAGE, errors.EXIT_AUTH, errors.EXIT_RATE, errors.EXIT_CONTEXT,
            errors.EXIT_NETWORK, errors.EXIT_INTERRUPTED) == (0, 2, 3, 4, 5, 6, 130)


def test_five_families_have_distinct_codes() -> None:
    codes = [code for code, _ in EXPECTED_CODES.values()]
    assert len(set(codes)) == 5
    assert errors.EXIT_OK not in codes and errors.EXIT_INTERRUPTED not in codes


def test_every_error_class_is_classified() -> None:
    """A new ChatError subclass must be added to a family above (and to README's table)."""
    defined = {name for name, obj in inspect.getmembers(errors, inspect.isclass)
               if issubclass(obj, ChatError) and obj is not ChatError}
    classified = {name for _, names in EXPECTED_CODES.values() for name in names}
    assert defined == classified


def test_retryable_errors() -> None:
    retryable = {name for name, obj in inspect.getmembers(errors, inspect.isclass)
                 if issubclass(obj, ChatError) and obj.retryable}
    assert retryable == {"RateLimitError", "ServerError", "TimeoutError_", "ConnectionError_"}
