"""What can be configured: every key of config.toml (and of CHAT_* variables and flags), its type, its limits,
its default and, in the docstring under it, what it does.

Every model forbids unknown keys. Loading and the wording of errors are load.py's; what the config makes of
the catalogue and the presets is models.py's and presets.py's, asked through the methods at the bottom.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from chatbot.core.models import CATALOGUE, ModelSpec, ReasoningEffort, is_openai_url, resolve_spec
from chatbot.core.presets import DEFAULT_PRESET, Preset, choose_preset, resolve_presets
from chatbot.core.settings.key_command import key_from_command
from chatbot.core.settings.sources import ENV_PREFIX, in_order


class _Strict(BaseModel):
    """A table of the config: unknown keys are errors, infinities and NaN are not numbers, and a bad value is
    never echoed (it may be a key pasted into the wrong place)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True,
                              allow_inf_nan=False)


class ModelConfig(_Strict):
    """Overrides for a catalogue model, or the description of a model the catalogue lacks. Prices given here hold
    for every prompt length: the catalogue's long-context rates (gpt-5.4, gpt-5.5) no longer apply."""

    context_window: int | None = Field(default=None, ge=256)
    """Tokens the model accepts, prompt and reply together."""
    max_output: int | None = Field(default=None, ge=1)
    """Most tokens the model can write in one reply."""
    encoding: Literal["o200k_base", "cl100k_base"] | None = None
    """Tokenizer used for counting."""
    input_price: Decimal | None = Field(default=None, ge=0)
    """Dollars per 1M prompt tokens."""
    cached_input_price: Decimal | None = Field(default=None, ge=0)
    """Dollars per 1M cached prompt tokens."""
    output_price: Decimal | None = Field(default=None, ge=0)
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

    temperature: float | None = Field(default=None, ge=0, le=2)
    """Sampling temperature, 0..2."""
    top_p: float | None = Field(default=None, ge=0, le=1)
    """Nucleus sampling, 0..1."""
    max_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
    """Most tokens of one reply; always sent."""
    response_format: Literal["text", "json_object"] | None = None
    """`json_object` asks the model for a JSON reply."""
    reasoning_effort: ReasoningEffort | None = None
    """How hard a reasoning model thinks before it answers: none, minimal, low, medium, high, xhigh or max; each
    model takes some of them (the catalogue's, or reasoning_efforts under [models.NAME]). Sent to reasoning models
    only; unset: the model's default. A value the model does not take is an error before anything is sent."""
    description: str | None = None
    """Shown in the preset menu."""


class BudgetConfig(_Strict):
    """How much of the model's context window a request may use."""

    max_context_tokens: int | None = Field(default=None, ge=1)
    """The most context a request may use (prompt plus max_tokens), below the model's window; unset: the window."""
    strategy: Literal["drop", "summarize"] = "drop"
    """What happens to the oldest turns that no longer fit: "drop" leaves them out of requests; "summarize" has
    the model summarise them (one extra request, counted and priced like any other) and sends the summary in
    their place. They stay on screen and in the history either way."""
    summary_model: str | None = None
    """The model that writes the summary; unset: the conversation's current model."""
    summary_prompt: str = Field(default=(
        "Summarise the conversation below so it can stand in for it: keep the facts, names, numbers, decisions "
        "and open questions the rest of the conversation may need, in the order they came up. Write it as "
        "plain notes, at most a few paragraphs, in the conversation's language."), min_length=1)
    """The instruction the summary request is sent with, before the turns it summarises."""
    summary_every: int = Field(default=4, ge=1)
    """How many more turns must fall out of the window before the summary is made again (never on every turn):
    until then the turns that fell out since are left out, as with "drop"."""


class AttachmentsConfig(_Strict):
    """Files sent with a message (chat -p ... -a FILE)."""

    detail: Literal["auto", "low", "high"] = "auto"
    """How closely the model looks at an image: low (a 512 px version, the fewest tokens), high, or auto (the
    model picks; counted as high). One image's own: -a photo.png:low."""
    max_bytes: int = Field(default=20_000_000, ge=1)
    """The largest file that may be attached, in bytes; a larger one is refused before anything is sent."""
    thumbnails: bool = True
    """In the app, a sent image is shown small under its message, and the file picker shows the image under its
    cursor: with Kitty graphics if the terminal answers, at start-up, that it draws them, else in half cells
    (coloured text). Only a terminal that names itself a kitty, Ghostty, WezTerm or Konsole in the environment
    (TERM, TERM_PROGRAM, KITTY_WINDOW_ID...) is asked. false: chips alone, and the terminal is not asked."""
    probe_timeout: float = Field(default=1.0, ge=0, le=60)
    """Seconds the terminal has, at start-up, to answer whether it draws Kitty graphics; raise it over a slow
    link (a late answer would be read as keys)."""


Approve = Literal["ask", "read_only", "always"]
"""When a server's tools run without asking: never, when their annotations say read-only, or always."""
ToolApprove = Literal["ask", "always", "never"]
"""One tool's own rule: ask, run without asking, or never offer it to the model."""

# A server's name starts the names its tools have for the model, which the API limits to [a-zA-Z0-9_-]{1,64}.
_SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


class McpServerConfig(_Strict):
    """An MCP server run as a subprocess speaking over stdio; started when a turn first needs its tools."""

    command: str = Field(min_length=1)
    """The program to run, found on PATH, e.g. "npx" or "uvx"."""
    args: list[str] = Field(default_factory=list)
    """Its arguments."""
    env: dict[str, str] = Field(default_factory=dict)
    """Variables it gets, beside PATH, HOME and LANG: nothing else of your environment is passed. `${VAR}` in a
    value (and in command and args) is VAR from your environment; an unset VAR keeps the server from starting."""
    enabled: bool = True
    """false: never started, its tools never offered."""
    approve: Approve = "ask"
    """When its tools run without asking you: "ask" (every call), "read_only" (calls of tools whose annotations
    say read-only: the server's word, not a guarantee) or "always"."""
    tools: dict[str, ToolApprove] = Field(default_factory=dict)
    """Tool name -> "ask", "always" or "never" (not offered to the model), over `approve`."""
    startup_timeout: float = Field(default=30.0, gt=0)
    """Seconds it may take to start and list its tools."""
    call_timeout: float = Field(default=60.0, gt=0)
    """Seconds one tool call may take; past them the model is told the call timed out."""


class Settings(BaseSettings):
    """Every setting, from built-in defaults < config.toml < .env < environment < command-line flags.

    Build it with load_settings, which reads the config file and words every error; Settings() alone reads
    no config file.
    """

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

    model: str = Field(default="gpt-4o-mini", min_length=1)
    """The model of new conversations."""
    preset: str = DEFAULT_PRESET
    """The parameter preset of new conversations."""
    system_prompt: str = "You are a helpful assistant."
    """Sent first in every request; never dropped by the sliding window."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    """Overrides the preset's temperature."""
    top_p: float | None = Field(default=None, ge=0, le=1)
    """Overrides the preset's top_p."""
    max_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
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
    timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for the server to answer, and between streamed chunks."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries of a request that failed before its first token (429, 5xx, connection, timeout)."""
    retry_max_wait: float = Field(default=60.0, ge=0)
    """Longest wait before one retry, in seconds; a longer Retry-After fails at once."""

    default_context_window: int = Field(default=8192, ge=256)
    """Context window assumed for models the catalogue does not know."""
    catalogue_prices: bool | None = None
    """Price catalogue models at OpenAI's rates. Unset: only when base_url is OpenAI's (or unset); true for a
    proxy that bills as OpenAI does. Prices under [models.NAME] apply either way."""
    max_session_cost: Decimal | None = Field(default=None, gt=0)
    """Refuse a request whose worst-case cost would take the session past this many dollars."""
    cost_hint_above: Decimal | None = Field(default=None, ge=0)
    """Show beside the prompt the most the next request can cost (its prompt and all of max_tokens at the model's
    prices) when that is above this many dollars; 0 always shows it. Unset: never."""
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    """Limits on the context a request may use ([budget] in the config)."""
    attachments: AttachmentsConfig = Field(default_factory=AttachmentsConfig)
    """Attached files: image detail and the largest file ([attachments] in the config)."""
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    """Model name -> overrides of its catalogue entry, or the description of a model the catalogue lacks."""
    presets: dict[str, PresetConfig] = Field(default_factory=dict)
    """Preset name -> changes to a built-in preset, or a preset of the user's own."""
    history: bool = True
    """Keep conversations in $XDG_DATA_HOME/chatbot/history.db (also --no-history)."""
    usage_log: bool = False
    """Append one JSON line of metadata per request to $XDG_STATE_HOME/chatbot/usage.jsonl (never content or keys)."""
    theme: str = "chatbot-dark"
    """The TUI's theme: a name from themes/ or the user's theme folder."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id -> keys, e.g. send = "ctrl+s"."""
    mcp_servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    """Server name -> an MCP server whose tools the model may call ([mcp_servers.NAME] in the config)."""
    max_tool_rounds: int = Field(default=10, ge=1, le=100)
    """Most rounds of tool calls one turn runs; calls the model makes after the last are not run (the model is
    told so) and the turn ends with a note."""

    @field_validator("base_url")
    @classmethod
    def _base_url_has_a_scheme(cls, value: str | None) -> str | None:
        # Without a scheme the SDK's request fails like an unreachable server, and is retried as one.
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"{value!r} needs http:// or https://, e.g. http://localhost:11434/v1")
        return value

    @field_validator("mcp_servers")
    @classmethod
    def _server_names_fit_tool_names(cls, value: dict[str, McpServerConfig]) -> dict[str, McpServerConfig]:
        for name in value:
            if not _SERVER_NAME.fullmatch(name):
                raise ValueError(f"server name {name!r}: use up to 32 letters, digits, _ and -")
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
        # Settings() without load_settings: the same ranking with an empty config file.
        return in_order(settings_cls, init_settings, env_settings, dotenv_settings, {})

    # -- what the rest of the app asks of the settings --

    def all_presets(self) -> dict[str, Preset]:
        return resolve_presets(self.presets)

    def active_preset(self, name: str | None = None) -> Preset:
        """The named preset (default: the configured one) with the temperature/top_p/max_tokens overrides."""
        return choose_preset(self.all_presets(), name or self.preset, temperature=self.temperature,
                             top_p=self.top_p, max_tokens=self.max_tokens)

    def all_models(self) -> dict[str, ModelSpec]:
        """The catalogue plus every model the config describes, as model_spec makes each."""
        return {name: self.model_spec(name) for name in [*CATALOGUE, *self.models]}

    def model_spec(self, name: str | None = None, *, server_window: int | None = None) -> ModelSpec:
        """The model's spec (default: the configured model's): see models.resolve_spec."""
        name = name or self.model
        return resolve_spec(name, default_window=self.default_context_window, config=self.models.get(name),
                            server_window=server_window, catalogue_prices=self.prices_from_catalogue)

    @property
    def prices_from_catalogue(self) -> bool:
        """Whether catalogue prices apply: OpenAI's own URL, unless catalogue_prices says otherwise."""
        return is_openai_url(self.base_url) if self.catalogue_prices is None else self.catalogue_prices

    def resolve_api_key(self) -> str | None:
        """The key from the settings, or from running api_key_cmd. Never logged or shown."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        return key_from_command(self.api_key_cmd) if self.api_key_cmd else None
