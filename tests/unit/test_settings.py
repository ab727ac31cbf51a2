"""Settings: source precedence, validation errors (ConfigError naming origin, key and reason),
secrets, api_key_cmd, file-permission warnings, the example config, model_spec() and active_preset()."""

from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from chatbot.core.errors import ConfigError
from chatbot.core.models import CATALOGUE
from chatbot.core.pricing import Price
from chatbot.core.settings import BudgetConfig, ModelConfig, PresetConfig, Settings, load_settings
from support import PROJECT

EXAMPLE = PROJECT / "config.example.toml"
SECRET = "sk-test-VERYSECRETKEY9876543210"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CHAT_*/OPENAI_* variables, XDG_CONFIG_HOME and cwd in tmp_path (so a .env there is read)."""
    for name in list(os.environ):
        if name.upper().startswith(("CHAT_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "custom.toml"


def load_error(*args, **kwargs) -> str:
    """The ConfigError message of a load that must fail (and must not leak a ValidationError)."""
    try:
        load_settings(*args, **kwargs)
    except ConfigError as exc:
        assert not isinstance(exc, ValidationError)
        assert exc.__cause__ is None or not isinstance(exc.__cause__, ValidationError)
        return str(exc)
    except ValidationError as exc:  # pragma: no cover - the failure we test against
        pytest.fail(f"pydantic ValidationError escaped load_settings: {exc}")
    pytest.fail("load_settings accepted a bad configuration")


# --------------------------------------------------------------------------------------------------
# precedence: defaults < config.toml < .env < environment < flags
# --------------------------------------------------------------------------------------------------


def test_defaults_without_any_source() -> None:
    settings, warnings = load_settings(None)
    assert warnings == []
    assert settings.model == "gpt-4o-mini"
    assert settings.preset == "balanced"
    assert settings.api_key is None
    assert settings.budget.max_context_tokens is None
    assert settings.timeout == 60.0


@pytest.mark.parametrize("layers", range(5))
def test_precedence_of_every_layer(layers: int, tmp_path: Path, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each layer added on top of the previous ones wins over them."""
    flags = {}
    if layers >= 1:
        write(cfg, 'model = "from-file"\n')
    if layers >= 2:
        (tmp_path / ".env").write_text("CHAT_MODEL=from-dotenv\n")
    if layers >= 3:
        monkeypatch.setenv("CHAT_MODEL", "from-env")
    if layers >= 4:
        flags["model"] = "from-flag"
    settings, _ = load_settings(cfg if layers >= 1 else None, **flags)
    expected = ["gpt-4o-mini", "from-file", "from-dotenv", "from-env", "from-flag"][layers]
    assert settings.model == expected


def test_lower_layers_still_supply_keys_higher_layers_leave_out(
    tmp_path: Path, cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(cfg, 'model = "file-model"\ntimeout = 5.0\nmax_retries = 7\ntheme = "file-theme"\n')
    (tmp_path / ".env").write_text("CHAT_TIMEOUT=6.5\nCHAT_MAX_RETRIES=4\n")
    monkeypatch.setenv("CHAT_MAX_RETRIES", "3")
    settings, _ = load_settings(cfg, model="flag-model")
    assert settings.model == "flag-model"
    assert settings.timeout == 6.5  # .env over file
    assert settings.max_retries == 3  # environment over .env and file
    assert settings.theme == "file-theme"  # only the file sets it


def test_flag_of_none_does_not_override(cfg: Path) -> None:
    """argparse passes None for every flag not given; those must not hide the file's values."""
    write(cfg, "temperature = 0.25\nmax_tokens = 77\n")
    settings, _ = load_settings(cfg, temperature=None, max_tokens=None, model=None)
    assert settings.temperature == 0.25
    assert settings.max_tokens == 77
    assert settings.model == "gpt-4o-mini"


def test_flag_of_zero_does_override(cfg: Path) -> None:
    write(cfg, "temperature = 0.9\n")
    settings, _ = load_settings(cfg, temperature=0.0)
    assert settings.temperature == 0.0
    assert settings.active_preset().temperature == 0.0


def test_default_config_file_under_xdg_config_home(tmp_path: Path) -> None:
    default = tmp_path / "chatbot" / "config.toml"
    default.parent.mkdir()
    write(default, 'model = "from-xdg"\n')
    settings, _ = load_settings(None)
    assert settings.model == "from-xdg"


def test_chat_config_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = write(tmp_path / "elsewhere.toml", 'model = "from-chat-config"\n')
    monkeypatch.setenv("CHAT_CONFIG", str(other))
    settings, _ = load_settings(None)
    assert settings.model == "from-chat-config"


def test_explicit_config_beats_chat_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_CONFIG", str(write(tmp_path / "a.toml", 'model = "from-a"\n')))
    settings, _ = load_settings(write(tmp_path / "b.toml", 'model = "from-b"\n'))
    assert settings.model == "from-b"


def test_chat_config_naming_a_missing_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "gone.toml"
    monkeypatch.setenv("CHAT_CONFIG", str(missing))
    message = load_error(None)
    assert str(missing) in message


def test_missing_default_config_file_is_fine(tmp_path: Path) -> None:
    assert not (tmp_path / "chatbot" / "config.toml").exists()
    settings, warnings = load_settings(None)
    assert settings.model == "gpt-4o-mini" and warnings == []


@pytest.mark.parametrize(
    ("variable", "field", "value"),
    [
        ("OPENAI_API_KEY", "api_key", "sk-from-openai-env-1234"),
        ("OPENAI_BASE_URL", "base_url", "http://localhost:11434/v1"),
        ("OPENAI_ORG_ID", "organization", "org-abc123"),
        ("OPENAI_PROJECT_ID", "project", "proj_xyz789"),
    ],
)
def test_openai_sdk_variables(variable: str, field: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    settings, _ = load_settings(None)
    got = getattr(settings, field)
    if isinstance(got, SecretStr):
        got = got.get_secret_value()
    assert got == value


def test_chat_variable_beats_openai_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-var/v1")
    monkeypatch.setenv("CHAT_BASE_URL", "http://chat-var/v1")
    assert load_settings(None)[0].base_url == "http://chat-var/v1"
    assert load_settings(None, base_url="http://flag/v1")[0].base_url == "http://flag/v1"


def test_openai_variable_beats_config_file(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(cfg, 'base_url = "http://file/v1"\norganization = "org-file"\n')
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env/v1")
    settings, _ = load_settings(cfg)
    assert settings.base_url == "http://env/v1"
    assert settings.organization == "org-file"


def test_empty_openai_api_key_variable_is_ignored(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(cfg, f'api_key = "{SECRET}"\n')
    monkeypatch.setenv("OPENAI_API_KEY", "")
    settings, _ = load_settings(cfg)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == SECRET


def test_nested_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_BUDGET__MAX_CONTEXT_TOKENS", "16000")
    assert load_settings(None)[0].budget.max_context_tokens == 16000


def test_nested_environment_beats_file_and_merges_with_it(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(cfg, "[budget]\nmax_context_tokens = 100\n[presets.writing]\ntemperature = 0.5\n")
    monkeypatch.setenv("CHAT_BUDGET__MAX_CONTEXT_TOKENS", "200")
    monkeypatch.setenv("CHAT_PRESETS__WRITING__TOP_P", "0.4")
    settings, _ = load_settings(cfg)
    assert settings.budget.max_context_tokens == 200
    writing = settings.active_preset("writing")
    assert (writing.temperature, writing.top_p, writing.max_tokens) == (0.5, 0.4, 2000)


# --------------------------------------------------------------------------------------------------
# .env
# --------------------------------------------------------------------------------------------------


def test_dotenv_with_unrelated_variables_is_accepted(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FOO=bar\nOPENAI_API_KEY=sk-unrelated-in-dotenv-123\nDATABASE_URL=x\n"
                                   "CHAT_MODEL=gpt-4o\n")
    settings, _ = load_settings(None)
    assert settings.model == "gpt-4o"


def test_dotenv_typo_in_chat_key_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CHAT_MODLE=gpt-4o\n")
    message = load_error(None)
    assert "modle" in message.lower()
    assert "unknown key" in message
    assert ".env" in message


def test_dotenv_out_of_range_value_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CHAT_TEMPERATURE=3\n")
    message = load_error(None)
    assert "temperature" in message and "2" in message


def test_dotenv_is_read_from_the_working_directory_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("CHAT_MODEL=from-dotenv\n")
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings(None)[0].model == "gpt-4o-mini"


# --------------------------------------------------------------------------------------------------
# errors: ConfigError naming origin, key, reason
# --------------------------------------------------------------------------------------------------


def test_unknown_key_in_file(cfg: Path) -> None:
    write(cfg, "tempreature = 0.5\n")
    message = load_error(cfg)
    assert str(cfg) in message
    assert "tempreature" in message
    assert "unknown key" in message


def test_unknown_nested_key_in_file(cfg: Path) -> None:
    write(cfg, "[presets.writing]\ntemprature = 0.5\n")
    message = load_error(cfg)
    assert str(cfg) in message
    assert "presets.writing.temprature" in message
    assert "unknown key" in message


def test_unknown_key_in_models_table(cfg: Path) -> None:
    write(cfg, '[models."gpt-4o"]\ncontext_windw = 1000\n')
    message = load_error(cfg)
    assert "models.gpt-4o.context_windw" in message and "unknown key" in message


@pytest.mark.parametrize("where", ["file", "env", "flag"])
def test_base_url_without_a_scheme_is_a_config_error(where: str, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if where == "file":
        write(cfg, 'base_url = "localhost:11434/v1"\n')
        message = load_error(cfg)
        assert str(cfg) in message
    elif where == "env":
        monkeypatch.setenv("OPENAI_BASE_URL", "localhost:11434/v1")
        message = load_error(None)
        assert "environment OPENAI_BASE_URL" in message
    else:
        message = load_error(None, base_url="localhost:11434/v1")
    assert "base_url" in message and "http://" in message and "localhost:11434/v1" in message


def test_base_url_scheme_may_be_any_case(cfg: Path) -> None:
    write(cfg, 'base_url = "HTTPS://example.test/v1"\n')
    assert load_settings(cfg)[0].base_url == "HTTPS://example.test/v1"


def test_wrong_type_in_file(cfg: Path) -> None:
    write(cfg, 'timeout = "soon"\n')
    message = load_error(cfg)
    assert str(cfg) in message
    assert "timeout" in message
    assert "number" in message  # pydantic's reason: "Input should be a valid number"


def test_wrong_type_in_table(cfg: Path) -> None:
    write(cfg, '[budget]\nmax_context_tokens = "lots"\n')
    message = load_error(cfg)
    assert "budget.max_context_tokens" in message and "integer" in message


def test_nested_preset_temperature_out_of_range_in_file(cfg: Path) -> None:
    write(cfg, "[presets.writing]\ntemperature = 2.5\n")
    message = load_error(cfg)
    assert str(cfg) in message
    assert "presets.writing.temperature" in message
    assert "less than or equal to 2" in message


@pytest.mark.parametrize(
    ("toml", "key", "reason"),
    [
        ("temperature = 2.5\n", "temperature", "less than or equal to 2"),
        ("top_p = 1.5\n", "top_p", "less than or equal to 1"),
        ("max_tokens = -1\n", "max_tokens", "greater than or equal to 1"),
        ("temperature = -0.1\n", "temperature", "greater than or equal to 0"),
        ("timeout = 0\n", "timeout", "greater than 0"),
        ("max_retries = 11\n", "max_retries", "less than or equal to 10"),
        ("default_context_window = 100\n", "default_context_window", "greater than or equal to 256"),
        ('[models."gpt-4o"]\nencoding = "p50k_base"\n', "models.gpt-4o.encoding", "o200k_base"),
        ('[presets.x]\nresponse_format = "yaml"\n', "presets.x.response_format", "json_object"),
    ],
)
def test_out_of_range_values_in_file(cfg: Path, toml: str, key: str, reason: str) -> None:
    write(cfg, toml)
    message = load_error(cfg)
    assert str(cfg) in message
    assert f": {key}:" in message
    assert reason in message


@pytest.mark.parametrize(
    ("flag", "value", "option", "reason", "file_text"),
    [
        ("temperature", 2.5, "--temperature", "less than or equal to 2", "temperature = 0.5\n"),
        ("top_p", 1.5, "--top-p", "less than or equal to 1", "top_p = 0.5\n"),
        ("max_tokens", -1, "--max-tokens", "greater than or equal to 1", "max_tokens = 5\n"),
        ("model", "", "--model", "at least 1 character", 'model = "gpt-4o"\n'),
    ],
)
def test_bad_flags_name_the_flag(flag: str, value: object, option: str, reason: str, file_text: str,
                                 cfg: Path) -> None:
    write(cfg, file_text)
    message = load_error(cfg, **{flag: value})
    assert option in message
    assert f": {flag}:" in message
    assert reason in message
    assert str(cfg) not in message  # the file's (valid) value is not the culprit


@pytest.mark.parametrize(
    ("variable", "value", "key", "reason"),
    [
        ("CHAT_TEMPERATURE", "2.5", "temperature", "less than or equal to 2"),
        ("CHAT_TOP_P", "1.5", "top_p", "less than or equal to 1"),
        ("CHAT_MAX_TOKENS", "-1", "max_tokens", "greater than or equal to 1"),
        ("CHAT_TIMEOUT", "soon", "timeout", "number"),
    ],
)
def test_bad_environment_names_the_variable(
    variable: str, value: str, key: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    message = load_error(None)
    assert variable in message
    assert key in message
    assert reason in message


def test_bad_nested_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_BUDGET__MAX_CONTEXT_TOKENS", "0")
    message = load_error(None)
    assert "budget.max_context_tokens" in message
    assert "CHAT_BUDGET__MAX_CONTEXT_TOKENS" in message


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        # A variable deeper than the bad key: it made `bogus` a table, and the table is an unknown key.
        ("CHAT_MODELS__x__bogus__deep", "1", "models.x.bogus"),
        # "__" with nothing between: empty keys, each a table of the next (found by the fuzz).
        ("CHAT_PRESETS______", "", "presets.."),
        ("CHAT_MODELS______cached_input_price", "", "models.."),
    ],
)
def test_variable_setting_a_key_inside_a_bad_one_is_named(
    variable: str, value: str, key: str, cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file holds the same table, so only the variable's own name says where the bad key came from.
    write(cfg, '[models.x]\ncontext_window = 1000\n[presets.p]\ntemperature = 1\n')
    monkeypatch.setenv(variable, value)
    message = load_error(cfg)
    assert message.startswith(f"environment {variable.upper()}: {key}: unknown key"), message


def test_variable_under_a_plain_setting_is_not_blamed_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """pydantic-settings does not split CHAT_BASE_URL__X (base_url is no table): the bad value is elsewhere."""
    monkeypatch.setenv("CHAT_BASE_URL__X", "1")
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:11434/v1")
    message = load_error(None)
    assert message.startswith("environment OPENAI_BASE_URL: base_url: "), message


def test_bad_nested_environment_names_key_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_BUDGET__MAX_CONTEXT_TOKENS", "0")
    message = load_error(None)
    assert "budget.max_context_tokens" in message
    assert "greater than or equal to 1" in message


def test_unrelated_environment_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATTY_LEVEL", "loud")
    monkeypatch.setenv("MY_CHAT_MODEL", "x")
    assert load_settings(None)[0].model == "gpt-4o-mini"


def test_unknown_environment_variable_with_prefix_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_TEMPRATURE", "0.5")
    message = load_error(None)
    assert "temprature" in message.lower() and "unknown key" in message


def test_chat_config_variable_is_not_an_unknown_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_CONFIG", str(write(tmp_path / "c.toml", 'theme = "x"\n')))
    (tmp_path / ".env").write_text("CHAT_MODEL=gpt-4o\n")
    settings, _ = load_settings(None)
    assert (settings.theme, settings.model) == ("x", "gpt-4o")


def test_bad_toml_syntax(cfg: Path) -> None:
    write(cfg, 'model = "gpt-4o"\ntemperature = \n')
    message = load_error(cfg)
    assert str(cfg) in message
    assert "TOML" in message
    assert "line 2" in message


def test_config_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such.toml"
    message = load_error(missing)
    assert str(missing) in message
    assert "no such file" in message


def test_config_file_that_is_not_utf8(cfg: Path) -> None:
    cfg.write_bytes(b'model = "caf\xe9"\n')  # latin-1
    message = load_error(cfg)
    assert str(cfg) in message
    assert "UTF-8" in message


def test_config_path_that_is_a_directory(tmp_path: Path) -> None:
    message = load_error(tmp_path)
    assert str(tmp_path) in message


def test_unknown_preset_in_file(cfg: Path) -> None:
    write(cfg, 'preset = "nosuch"\n')
    message = load_error(cfg)
    assert str(cfg) in message
    assert "nosuch" in message
    assert "preset" in message
    for known in ("balanced", "support", "writing", "extraction"):
        assert known in message


def test_preset_defined_in_file_may_be_selected(cfg: Path) -> None:
    write(cfg, 'preset = "mine"\n[presets.mine]\ntemperature = 0.2\n')
    settings, _ = load_settings(cfg)
    assert settings.active_preset().name == "mine"
    assert settings.active_preset().temperature == 0.2


def test_unknown_preset_flag_names_the_flag(tmp_path: Path) -> None:
    message = load_error(None, preset="nosuch")
    assert "nosuch" in message
    assert "--preset" in message
    # not blamed on the default config file, which does not even exist
    assert str(tmp_path / "chatbot" / "config.toml") not in message


def test_unknown_preset_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_PRESET", "nosuch")
    message = load_error(None)
    assert "nosuch" in message
    assert "CHAT_PRESET" in message


def test_active_preset_with_unknown_name_raises_config_error() -> None:
    settings, _ = load_settings(None)
    with pytest.raises(ConfigError) as info:
        settings.active_preset("nosuch")
    assert "nosuch" in str(info.value)
    assert "writing" in str(info.value)


def test_error_message_is_one_line(cfg: Path) -> None:
    write(cfg, "top_p = 1.5\nmax_tokens = -1\ntemperature = 9\nmax_retries = 99\n")
    message = load_error(cfg)
    assert "\n" not in message
    # all of the first problems are named, and the rest are counted
    assert "top_p" in message and "max_tokens" in message
    assert "more" in message


# --------------------------------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------------------------------


def test_api_key_is_secret_in_repr_and_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    settings, _ = load_settings(None)
    assert isinstance(settings.api_key, SecretStr)
    assert settings.api_key.get_secret_value() == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in repr(settings.api_key)
    assert settings.resolve_api_key() == SECRET


def test_api_key_from_file_is_secret(cfg: Path) -> None:
    write(cfg, f'api_key = "{SECRET}"\n')
    settings, _ = load_settings(cfg)
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert settings.resolve_api_key() == SECRET


def test_config_error_does_not_echo_api_key(cfg: Path) -> None:
    write(cfg, f'api_key = "{SECRET}"\ntop_p = 7\n')
    message = load_error(cfg)
    assert "top_p" in message
    assert SECRET not in message


# --------------------------------------------------------------------------------------------------
# api_key_cmd
# --------------------------------------------------------------------------------------------------


def test_api_key_cmd_prints_key() -> None:
    settings, _ = load_settings(None, api_key_cmd="printf sk-from-cmd")
    assert settings.resolve_api_key() == "sk-from-cmd"


def test_api_key_cmd_output_is_stripped() -> None:
    settings, _ = load_settings(None, api_key_cmd="printf '  sk-from-cmd  \\n\\n'")
    assert settings.resolve_api_key() == "sk-from-cmd"


def test_api_key_beats_api_key_cmd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    settings, _ = load_settings(None, api_key_cmd="exit 3")  # would fail if it ran
    assert settings.resolve_api_key() == SECRET


def test_api_key_cmd_from_file(cfg: Path) -> None:
    write(cfg, "api_key_cmd = \"printf sk-from-file-cmd\"\n")
    assert load_settings(cfg)[0].resolve_api_key() == "sk-from-file-cmd"


def test_no_key_and_no_cmd_resolves_to_none() -> None:
    assert load_settings(None)[0].resolve_api_key() is None


def test_api_key_cmd_failing() -> None:
    settings, _ = load_settings(None, api_key_cmd="exit 3")
    with pytest.raises(ConfigError) as info:
        settings.resolve_api_key()
    assert "api_key_cmd" in str(info.value)
    assert "3" in info.value.message


def test_api_key_cmd_not_found() -> None:
    settings, _ = load_settings(None, api_key_cmd="chatbot-no-such-command-xyz")
    with pytest.raises(ConfigError) as info:
        settings.resolve_api_key()
    assert "api_key_cmd" in str(info.value)
    assert "not found" in info.value.message


def test_api_key_cmd_printing_nothing() -> None:
    settings, _ = load_settings(None, api_key_cmd="printf ''")
    with pytest.raises(ConfigError) as info:
        settings.resolve_api_key()
    assert "api_key_cmd" in str(info.value)
    assert "nothing" in info.value.message


def test_api_key_cmd_failure_redacts_key_on_stderr() -> None:
    leaked = "sk-proj-abcdefghijklmnop0123"
    settings, _ = load_settings(None, api_key_cmd=f"echo 'bad token {leaked}' >&2; exit 1")
    with pytest.raises(ConfigError) as info:
        settings.resolve_api_key()
    assert leaked not in str(info.value)
    assert "bad token" in str(info.value)


# --------------------------------------------------------------------------------------------------
# permission warnings
# --------------------------------------------------------------------------------------------------


def test_world_readable_config_with_api_key_warns(cfg: Path) -> None:
    write(cfg, f'api_key = "{SECRET}"\n', mode=0o644)
    _, warnings = load_settings(cfg)
    assert len(warnings) == 1
    assert str(cfg) in warnings[0]
    assert "600" in warnings[0]
    assert SECRET not in warnings[0]


def test_group_readable_config_with_api_key_warns(cfg: Path) -> None:
    write(cfg, f'api_key = "{SECRET}"\n', mode=0o640)
    assert len(load_settings(cfg)[1]) == 1


def test_private_config_with_api_key_does_not_warn(cfg: Path) -> None:
    write(cfg, f'api_key = "{SECRET}"\n', mode=0o600)
    assert load_settings(cfg)[1] == []


def test_world_readable_config_without_api_key_does_not_warn(cfg: Path) -> None:
    write(cfg, 'model = "gpt-4o"\napi_key_cmd = "printf x"\n', mode=0o644)
    assert load_settings(cfg)[1] == []


# --------------------------------------------------------------------------------------------------
# config.example.toml
# --------------------------------------------------------------------------------------------------


def test_example_config_loads() -> None:
    settings, warnings = load_settings(EXAMPLE)
    assert warnings == []
    parsed = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert settings.model == parsed["model"]
    assert settings.preset == parsed["preset"]
    assert set(settings.models) == set(parsed["models"])
    assert settings.model_spec("gpt-4o").price == Price(Decimal("2.50"), Decimal("10.00"), Decimal("1.25"))


def _field_names(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


@pytest.mark.parametrize("model", [Settings, ModelConfig, PresetConfig, BudgetConfig])
def test_example_config_mentions_every_field(model: type[BaseModel]) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = []
    for name in _field_names(model):
        # `name = ...` or `# name = ...` at the start of a line, or a table `[name]` / `[name.x]`
        key = re.compile(rf"^\s*#?\s*{re.escape(name)}\s*=", re.MULTILINE)
        table = re.compile(rf"^\s*#?\s*\[{re.escape(name)}[\].]", re.MULTILINE)
        if not (key.search(text) or table.search(text)):
            missing.append(name)
    assert missing == [], f"config.example.toml does not mention {missing}"


def test_field_check_would_notice_a_missing_field() -> None:
    """The mention check above is not vacuous: a field the example lacks is caught."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert not re.search(r"^\s*#?\s*no_such_field\s*=", text, re.MULTILINE)
    assert len(_field_names(Settings)) > 15


# --------------------------------------------------------------------------------------------------
# model_spec()
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_model_spec_catalogue(name: str) -> None:
    spec = load_settings(None)[0].model_spec(name)
    assert spec == CATALOGUE[name]
    assert spec.known


def test_model_spec_defaults_to_configured_model() -> None:
    settings, _ = load_settings(None, model="gpt-4.1")
    assert settings.model_spec().name == "gpt-4.1"
    assert settings.model_spec().context_window == 1_047_576


@pytest.mark.parametrize(
    ("snapshot", "family"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("o3-2025-04-16", "o3"),
    ],
)
def test_model_spec_dated_snapshot(snapshot: str, family: str) -> None:
    spec = load_settings(None)[0].model_spec(snapshot)
    base = CATALOGUE[family]
    assert spec.name == snapshot
    assert spec.context_window == base.context_window
    assert spec.max_output == base.max_output
    assert spec.price == base.price
    assert spec.reasoning == base.reasoning


def test_snapshot_of_mini_is_not_priced_as_the_big_model() -> None:
    settings, _ = load_settings(None)
    assert settings.model_spec("gpt-4o-mini-2024-07-18").price != CATALOGUE["gpt-4o"].price


@pytest.mark.parametrize("name", ["llama3.2", "gpt-4o-turbo", "gpt-4ox", "my-local-model"])
def test_model_spec_unknown_model(name: str) -> None:
    settings, _ = load_settings(None, default_context_window=32768)
    spec = settings.model_spec(name)
    assert spec.name == name
    assert spec.price is None
    assert spec.context_window == 32768
    assert not spec.known


def test_model_spec_unknown_model_default_window() -> None:
    assert load_settings(None)[0].model_spec("llama3.2").context_window == 8192


def test_model_spec_config_overrides_price_and_window(cfg: Path) -> None:
    write(cfg, '[models."gpt-4o"]\ncontext_window = 64000\ninput_price = 3\noutput_price = 12\n'
               'cached_input_price = 1.5\n')
    spec = load_settings(cfg)[0].model_spec("gpt-4o")
    assert spec.context_window == 64000
    assert spec.max_output == CATALOGUE["gpt-4o"].max_output
    assert spec.price == Price(Decimal("3"), Decimal("12"), Decimal("1.5"))


def test_model_spec_partial_price_override_keeps_other_rates(cfg: Path) -> None:
    write(cfg, '[models."gpt-4o"]\noutput_price = 20\n')
    price = load_settings(cfg)[0].model_spec("gpt-4o").price
    assert price == Price(Decimal("2.50"), Decimal("20"), Decimal("1.25"))


def test_model_spec_zero_cached_price_override(cfg: Path) -> None:
    write(cfg, '[models."gpt-4o"]\ncached_input_price = 0\n')
    price = load_settings(cfg)[0].model_spec("gpt-4o").price
    assert price == Price(Decimal("2.50"), Decimal("10.00"), Decimal("0"))


@pytest.mark.parametrize("key", ["input_price", "output_price"])
def test_model_spec_zero_price_override_is_applied(cfg: Path, key: str) -> None:
    write(cfg, f'[models."gpt-4o"]\n{key} = 0\n')
    price = load_settings(cfg)[0].model_spec("gpt-4o").price
    assert price is not None
    assert getattr(price, key.removesuffix("_price")) == Decimal(0)


def test_model_spec_free_local_model(cfg: Path) -> None:
    write(cfg, '[models."llama3.2"]\ncontext_window = 131072\nmax_output = 4096\ninput_price = 0\n'
               "output_price = 0\n")
    spec = load_settings(cfg)[0].model_spec("llama3.2")
    assert spec.price == Price(Decimal(0), Decimal(0), None)
    assert spec.context_window == 131072 and spec.max_output == 4096


def test_model_spec_reasoning_and_encoding_override(cfg: Path) -> None:
    write(cfg, '[models."my-reasoner"]\nreasoning = true\nencoding = "cl100k_base"\n')
    spec = load_settings(cfg)[0].model_spec("my-reasoner")
    assert spec.reasoning and spec.encoding == "cl100k_base"
    assert spec.system_role == "developer" and spec.max_tokens_param == "max_completion_tokens"


def test_model_spec_override_applies_to_exact_name_only(cfg: Path) -> None:
    write(cfg, '[models."gpt-4o"]\ncontext_window = 64000\n')
    settings, _ = load_settings(cfg)
    assert settings.model_spec("gpt-4o-mini").context_window == 128_000


def test_all_models_includes_config_models(cfg: Path) -> None:
    write(cfg, '[models."llama3.2"]\ncontext_window = 131072\n')
    models = load_settings(cfg)[0].all_models()
    assert set(CATALOGUE) < set(models)
    assert models["llama3.2"].context_window == 131072


# --------------------------------------------------------------------------------------------------
# active_preset()
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "temperature", "top_p", "max_tokens", "response_format"),
    [
        ("support", 0.3, 0.8, 1500, "text"),
        ("writing", 0.7, 0.9, 2000, "text"),
        ("extraction", 0.0, 1.0, 2000, "json_object"),
        ("balanced", 1.0, 1.0, 4096, "text"),
    ],
)
def test_builtin_presets(name: str, temperature: float, top_p: float, max_tokens: int, response_format: str) -> None:
    preset = load_settings(None, preset=name)[0].active_preset()
    assert preset.name == name
    assert (preset.temperature, preset.top_p, preset.max_tokens, preset.response_format) == (
        temperature, top_p, max_tokens, response_format)


def test_default_preset_is_balanced() -> None:
    assert load_settings(None)[0].active_preset().name == "balanced"


def test_partial_preset_override_keeps_other_fields(cfg: Path) -> None:
    write(cfg, "[presets.writing]\ntemperature = 0.5\n")
    preset = load_settings(cfg)[0].active_preset("writing")
    assert preset.temperature == 0.5
    assert preset.top_p == 0.9 and preset.max_tokens == 2000
    assert preset.description == "varied, fluent prose"


def test_new_preset_inherits_from_balanced(cfg: Path) -> None:
    write(cfg, '[presets.terse]\nmax_tokens = 100\nresponse_format = "json_object"\n')
    preset = load_settings(cfg)[0].active_preset("terse")
    assert preset.name == "terse"
    assert (preset.temperature, preset.top_p, preset.max_tokens, preset.response_format) == (
        1.0, 1.0, 100, "json_object")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"temperature": 1.3}, (1.3, 0.9, 2000)),
        ({"top_p": 0.5}, (0.7, 0.5, 2000)),
        ({"max_tokens": 123}, (0.7, 0.9, 123)),
        ({"temperature": 0.0, "top_p": 0.1, "max_tokens": 1}, (0.0, 0.1, 1)),
    ],
)
def test_flag_overrides_of_preset(flags: dict, expected: tuple) -> None:
    preset = load_settings(None, preset="writing", **flags)[0].active_preset()
    assert (preset.temperature, preset.top_p, preset.max_tokens) == expected
    assert preset.name == "writing"


def test_overrides_apply_to_any_preset_asked_for(cfg: Path) -> None:
    write(cfg, "temperature = 0.1\n")
    settings, _ = load_settings(cfg)
    assert settings.active_preset("support").temperature == 0.1
    assert settings.active_preset("support").top_p == 0.8


def test_flag_beats_file_preset_override(cfg: Path) -> None:
    write(cfg, "[presets.support]\ntemperature = 0.2\n")
    preset = load_settings(cfg, preset="support", temperature=1.9)[0].active_preset()
    assert preset.temperature == 1.9
    assert preset.top_p == 0.8


@pytest.mark.parametrize(("toml", "key", "meant"), [
    ('modle = "gpt-4o"\n', "modle", "model"),
    ('[models."gpt-4o"]\ncontext_windw = 1000\n', "models.gpt-4o.context_windw", "context_window"),
    ("[budget]\nmax_context_tokns = 900\n", "budget.max_context_tokns", "max_context_tokens"),
    ("[presets.fast]\ntemperatur = 1\n", "presets.fast.temperatur", "temperature"),
    ('[mcp_servers.notes]\ncommand = "x"\narg = []\n', "mcp_servers.notes.arg", "args"),
])
def test_a_misspelt_key_is_named_with_the_key_it_is_closest_to(cfg: Path, toml: str, key: str, meant: str) -> None:
    write(cfg, toml)
    assert f"{key}: unknown key; did you mean '{meant}'?" in load_error(cfg)


def test_a_key_close_to_none_is_only_unknown(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(cfg, "zebra = 1\n")
    message = load_error(cfg)
    assert "zebra: unknown key" in message and "did you mean" not in message
    monkeypatch.setenv("CHAT_MODLE", "gpt-4o")
    assert "CHAT_MODLE: unknown key; did you mean 'CHAT_MODEL'?" in load_error(None)
