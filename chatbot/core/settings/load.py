"""Loading the settings: find and read the config file, rank it with the other sources, and turn every failure
into one ConfigError naming where the bad value came from (the file, a variable or a flag), the key and the
reason, with every API key in sight removed.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource, InitSettingsSource, SettingsError
from pydantic_settings.sources import DefaultSettingsSource

from chatbot.core import paths
from chatbot.core.errors import ConfigError
from chatbot.core.settings.schema import Settings
from chatbot.core.settings.sources import ENV_PREFIX, OPENAI_ENV, in_order

EXAMPLE_HINT = "`chat --config-example` shows every key"


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
    """The file's table; {} for a default file that does not exist. Raises ConfigError naming the path."""
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
        error = ConfigError(f"{shown(path)}: invalid TOML: {exc}", f"fix the syntax; {EXAMPLE_HINT}")
    raise error


def load_settings(config: Path | str | None = None, **flags: Any) -> tuple[Settings, list[str]]:
    """Settings from every source, and warnings for the user. Raises ConfigError, never anything else."""
    path, required = config_path(config)
    table = read_config_file(path, required)
    warnings = []
    if "api_key" in table and _readable_by_others(path):
        warnings.append(f"{shown(path)} holds api_key and other users can read it: chmod 600 {shown(path)}")
    flags = {k: v for k, v in flags.items() if v is not None}
    secrets = _secrets(table, flags)
    if unknown := _unknown_environment():
        near = _closest_key([_keys(unknown[0].upper())[0].lower()])
        meant = f"; did you mean '{ENV_PREFIX}{near.upper()}'?" if near else ""
        raise ConfigError(f"environment {shown(unknown[0])}: unknown key{meant}",
                          f"unset it, or fix its name; {EXAMPLE_HINT}")
    error: ConfigError | None = None
    try:
        return _build(table, flags), warnings
    except ValidationError as exc:
        error = ConfigError(_describe(exc, path, table, flags), EXAMPLE_HINT)
    except SettingsError as exc:
        error = ConfigError(_settings_error(exc), "values of table settings in the environment are JSON objects")
    except UnicodeDecodeError:
        error = ConfigError(".env: not UTF-8 text", "save the file as UTF-8")
    raise error.with_secrets_removed(secrets)


def _build(table: dict[str, Any], flags: dict[str, Any]) -> Settings:
    """Settings from the flags, the environment, .env and this config file's table, in sources.in_order.

    pydantic-settings calls settings_customise_sources with no word of the file being loaded, so the sources
    are built here and handed over whole (`_build_sources`, what its CliApp uses), the file's table with them.
    The environment and .env are read as the constructor reads them: from Settings.model_config.
    """
    sources = in_order(Settings, InitSettingsSource(Settings, flags), EnvSettingsSource(Settings),
                       DotEnvSettingsSource(Settings), table)
    # _build_sources is BaseSettings' documented way to give it sources made for this one load.
    return Settings(_build_sources=((*sources, DefaultSettingsSource(Settings)), flags))


def _secrets(table: dict[str, Any], flags: dict[str, Any]) -> tuple[str, ...]:
    """Every API key in sight, so no config error can show one."""
    found = [table.get("api_key"), flags.get("api_key"),
             *(os.environ.get(v) for v in ("OPENAI_API_KEY", f"{ENV_PREFIX}API_KEY"))]
    return tuple(str(k.get_secret_value() if isinstance(k, SecretStr) else k) for k in found if k)


def _settings_error(exc: SettingsError) -> str:
    """pydantic-settings names the field and the source; say it the way the user wrote it."""
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


def _describe(exc: ValidationError, path: Path, table: dict[str, Any], flags: dict[str, Any]) -> str:
    """The first three problems, each as "where: key: reason"."""
    problems = []
    for error in exc.errors()[:3]:
        loc = [str(part) for part in error["loc"]]
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            reason = f"unknown key; did you mean '{near}'?" if (near := _closest_key(loc)) else "unknown key"
        if not loc and reason.startswith("unknown preset"):
            loc = ["preset"]  # raised by the model validator, which has no location of its own
        key = ".".join(shown(part) for part in loc) or "(settings)"
        problems.append(f"{_origin(loc, path, table, flags)}: {key}: {shown(reason)}")
    more = len(exc.errors()) - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _closest_key(loc: list[str]) -> str | None:
    """The key of its table that a misspelt key (`modle`) is closest to, if one is close. The table is found by
    walking the schema along `loc`: a dict of tables skips the user's name for one, `X | None` is an X."""
    import difflib
    import typing

    from pydantic import BaseModel

    table: type[BaseModel] = Settings
    parts = iter(loc[:-1])
    for part in parts:
        field = table.model_fields.get(part)
        kind: Any = None if field is None else field.annotation
        while kind is not None and not (isinstance(kind, type) and issubclass(kind, BaseModel)):
            if typing.get_origin(kind) is dict:
                next(parts, None)
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            kind = args[-1] if args else None
        if kind is None:
            return None
        table = kind
    close = difflib.get_close_matches(loc[-1], list(table.model_fields), n=1, cutoff=0.75)
    return close[0] if close else None


def _origin(loc: list[str], path: Path, table: dict[str, Any], flags: dict[str, Any]) -> str:
    """Where the value at `loc` came from, the highest-precedence source first."""
    top = loc[0] if loc else ""
    if top in flags:
        return f"--{top.replace('_', '-')}"
    if variable := _chat_variable(loc):
        return f"environment {variable}"
    for var, key in OPENAI_ENV.items():  # the SDK's own variables rank below CHAT_* and above the file
        if key == top and os.environ.get(var):
            return f"environment {var}"
    if top in table or not loc:
        return shown(path)
    return f".env {(ENV_PREFIX + top).upper()}" if _in_dotenv(top) else "environment or .env"


def _chat_variable(loc: list[str]) -> str | None:
    """The CHAT_* variable that set the value at `loc`: the one naming it or, nearest first, a table around it;
    else one naming something inside it (CHAT_MODELS__X__BOGUS__DEEP makes models.x.bogus a table)."""
    environ = {k.upper() for k in os.environ}
    for depth in range(len(loc), 0, -1):
        name = (ENV_PREFIX + "__".join(loc[:depth])).upper()
        if name in environ:
            return name
    if len(loc) < 2:
        # pydantic-settings splits only a table setting's variables at "__": CHAT_BASE_URL__X sets nothing.
        return None
    wanted = [part.upper() for part in loc]
    inside = sorted(name for name in environ if name.startswith(ENV_PREFIX) and _deeper(_keys(name), wanted))
    return inside[0] if inside else None


def _keys(variable: str) -> list[str]:
    """The keys a CHAT_* variable sets, split at "__" as pydantic-settings splits them: any may be empty
    (CHAT_PRESETS______ sets presets."".""."")."""
    return variable[len(ENV_PREFIX):].split("__")


def _deeper(keys: list[str], loc: list[str]) -> bool:
    return len(keys) > len(loc) and keys[:len(loc)] == loc


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
