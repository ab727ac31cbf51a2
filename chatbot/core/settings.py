"""Settings: built-in defaults < config.toml < .env < environment < command-line flags.

Every model forbids unknown keys, and every failure becomes a ConfigError naming where the bad value came
from (the file, an environment variable or a flag), the key, and the reason.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tomllib
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from chatbot.core import paths
from chatbot.core.errors import ConfigError, redact
from chatbot.core.models import CATALOGUE, ModelSpec, ReasoningEffort, WindowSource, match_catalogue, unknown_model
from chatbot.core.presets import BUILTIN_PRESETS, DEFAULT_PRESET, Preset
from chatbot.core.pricing import Price

ENV_PREFIX = "CHAT_"
# The variables the official SDK reads, so an existing OpenAI setup works as it is.
OPENAI_ENV = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    "OPENAI_ORG_ID": "organization",
    "OPENAI_PROJECT_ID": "project",
}

_file_data: ContextVar[dict[str, Any]] = ContextVar("_file_data", default={})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True,
                              allow_inf_nan=False)


class ModelConfig(_Strict):
    """Overrides for a catalogue model, or the description of a model the catalogue lacks."""

    context_window: int | None = Field(None, ge=256)
    """Tokens the model accepts, prompt and reply together."""
    max_output: int | None = Field(None, ge=1)
    """Most tokens the model can write in one reply."""
    encoding: Literal["o200k_base", "cl100k_base"] | None = None
    """Tokenizer used for counting."""
    input_price: Decimal | None = Field(None, ge=0)
    """Dollars per 1M prompt tokens."""
    cached_input_price: Decimal | None = Field(None, ge=0)
    """Dollars per 1M cached prompt tokens."""
    output_price: Decimal | None = Field(None, ge=0)
    """Dollars per 1M completion tokens."""
    reasoning: bool | None = None
    """A reasoning model: no temperature/top_p, max_completion_tokens, developer role."""
    reasoning_efforts: list[ReasoningEffort] | None = None
    """The reasoning_effort values the model accepts, e.g. ["low", "medium", "high"]; [] for none."""
    tools: bool | None = None
    """The model accepts function tools."""
    vision: bool | None = None
    """The model accepts images."""


class PresetConfig(_Strict):
    """A parameter preset; fields left out keep the built-in preset's (or `balanced`'s) values."""

    temperature: float | None = Field(None, ge=0, le=2)
    """Sampling temperature, 0..2."""
    top_p: float | None = Field(None, ge=0, le=1)
    """Nucleus sampling, 0..1."""
    max_tokens: int | None = Field(None, ge=1, le=100_000_000)
    """Most tokens of one reply; always sent."""
    response_format: Literal["text", "json_object"] | None = None
    """`json_object` asks the model for a JSON reply."""
    description: str | None = None
    """Shown in the preset menu."""


class BudgetConfig(_Strict):
    max_context_tokens: int | None = Field(None, ge=1)
    """The most context a request may use (prompt plus max_tokens), below the model's window; unset: the window."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        # Only CHAT_* lines of .env are ours; a shared .env may hold anything else.
        dotenv_filtering="match_prefix",
        extra="forbid",
        hide_input_in_errors=True,
        allow_inf_nan=False,
    )

    model: str = Field("gpt-4o-mini", min_length=1)
    """The model of new conversations."""
    preset: str = DEFAULT_PRESET
    """The parameter preset of new conversations."""
    system_prompt: str = "You are a helpful assistant."
    """Sent first in every request; never dropped by the sliding window."""
    temperature: float | None = Field(None, ge=0, le=2)
    """Overrides the preset's temperature."""
    top_p: float | None = Field(None, ge=0, le=1)
    """Overrides the preset's top_p."""
    max_tokens: int | None = Field(None, ge=1, le=100_000_000)
    """Overrides the preset's max_tokens."""

    api_key: SecretStr | None = None
    """The API key. Prefer OPENAI_API_KEY or api_key_cmd to keeping it in a file."""
    api_key_cmd: str | None = None
    """A shell command whose stdout is the API key, e.g. a password manager."""
    base_url: str | None = None
    """An OpenAI-compatible server, e.g. http://localhost:11434/v1 for Ollama."""
    organization: str | None = None
    """OpenAI organization id."""
    project: str | None = None
    """OpenAI project id."""
    timeout: float = Field(60.0, gt=0)
    """Seconds to wait for the server to answer, and between streamed chunks."""
    max_retries: int = Field(2, ge=0, le=10)
    """Retries of a request that failed before its first token (429, 5xx, connection, timeout)."""
    retry_max_wait: float = Field(60.0, ge=0)
    """Longest wait before one retry, in seconds; a longer Retry-After fails at once."""

    default_context_window: int = Field(8192, ge=256)
    """Context window assumed for models the catalogue does not know."""
    max_session_cost: Decimal | None = Field(None, gt=0)
    """Refuse a request whose worst-case cost would take the session past this many dollars."""
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    presets: dict[str, PresetConfig] = Field(default_factory=dict)
    history: bool = True
    """Keep conversations in $XDG_DATA_HOME/chatbot/history.db (also --no-history)."""
    usage_log: bool = False
    """Append one JSON line of metadata per request to $XDG_STATE_HOME/chatbot/usage.jsonl (never content or keys)."""
    theme: str = "chatbot-dark"
    """The TUI's theme: a name from themes/ or the user's theme folder."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id -> keys, e.g. send = "ctrl+s"."""

    @field_validator("base_url")
    @classmethod
    def _base_url_has_a_scheme(cls, value: str | None) -> str | None:
        # Without a scheme the SDK's request fails like an unreachable server, and is retried as one.
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"{value!r} needs http:// or https://, e.g. http://localhost:11434/v1")
        return value

    @model_validator(mode="after")
    def _preset_exists(self) -> Settings:
        if self.preset not in self.all_presets():
            raise ValueError(f"unknown preset {self.preset!r} (known: {', '.join(self.all_presets())})")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _OpenAIEnvSource(settings_cls), dotenv_settings,
                _FileSource(settings_cls))

    # -- what the rest of the app asks of the settings --

    def all_presets(self) -> dict[str, Preset]:
        presets = dict(BUILTIN_PRESETS)
        for name, conf in self.presets.items():
            base = presets.get(name, BUILTIN_PRESETS[DEFAULT_PRESET])
            values = {k: v for k, v in conf.model_dump().items() if v is not None}
            presets[name] = Preset(**{**_preset_fields(base), **values, "name": name})
        return presets

    def active_preset(self, name: str | None = None) -> Preset:
        """The named preset (default: the configured one) with the temperature/top_p/max_tokens overrides."""
        presets = self.all_presets()
        name = name or self.preset
        if name not in presets:
            raise ConfigError(f"unknown preset {name!r}", f"known presets: {', '.join(presets)}")
        base = presets[name]
        overrides = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        return Preset(**{**_preset_fields(base), **{k: v for k, v in overrides.items() if v is not None}})

    def all_models(self) -> dict[str, ModelSpec]:
        models = dict(CATALOGUE)
        for name in self.models:
            models[name] = self.model_spec(name)
        return models

    def model_spec(self, name: str | None = None, *, server_window: int | None = None) -> ModelSpec:
        """The model's spec: the catalogue's (or an assumed one), then what the server and the config say.

        `server_window` is the context window the serving OpenAI-compatible server reported (server_info.py);
        it beats the catalogue, which describes OpenAI's deployment, and loses to the config, which is the
        user's word.
        """
        name = name or self.model
        spec = match_catalogue(name, CATALOGUE) or unknown_model(name, self.default_context_window)
        if server_window is not None:
            spec = _with_window(spec, server_window, "server")
        conf = self.models.get(name)
        if conf is None:
            return spec
        price = spec.price
        if price is not None:
            price = Price(_first(conf.input_price, price.input), _first(conf.output_price, price.output),
                          _first(conf.cached_input_price, price.cached_input))
        elif conf.input_price is not None and conf.output_price is not None:
            price = Price(conf.input_price, conf.output_price, conf.cached_input_price)
        if conf.context_window is not None:
            spec = _with_window(spec, conf.context_window, "config")
        efforts = None if conf.reasoning_efforts is None else tuple(conf.reasoning_efforts)
        spec = spec.with_overrides(max_output=conf.max_output, encoding=conf.encoding, reasoning=conf.reasoning,
                                   price=price, reasoning_efforts=efforts, tools=conf.tools, vision=conf.vision)
        # A reply can never be longer than the window it shares with the prompt.
        return spec.with_overrides(max_output=min(spec.max_output, spec.context_window))

    def resolve_api_key(self) -> str | None:
        """The key from the settings, or from running api_key_cmd. Never logged or shown."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        if not self.api_key_cmd:
            return None
        try:
            done = subprocess.run(self.api_key_cmd, shell=True, capture_output=True, text=True, timeout=30,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ConfigError("api_key_cmd took longer than 30 s", "check the command in your config") from None
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


def _with_window(spec: ModelSpec, window: int, source: WindowSource) -> ModelSpec:
    # A model we know nothing about may write as much as its window holds; a known one keeps its own limit.
    max_output = window if not spec.known else min(spec.max_output, window)
    return spec.with_overrides(context_window=window, max_output=max_output, window_source=source)


def _first(value: Decimal | None, fallback: Decimal | None) -> Decimal | None:
    return fallback if value is None else value


def _preset_fields(preset: Preset) -> dict[str, Any]:
    return {f: getattr(preset, f) for f in preset.__slots__}  # type: ignore[attr-defined]


class _FileSource(PydanticBaseSettingsSource):
    """The parsed config.toml of the current load (see load_settings)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_data.get())


class _OpenAIEnvSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {key: os.environ[var] for var, key in OPENAI_ENV.items() if os.environ.get(var)}


def shown(text: object) -> str:
    """A path or key as it can be shown in a one-line message: control characters escaped."""
    value = str(text)
    return value if value.isprintable() else json.dumps(value, ensure_ascii=False)[1:-1]


def config_path(explicit: Path | str | None = None) -> tuple[Path, bool]:
    """The config file to read, and whether the user named it (then it must exist)."""
    named = explicit or os.environ.get("CHAT_CONFIG")
    if named:
        # os.path.expanduser leaves ~unknown-user as it is, where Path.expanduser raises.
        return Path(os.path.expanduser(str(named))), True
    return paths.default_config_file(), False


def read_config_file(path: Path, required: bool) -> dict[str, Any]:
    # Errors are raised outside the except blocks so no traceback chains to the file's contents.
    error: ConfigError | None = None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if not required:
            return {}
        error = ConfigError(f"{shown(path)}: no such file", "check --config or CHAT_CONFIG")
    except OSError as exc:
        error = ConfigError(f"{shown(path)}: cannot read ({exc.strerror})", "check the file's permissions")
    if error is not None:
        raise error
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        error = ConfigError(f"{shown(path)}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8")
    except tomllib.TOMLDecodeError as exc:
        error = ConfigError(f"{shown(path)}: invalid TOML: {exc}", "fix the syntax; `chat --config-example` shows every key")
    raise error


def load_settings(config: Path | str | None = None, **flags: Any) -> tuple[Settings, list[str]]:
    """Settings from every source, and warnings for the user. Raises ConfigError, never anything else."""
    path, required = config_path(config)
    data = read_config_file(path, required)
    warnings = []
    if "api_key" in data and _readable_by_others(path):
        warnings.append(f"{shown(path)} holds api_key and other users can read it: chmod 600 {shown(path)}")
    flags = {k: v for k, v in flags.items() if v is not None}
    secrets = _secrets(data, flags)
    if unknown := _unknown_environment():
        raise ConfigError(f"environment {shown(unknown[0])}: unknown key",
                          "unset it, or fix its name; `chat --config-example` shows every key")
    error: ConfigError | None = None
    token = _file_data.set(data)
    try:
        return Settings(**flags), warnings
    except ValidationError as exc:
        error = ConfigError(_describe(exc, path, data, flags), "`chat --config-example` shows every key")
    except SettingsError as exc:
        error = ConfigError(_settings_error(exc), "values of table settings in the environment are JSON objects")
    except UnicodeDecodeError:
        error = ConfigError(".env: not UTF-8 text", "save the file as UTF-8")
    finally:
        _file_data.reset(token)
    raise error.with_secrets_removed(secrets)


def _secrets(data: dict[str, Any], flags: dict[str, Any]) -> tuple[str, ...]:
    """Every API key in sight, so no config error can show one."""
    found = [data.get("api_key"), flags.get("api_key"),
             *(os.environ.get(v) for v in ("OPENAI_API_KEY", f"{ENV_PREFIX}API_KEY"))]
    return tuple(str(k.get_secret_value() if isinstance(k, SecretStr) else k) for k in found if k)


def _settings_error(exc: SettingsError) -> str:
    """pydantic-settings names the field and the source; say it the way the user wrote it."""
    import re

    match = re.search(r'field "([^"]+)" from source "(\w+)"', str(exc))
    if not match:
        return f"environment or .env: {shown(exc)}"
    field, source = match.groups()
    where = ".env" if source.startswith("DotEnv") else "environment"
    return f"{where} {ENV_PREFIX}{field.upper()}: not valid JSON"


def _readable_by_others(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def _describe(exc: ValidationError, path: Path, data: dict[str, Any], flags: dict[str, Any]) -> str:
    problems = []
    for error in exc.errors()[:3]:
        reason = "unknown key" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
        loc = [str(part) for part in error["loc"]]
        if not loc and reason.startswith("unknown preset"):
            loc = ["preset"]  # raised by the model validator, which has no location of its own
        key = ".".join(shown(part) for part in loc) or "(settings)"
        problems.append(f"{_origin(loc, path, data, flags)}: {key}: {shown(reason)}")
    more = len(exc.errors()) - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _origin(loc: list[str], path: Path, data: dict[str, Any], flags: dict[str, Any]) -> str:
    """Where the value at `loc` came from, the highest-precedence source first."""
    top = loc[0] if loc else ""
    if top in flags:
        return f"--{top.replace('_', '-')}"
    environ = {k.upper() for k in os.environ}
    for depth in range(len(loc), 0, -1):
        name = (ENV_PREFIX + "__".join(loc[:depth])).upper()
        if name in environ:
            return f"environment {name}"
    for var, key in OPENAI_ENV.items():  # the SDK's own variables rank below CHAT_* and above the file
        if key == top and os.environ.get(var):
            return f"environment {var}"
    if top in data or not loc:
        return shown(path)
    return f".env {(ENV_PREFIX + top).upper()}" if _in_dotenv(top) else "environment or .env"


def _in_dotenv(key: str) -> bool:
    try:
        from dotenv import dotenv_values

        names = {name.upper() for name in dotenv_values(".env")}
    except (OSError, UnicodeDecodeError, ImportError):
        return False
    return (ENV_PREFIX + key).upper() in names or any(n.startswith((ENV_PREFIX + key + "__").upper()) for n in names)


def _unknown_environment() -> list[str]:
    """CHAT_* variables that name no setting: pydantic-settings skips them silently, we do not."""
    known = {name.upper() for name in Settings.model_fields} | {"CONFIG"}
    return sorted(
        var for var in os.environ
        if var.upper().startswith(ENV_PREFIX) and var.upper()[len(ENV_PREFIX):].split("__")[0] not in known
    )
