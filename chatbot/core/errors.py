"""The ChatError family: every failure a user can meet, each with a message they can act on.

Each class carries the process exit code of one-shot mode; the codes are documented in README.md.
"""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_USAGE = 2  # bad flags, bad config, unknown model, a request the server rejects as malformed
EXIT_AUTH = 3  # missing, wrong or unauthorised API key
EXIT_RATE = 4  # rate limit, quota, or the session spend guard
EXIT_CONTEXT = 5  # the prompt does not fit the model's context window
EXIT_NETWORK = 6  # connection, timeout, server error, dropped stream
EXIT_INTERRUPTED = 130
EXIT_CLOSED = 141  # what reads the output went away (`| head`): 128 + SIGPIPE, as a shell reports such a tool

# Anything shaped like an OpenAI-style secret key; servers echo partial keys in error messages.
_KEY_PATTERN = re.compile(r"\b(sk|rk|pk|sess)-[A-Za-z0-9_\-*]{6,}")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove the API key, and anything shaped like one, from text bound for a person or a file."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)


class ChatError(Exception):
    """A failure with a one-line message and what to do about it."""

    exit_code = EXIT_NETWORK
    retryable = False
    title = "error"

    def __init__(self, message: str, hint: str = "", *, retry_after: float | None = None,
                 request_id: str | None = None, one_shot_hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # Where the hint is advice only the app can follow (a key, a menu, regenerate): what `chat -p` says.
        # Neither holds brackets: the command line prints the hint in brackets after the message.
        self.one_shot_hint = hint if one_shot_hint is None else one_shot_hint
        self.retry_after = retry_after
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def headline(self) -> str:
        """The title and the message, without saying the title twice."""
        if self.message.lower().startswith(self.title):
            return self.message
        return f"{self.title}: {self.message}"

    def with_secrets_removed(self, secrets: tuple[str, ...]) -> ChatError:
        self.message = redact(self.message, secrets)
        self.hint = redact(self.hint, secrets)
        self.one_shot_hint = redact(self.one_shot_hint, secrets)
        self.args = (self.message,)
        return self


class ConfigError(ChatError):
    exit_code = EXIT_USAGE
    title = "config error"


class UsageError(ChatError):
    exit_code = EXIT_USAGE
    title = "usage error"


class BadRequestError(ChatError):
    exit_code = EXIT_USAGE
    title = "bad request"


class ToolsRejectedError(BadRequestError):
    """The server refused a request because of the tools it carried: the model or server takes none."""

    title = "tools refused"


class ToolServerError(ChatError):
    """An MCP server did not start, stopped, or did not answer. `stderr_tail` is the end of what it wrote to
    stderr: its text, not ours, so it is shown like model text."""

    exit_code = EXIT_NETWORK
    title = "tool server"

    def __init__(self, summary: str, hint: str = "", *, server: str = "", stderr_tail: str = "") -> None:
        said = f"; its stderr ends: {' / '.join(stderr_tail.splitlines())}" if stderr_tail else ""
        super().__init__(summary + said, hint)
        self.summary = summary
        self.server = server
        self.stderr_tail = stderr_tail


class ModelNotFoundError(ChatError):
    exit_code = EXIT_USAGE
    title = "model not found"


class AuthError(ChatError):
    exit_code = EXIT_AUTH
    title = "authentication failed"


class PermissionError_(ChatError):
    exit_code = EXIT_AUTH
    title = "permission denied"


class RateLimitError(ChatError):
    exit_code = EXIT_RATE
    retryable = True
    title = "rate limited"


class QuotaError(ChatError):
    exit_code = EXIT_RATE
    title = "quota exceeded"


class SpendLimitError(ChatError):
    exit_code = EXIT_RATE
    title = "spend limit"


class ContextTooLongError(ChatError):
    exit_code = EXIT_CONTEXT
    title = "context too long"


class ServerError(ChatError):
    exit_code = EXIT_NETWORK
    retryable = True
    title = "server error"


class TimeoutError_(ChatError):
    exit_code = EXIT_NETWORK
    retryable = True
    title = "timed out"


class ConnectionError_(ChatError):
    exit_code = EXIT_NETWORK
    retryable = True
    title = "cannot connect"


class StreamDroppedError(ChatError):
    """The connection broke after the reply had started; what arrived is kept."""

    exit_code = EXIT_NETWORK
    title = "stream dropped"
