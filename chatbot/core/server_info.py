"""The context window an OpenAI-compatible server reports for the model it serves, if it reports one.

- vLLM lists `max_model_len` with each model in `GET /v1/models`.
- llama.cpp's server gives its slots' `n_ctx` in `GET /props` (`default_generation_settings.n_ctx`).
  Its `/v1/models` lists `meta.n_ctx_train`, the length the model was trained on, not what the server runs
  with, so that is not read.
- Ollama serves the OpenAI API under `/v1` and its own at the root: `GET /api/ps` gives the window a loaded
  model runs with (`context_length`); `POST /api/show` gives a `num_ctx` set in the model's parameters, or
  else the model's own maximum, `model_info["<architecture>.context_length"]`. That maximum can be larger
  than what the server runs with when it loads the model (OLLAMA_CONTEXT_LENGTH), and Ollama silently drops
  the start of a prompt that does not fit: a `[models.NAME] context_window` in the config beats it.

Call `server_window` only while no reply streams. llama.cpp's server serves one request at a time and ends
the reply in flight when any other request arrives; the app's `ChatApp.server_turn` lock is held for that.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx2

TIMEOUT = 3.0
"""Seconds for each question; a local server answers these at once or not at all."""

_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


def is_openai(base_url: str | None) -> bool:
    """Whether requests go to OpenAI itself, whose windows the catalogue holds and which reports none."""
    if base_url is None:
        return True
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "openai.com" or host.endswith(".openai.com")


def native_root(base_url: str) -> str:
    """The server's root, where llama.cpp's `/props` and Ollama's own API live: the base URL less `/v1`."""
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


async def server_window(base_url: str | None, model: str, *, api_key: str | None = None,
                        timeout: float = TIMEOUT) -> int | None:
    """The context window the server at `base_url` reports for `model`; None if it does not say.

    Never raises: an unreachable server, an error status or an answer of another shape all mean None.
    Asks nothing of OpenAI. Must not be called while a reply streams (see the module's docstring).
    """
    if base_url is None or is_openai(base_url):
        return None
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    try:
        async with httpx2.AsyncClient(timeout=timeout, headers=headers) as client:
            for ask in (_vllm, _llama_cpp, _ollama):
                window = await ask(client, base_url.rstrip("/"), native_root(base_url), model)
                if window is not None:
                    return window
    except (httpx2.HTTPError, httpx2.InvalidURL):
        # Connection refused, timed out, not HTTP: the server will not say, and asking the next way would
        # only wait as long again.
        return None
    return None


async def _vllm(client: httpx2.AsyncClient, base: str, root: str, model: str) -> int | None:
    listing = await _json(client, "GET", f"{base}/models")
    entries = listing.get("data") if isinstance(listing, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("id") == model:
            return _positive_int(entry.get("max_model_len"))
    return None


async def _llama_cpp(client: httpx2.AsyncClient, base: str, root: str, model: str) -> int | None:
    props = await _json(client, "GET", f"{root}/props")
    if not isinstance(props, dict):
        return None
    settings = props.get("default_generation_settings")
    per_slot = _positive_int(settings.get("n_ctx")) if isinstance(settings, dict) else None
    return per_slot if per_slot is not None else _positive_int(props.get("n_ctx"))


async def _ollama(client: httpx2.AsyncClient, base: str, root: str, model: str) -> int | None:
    names = {model, f"{model}:latest"}
    running = await _json(client, "GET", f"{root}/api/ps")
    loaded = running.get("models") if isinstance(running, dict) else None
    for entry in loaded if isinstance(loaded, list) else []:
        if (isinstance(entry, dict) and (entry.get("name") in names or entry.get("model") in names)
                and (window := _positive_int(entry.get("context_length"))) is not None):
            return window
    shown = await _json(client, "POST", f"{root}/api/show", {"model": model})
    if not isinstance(shown, dict):
        return None
    parameters = shown.get("parameters")
    if isinstance(parameters, str) and (match := _NUM_CTX.search(parameters)):
        return _positive_int(int(match.group(1)))
    info = shown.get("model_info")
    if not isinstance(info, dict):
        return None
    architecture = info.get("general.architecture")
    if isinstance(architecture, str) and (window := _positive_int(info.get(f"{architecture}.context_length"))):
        return window
    lengths = [v for k, v in info.items() if isinstance(k, str) and k.endswith(".context_length")]
    return _positive_int(lengths[0]) if len(lengths) == 1 else None


async def _json(client: httpx2.AsyncClient, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    """The JSON of a 2xx answer; None for another status or a body that is not JSON."""
    response = await client.request(method, url, json=body)
    if not response.is_success:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None
