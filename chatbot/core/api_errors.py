"""The SDK's errors as ChatErrors: what went wrong in words, a hint the user can act on, the secrets removed by
the caller. A refusal of tools or of images by a model not known to take them is explained as such."""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING

from chatbot.core import errors
from chatbot.core.models import ModelSpec

if TYPE_CHECKING:
    import openai

_IMAGE_WORDS = ("image", "vision", "multimodal", "mmproj", "content part", "content type", "image_url")


def images_explained(error: errors.ChatError, spec: ModelSpec) -> errors.ChatError:
    """A request with images refused (400, or a server error that names images): for a model the catalogue
    does not describe, the likely reason is that it takes no images, so the hint says so."""
    said = error.message.lower()
    refused = isinstance(error, errors.BadRequestError) or (
        isinstance(error, errors.ServerError) and any(word in said for word in _IMAGE_WORDS))
    if not refused or spec.vision:
        return error
    hint = (f"{spec.name!r} may not accept images: send the text without them, or pick a model that takes "
            f'images (vision = true under [models."{spec.name}"] tells chat it does)')
    error.hint = error.one_shot_hint = hint
    return error


def map_sdk_error(exc: BaseException, model: str | None, base_url: str) -> errors.ChatError:
    import openai

    if isinstance(exc, errors.ChatError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return errors.TimeoutError_(f"no answer from {base_url} in time",
                                    "the server may be busy: try again, or raise timeout")
    if isinstance(exc, openai.APIConnectionError):
        return errors.ConnectionError_(f"cannot reach {base_url}",
                                       "check that the server is running and that base_url is right")
    if not isinstance(exc, openai.APIError):
        # Malformed JSON or chunks the SDK cannot parse.
        return errors.ServerError(f"the server sent a malformed reply ({type(exc).__name__})",
                                  "try again; if it persists, the server is at fault")
    detail = exc.message
    if isinstance(exc.body, dict) and isinstance(exc.body.get("message"), str):
        detail = exc.body["message"]
    request_id = getattr(exc, "request_id", None)
    if not isinstance(exc, openai.APIStatusError):
        return errors.ServerError(f"the server reported an error: {detail}", "try again", request_id=request_id)
    status = exc.status_code
    code = exc.code or ""
    if isinstance(exc, openai.AuthenticationError):
        return errors.AuthError(f"the server rejected the API key (401): {detail}",
                                "check OPENAI_API_KEY or api_key_cmd", request_id=request_id)
    if isinstance(exc, openai.PermissionDeniedError):
        return errors.PermissionError_(f"permission denied (403): {detail}",
                                       "your key or project has no access to this model or region",
                                       request_id=request_id)
    if isinstance(exc, openai.NotFoundError):
        what = f"model {model!r}" if model else "the endpoint"
        return errors.ModelNotFoundError(f"{what} not found at {base_url} (404): {detail}",
                                         "pick another model (chat --list-models, or F2 in the app)",
                                         request_id=request_id,
                                         one_shot_hint="chat --list-models lists models; pick one with -m NAME")
    if isinstance(exc, openai.RateLimitError):
        if code == "insufficient_quota" or "quota" in detail.lower():
            return errors.QuotaError(f"quota exceeded (429): {detail}", "check your plan and billing",
                                     request_id=request_id)
        return errors.RateLimitError(f"rate limited (429): {detail}", "wait a moment and try again",
                                     retry_after=_retry_after(exc), request_id=request_id)
    if status == 400 and (code == "context_length_exceeded" or "context length" in detail.lower()
                          or "too long" in detail.lower()):
        return errors.ContextTooLongError(f"the prompt is too long for the model (400): {detail}",
                                          "lower budget.max_context_tokens or max_tokens, or start a new conversation",
                                          request_id=request_id)
    if status >= 500:
        return errors.ServerError(f"server error ({status}): {detail}",
                                  "the server is having trouble: try again shortly",
                                  retry_after=_retry_after(exc), request_id=request_id)
    return errors.BadRequestError(f"the server refused the request ({status}): {detail}",
                                  "check the model's parameters and the preset", request_id=request_id)


# Words a server's refusal uses when the tools are what it refuses: Ollama ("does not support tools"), vLLM
# ("auto" tool choice requires --enable-auto-tool-choice), llama.cpp ("tools param requires --jinja"), OpenAI
# ("Invalid schema for function ...").
_TOOL_WORDS = ("tool", "function")


def tools_refused(error: errors.ChatError, model: str | None) -> errors.ChatError:
    """A refusal of a request that carried tools, when it names them, as ToolsRejectedError: the hint says which
    setting stops sending them."""
    if not isinstance(error, errors.BadRequestError | errors.ServerError):
        return error
    if not any(word in error.message.lower() for word in _TOOL_WORDS):
        return error
    where = f'[models."{model}"]' if model else "[models.NAME]"
    message = error.message.replace("the server refused the request", "the server refused the tools", 1)
    return errors.ToolsRejectedError(
        message, f"if the model takes no tools, set tools = false under {where}; or set enabled = false under "
        "the [mcp_servers.NAME] whose tool it refused", request_id=error.request_id)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    if ms := headers.get("retry-after-ms"):
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
