"""Where settings come from, highest precedence first: flags, CHAT_* variables, the SDK's OPENAI_* variables,
.env, the config file, the built-in defaults.

pydantic-settings reads the environment and .env itself; the two sources here are the ones it lacks.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

ENV_PREFIX = "CHAT_"
# The variables the official SDK reads, so an existing OpenAI setup works as it is.
OPENAI_ENV = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    "OPENAI_ORG_ID": "organization",
    "OPENAI_PROJECT_ID": "project",
}


class FileSource(PydanticBaseSettingsSource):
    """The config file's table, parsed and checked by load.py before it gets here.

    Not pydantic-settings' TomlConfigSettingsSource: that one matches keys case-insensitively (it would take
    `Model = "x"`, which we report as an unknown key), passes over a missing file or a folder silently where a
    file the user named must exist, and fails inside the Settings constructor with the parser's own error.
    """

    def __init__(self, settings_cls: type[BaseSettings], table: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._table = table

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ hands over the whole table; unknown keys must reach validation

    def __call__(self) -> dict[str, Any]:
        return dict(self._table)


class OpenAIEnvSource(PydanticBaseSettingsSource):
    """OPENAI_API_KEY and friends; an empty one counts as unset."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {key: os.environ[var] for var, key in OPENAI_ENV.items() if os.environ.get(var)}


def in_order(settings_cls: type[BaseSettings], flags: PydanticBaseSettingsSource, env: PydanticBaseSettingsSource,
             dotenv: PydanticBaseSettingsSource, file: dict[str, Any]) -> tuple[PydanticBaseSettingsSource, ...]:
    """The one ranking of the sources, for Settings() and load_settings alike (defaults come last of all)."""
    return flags, env, OpenAIEnvSource(settings_cls), dotenv, FileSource(settings_cls, file)
