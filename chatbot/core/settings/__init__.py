"""The settings: schema.py says what can be configured, load.py reads it from every source and words its
errors, sources.py ranks the sources, key_command.py runs api_key_cmd, edit.py changes the config file.

What callers import lives here, so they need not know which module holds it. edit.py is left out: it needs
tomlkit, and loading the settings (`chat -p` too) should not pay for importing it.
"""

from chatbot.core.settings.load import config_path, load_settings, read_config_file, shown
from chatbot.core.settings.schema import BudgetConfig, ModelConfig, PresetConfig, Settings
from chatbot.core.settings.sources import ENV_PREFIX, OPENAI_ENV

__all__ = [
    "ENV_PREFIX",
    "OPENAI_ENV",
    "BudgetConfig",
    "ModelConfig",
    "PresetConfig",
    "Settings",
    "config_path",
    "load_settings",
    "read_config_file",
    "shown",
]
