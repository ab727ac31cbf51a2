"""Fuzz the settings loader: whatever the config file, the environment, .env or the flags hold, load_settings
either returns settings or raises ConfigError whose message is one line naming where the bad value came from.

Keys holding line breaks, invalid JSON in a CHAT_ variable of a table setting and invalid UTF-8 in .env each
also have a test of their own at the bottom.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from chatbot.core.errors import ConfigError, redact
from chatbot.core.settings import BudgetConfig, ModelConfig, PresetConfig, Settings, load_settings

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

FIELDS = sorted(Settings.model_fields)
TABLE_FIELDS = ("budget", "models", "presets", "keymap")
MODEL_FIELDS = sorted(ModelConfig.model_fields)
PRESET_FIELDS = sorted(PresetConfig.model_fields)
BUDGET_FIELDS = sorted(BudgetConfig.model_fields)
BINDING_IDS = ["send", "newline", "quit", "stop", "help", "model_menu", "preset_menu", "new_conversation",
               "regenerate", "copy_reply", "dropped_turns", "history", "previous_alternative",
               "next_alternative"]
JSON_FIELDS = ("models", "presets", "budget", "keymap")  # pydantic-settings parses these from JSON in the env
LINE_BREAKS = "\n\r"


# -- strategies ---------------------------------------------------------------------------------------------

# Anything a TOML basic string can hold (every scalar value but surrogates), line breaks included.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
# Keys, line breaks included: a message must stay on one line whatever a key holds.
key_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
# What os.environ can hold: no NUL, no surrogates.
env_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)

huge_ints = st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 10**40, -(10**40), 2**64 + 1])
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308])
offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
toml_scalars = st.one_of(
    any_text,
    st.integers(-(2**70), 2**70),
    huge_ints,
    floats,
    st.booleans(),
    st.datetimes(timezones=st.none() | offsets),  # offset and local date-times
    st.dates(),
    st.times(),
)


def toml_values(keys: st.SearchStrategy[str] = key_text) -> st.SearchStrategy[Any]:
    """TOML values of every type, with nested arrays and inline tables."""
    return st.recursive(
        toml_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=10,
    )


values = toml_values()


def field_or_random(names: list[str]) -> st.SearchStrategy[str]:
    """Mostly a real key, sometimes any key."""
    return st.sampled_from(names) | key_text


@st.composite
def sub_table(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    """A table with real keys (usually of a plausible type) and random ones."""
    return draw(st.dictionaries(field_or_random(names), values, max_size=5))


@st.composite
def toml_documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = draw(st.dictionaries(field_or_random(FIELDS), values, max_size=6))
    if draw(st.booleans()):
        doc["budget"] = draw(sub_table(BUDGET_FIELDS))
    if draw(st.booleans()):
        doc["models"] = draw(st.dictionaries(st.sampled_from(["gpt-4o", "gpt-5", "my-llama"]) | key_text,
                                             sub_table(MODEL_FIELDS) | values, max_size=3))
    if draw(st.booleans()):
        doc["presets"] = draw(st.dictionaries(st.sampled_from(["balanced", "writing", "mine"]) | key_text,
                                              sub_table(PRESET_FIELDS) | values, max_size=3))
    if draw(st.booleans()):
        doc["keymap"] = draw(st.dictionaries(field_or_random(BINDING_IDS), any_text | values, max_size=4))
    return doc


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def dump_toml(doc: dict[str, Any]) -> str:
    """`doc` as TOML: the four table settings as [tables] ([models."X"], [presets."X"]), the rest inline."""
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in doc.items()
             if not (k in TABLE_FIELDS and isinstance(v, dict))]
    for name in TABLE_FIELDS:
        table = doc.get(name)
        if not isinstance(table, dict):
            continue
        lines.append(f"[{name}]")
        nested = name in ("models", "presets")
        lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()
                  if not (nested and isinstance(v, dict))]
        if nested:
            for sub, body in table.items():
                if isinstance(body, dict):
                    lines.append(f"[{name}.{toml_string(sub)}]")
                    lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


def env_name(field: str) -> str:
    return "CHAT_" + field.upper()


plausible_env = st.one_of(
    env_text,
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "-1", "0", "1", "2.0000001", "true", "false", "yes",
                     "", " ", "null", "{}", "[]", "9" * 40, "gpt-4o", "balanced", "writing", "o200k_base"]),
    st.integers().map(str),
    st.floats().map(repr),
)


def json_text() -> st.SearchStrategy[str]:
    import json

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | key_text,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(key_text, inner, max_size=3),
        max_leaves=8,
    )
    return json_values.map(json.dumps)


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    """CHAT_* variables for real keys (top level and nested), and the OPENAI_* ones the loader reads."""
    env: dict[str, str] = {}
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True)):
        # Table settings are JSON in the environment; give them broken JSON too.
        env[env_name(field)] = draw(json_text() | plausible_env if field in JSON_FIELDS else plausible_env)
    nested_name = st.text("abcXYZ019-._", min_size=1, max_size=8)
    if draw(st.booleans()):
        env[f"CHAT_BUDGET__{draw(st.sampled_from(BUDGET_FIELDS) | nested_name).upper()}"] = draw(plausible_env)
    if draw(st.booleans()):
        table = draw(nested_name)
        env[f"CHAT_MODELS__{table}__{draw(st.sampled_from(MODEL_FIELDS) | nested_name)}"] = draw(plausible_env)
    if draw(st.booleans()):
        table = draw(nested_name)
        env[f"CHAT_PRESETS__{table}__{draw(st.sampled_from(PRESET_FIELDS) | nested_name)}"] = draw(plausible_env)
    if draw(st.booleans()):
        env[f"CHAT_KEYMAP__{draw(st.sampled_from(BINDING_IDS) | nested_name)}"] = draw(plausible_env)
    for var in draw(st.lists(st.sampled_from(["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID",
                                              "OPENAI_PROJECT_ID"]), max_size=2, unique=True)):
        env[var] = draw(env_text)
    return env


flag_values = st.none() | values | st.dictionaries(key_text, st.dictionaries(key_text, values, max_size=3), max_size=3)


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Set `env` for one example and put everything back afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        yield


# -- the property ---------------------------------------------------------------------------------------------


def load(config: Path | None, **flags: Any) -> tuple[Settings | None, str | None]:
    """load_settings, allowing only ConfigError out; returns the settings or the error's message."""
    try:
        loaded, warnings = load_settings(config, **flags)
    except ConfigError as exc:
        message = str(exc)
        assert message, "empty ConfigError"
        assert not any(ch in message for ch in LINE_BREAKS), f"ConfigError spans lines: {message!r}"
        event("ConfigError")
        return None, message
    assert isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)
    use(loaded)
    event("loaded")
    return loaded, None


def use(loaded: Settings) -> None:
    """What the app asks of loaded settings must work too (or fail as ConfigError)."""
    assert loaded.model_spec().context_window >= 1
    assert loaded.all_models()
    presets = loaded.all_presets()
    assert loaded.preset in presets
    loaded.active_preset()
    for name in presets:
        loaded.active_preset(name)
    for name in loaded.models:
        loaded.model_spec(name)
    repr(loaded)
    str(loaded)


def named_in(message: str, *, path: Path | None = None, env: dict[str, str] | None = None,
             flags: dict[str, Any] | None = None) -> bool:
    if path is not None and str(path) in message:
        return True
    # A variable is named as the message may show it: an API key's value inside its name comes out redacted.
    keys = tuple(value for var, value in (env or {}).items() if var in ("OPENAI_API_KEY", "CHAT_API_KEY"))
    if env and any(redact(var, keys).upper() in message.upper() for var in env):
        return True
    return bool(flags) and any(f"--{name.replace('_', '-')}" in message for name in flags)


# -- fuzz tests -------------------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_as_config_file(data: bytes) -> None:
    path = Path.cwd() / "fuzz-bytes.toml"
    path.write_bytes(data)
    _, message = load(path)
    if message is not None:
        assert str(path) in message, message


@FUZZ
@given(data=st.binary(max_size=200), prefix=st.sampled_from([b"", b'model = "x"\n', b"[budget]\n", b"\xef\xbb\xbf"]))
def test_mangled_toml_as_config_file(data: bytes, prefix: bytes) -> None:
    """Bytes after a valid start: parse errors deep in the file, invalid UTF-8, a BOM."""
    path = Path.cwd() / "fuzz-mangled.toml"
    path.write_bytes(prefix + data)
    _, message = load(path)
    if message is not None:
        assert str(path) in message, message


@FUZZ
@given(doc=toml_documents())
def test_arbitrary_toml_documents(doc: dict[str, Any]) -> None:
    text = dump_toml(doc)
    tomllib.loads(text)  # the generator makes valid TOML: this fuzzes validation, not the parser
    path = Path.cwd() / "fuzz-doc.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    loaded, message = load(path)
    if message is not None:
        assert str(path) in message, message
    else:
        assert loaded is not None


@FUZZ
@given(env=environments())
# Once named no variable ("environment or .env: presets..: unknown key"): the variable is deeper than the bad key.
@example(env={"CHAT_PRESETS______": ""})
@example(env={"CHAT_MODELS______cached_input_price": ""})
# The key's value is part of the bad variable's name: the name is shown with it redacted.
@example(env={"CHAT_BUDGET__0000": "", "OPENAI_API_KEY": "0000"})
def test_arbitrary_environment_values(env: dict[str, str]) -> None:
    with environment(env):
        _, message = load(None)
    if message is not None:
        assert named_in(message, env=env), (message, env)


@FUZZ
@given(value=env_text.filter(lambda v: not any(ch in v for ch in LINE_BREAKS)))
def test_arbitrary_chat_config_path(value: str) -> None:
    """CHAT_CONFIG names a file that must exist; whatever it holds, the error names the path or the variable."""
    # Stay inside the tmp cwd; "~user" paths are test_unknown_user_in_config_path_is_a_config_error.
    assume(value and not value.startswith(("/", "~")) and ".." not in value)
    target = Path(value)
    with environment({"CHAT_CONFIG": value}):
        _, message = load(None)
    if message is not None:
        assert "CHAT_CONFIG" in message or str(target) in message, message


@FUZZ
@given(flags=st.dictionaries(st.sampled_from(FIELDS) | key_text.filter(lambda k: k.isidentifier() and k != "config"),
                             flag_values, max_size=5))
def test_arbitrary_flag_values(flags: dict[str, Any]) -> None:
    _, message = load(None, **flags)
    if message is not None:
        given_flags = {k: v for k, v in flags.items() if v is not None}
        assert named_in(message, flags=given_flags), (message, flags)


@FUZZ
@given(doc=toml_documents(), env=environments(),
       flags=st.dictionaries(st.sampled_from(FIELDS), flag_values, max_size=3))
def test_every_source_at_once(doc: dict[str, Any], env: dict[str, str], flags: dict[str, Any]) -> None:
    path = Path.cwd() / "fuzz-all.toml"
    path.write_text(dump_toml(doc), encoding="utf-8")
    path.chmod(0o600)
    with environment(env):
        _, message = load(path, **flags)
    if message is not None:
        given_flags = {k: v for k, v in flags.items() if v is not None}
        assert named_in(message, path=path, env=env, flags=given_flags), (message, doc, env, flags)


@FUZZ
@given(lines=st.lists(st.tuples(st.sampled_from([*FIELDS, "bogus", "budget__max_context_tokens",
                                                  "models__x__encoding"]),
                                plausible_env.filter(lambda v: not any(ch in v for ch in LINE_BREAKS + "'\"#\\"))),
                      max_size=5))
def test_arbitrary_dotenv_values(lines: list[tuple[str, str]]) -> None:
    """A .env in the working directory: only ConfigError, on one line (naming the source is checked below)."""
    text = "".join(f"CHAT_{name.upper()}={value}\n" for name, value in lines)
    (Path.cwd() / ".env").write_text(text, encoding="utf-8")
    try:
        load(None)
    finally:
        (Path.cwd() / ".env").unlink()


def test_the_generator_covers_every_toml_type() -> None:
    """The TOML writer round-trips every value type the fuzz uses (else the fuzz would only test parse errors)."""
    doc = {
        "model": "a\"b\\c\x00\x1b\x7f\u2028é😀", "max_tokens": 10**40, "timeout": math.inf, "temperature": -math.inf,
        "top_p": 0.5, "history": True, "theme": [[1, [2.5, "x"]], {"k": dt.date(2024, 2, 29)}],
        "retry_max_wait": dt.datetime(1979, 5, 27, 7, 32, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
        "project": dt.datetime(2000, 1, 1, 0, 0, 0, 999), "organization": dt.time(23, 59, 59, 1),
        "budget": {"max_context_tokens": "x"}, "models": {"m\u00e9": {"context_window": 1}, "flat": 3},
        "presets": {"p": {"temperature": math.nan}}, "keymap": {"send": "ctrl+s"},
    }
    parsed = tomllib.loads(dump_toml(doc))
    assert math.isnan(parsed["presets"]["p"]["temperature"])
    del parsed["presets"], doc["presets"]
    assert parsed == doc


# -- inputs that once escaped as something other than one line of ConfigError ---------------------------------


@pytest.mark.parametrize("field", JSON_FIELDS)
def test_invalid_json_in_env_for_a_table_setting_is_a_config_error(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name(field), "{not json")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert env_name(field) in str(caught.value)


def test_invalid_json_in_dotenv_for_a_table_setting_is_a_config_error() -> None:
    (Path.cwd() / ".env").write_text("CHAT_MODELS=notjson\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert ".env" in str(caught.value) or "CHAT_MODELS" in str(caught.value)


def test_dotenv_that_is_not_utf8_is_a_config_error() -> None:
    (Path.cwd() / ".env").write_bytes(b"CHAT_MODEL=caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert ".env" in str(caught.value)


def test_dotenv_error_names_the_file_or_the_variable() -> None:
    (Path.cwd() / ".env").write_text("CHAT_TIMEOUT=abc\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    message = str(caught.value)
    assert str(Path.cwd() / ".env") in message or "CHAT_TIMEOUT" in message, message


@pytest.mark.parametrize("how", ["flag", "env"])
def test_unknown_user_in_config_path_is_a_config_error(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = "~no-such-user-fuzz/config.toml"
    if how == "env":
        monkeypatch.setenv("CHAT_CONFIG", path)
    with pytest.raises(ConfigError) as caught:
        load_settings(path if how == "flag" else None)
    assert "no-such-user-fuzz" in str(caught.value)


LINE_BREAK_KEYS = {
    "file-models": ("file", '[models."a\\nb"]\nbogus = 1\n'),
    "file-keymap": ("file", '[keymap]\n"x\\ry" = 1\n'),
    "file-presets": ("file", '[presets."p\\nq"]\ntemperature = 5\n'),
    "env-json-key": ("env", '{"a\\nb": {"bogus": 1}}'),
    "flag-dict-key": ("flag", {"a\nb": {"bogus": 1}}),
    "chat-config-path": ("config-env", "no\nsuch.toml"),
}


@pytest.mark.parametrize("case", list(LINE_BREAK_KEYS), ids=list(LINE_BREAK_KEYS))
def test_keys_with_line_breaks_still_give_a_one_line_message(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    kind, payload = LINE_BREAK_KEYS[case]
    config = None
    flags: dict[str, Any] = {}
    if kind == "file":
        config = Path.cwd() / "breaks.toml"
        config.write_text(payload, encoding="utf-8")
    elif kind == "env":
        monkeypatch.setenv("CHAT_MODELS", payload)
    elif kind == "config-env":
        monkeypatch.setenv("CHAT_CONFIG", payload)
    else:
        flags["models"] = payload
    with pytest.raises(ConfigError) as caught:
        load_settings(config, **flags)
    message = str(caught.value)
    assert not any(ch in message for ch in LINE_BREAKS), repr(message)
