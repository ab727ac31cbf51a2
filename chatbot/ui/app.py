"""ChatApp and make_app(): the factory that the CLI and the tests both use.

The first paint comes before anything slow: the tokenizer, the openai SDK and an api_key_cmd all load in a
thread afterwards, and a send waits for them.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingsMap, BindingType
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import Screen

from chatbot.core import paths
from chatbot.core.assembly import assemble
from chatbot.core.client import ChatClient, Client
from chatbot.core.demo import DEMO_MODEL, DemoClient
from chatbot.core.errors import ChatError, ConfigError
from chatbot.core.session import Session
from chatbot.core.settings import Settings, config_path
from chatbot.core.store.history import HistoryStore
from chatbot.core.summary import in_effect
from chatbot.ui import themes, typeahead
from chatbot.ui.collector import Collector
from chatbot.ui.graphics import Kitty
from chatbot.ui.key_order import KeyOrder
from chatbot.ui.keymap import resolve as resolve_keymap
from chatbot.ui.screens.approval import approver
from chatbot.ui.screens.chat import ChatScreen
from chatbot.ui.screens.message_actions import commands as message_commands
from chatbot.ui.shown import shown_text
from chatbot.ui.sixel import Sixel
from chatbot.ui.widgets.message_cursor import MessageCursor
from chatbot.ui.widgets.prompt_input import PromptInput

if TYPE_CHECKING:
    from chatbot.ui.screens.picker import Picker

HERE = Path(__file__).parent
IDLE_CHECK = 0.5  # seconds between two looks at whether the user is idle enough for a whole-heap collection


# The code blocks replies hold most. A highlighter compiles its rules on first use, in the frame that draws the
# first block in its language: 4 ms for the table of Pygments' lexers, Python's 19 ms, TypeScript's 14 ms.
WARM_LANGUAGES = ("python", "bash", "javascript", "typescript")
MODELS_TIMEOUT = 5.0  # seconds: a reply sent meanwhile waits for the model list, so it must not wait long

TEXTUAL_COMMANDS_LEFT_OUT = frozenset({"Keys", "Maximize", "Minimize", "Screenshot"})


class ChatApp(App[None]):
    TITLE = "chat"
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        HERE / "app.tcss",
        *(HERE / "widgets" / f"{name}.tcss" for name in ("transcript", "message_view", "prompt_input", "status_bar",
                                                       "attachment_chips", "tool_call")),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(self, settings: Settings, client: Client | None = None, *, warnings: list[str] | None = None,
                 session: Session | None = None, store: HistoryStore | None = None,
                 resume_id: int | None = None, typed_ahead: str = "") -> None:
        super().__init__()
        # Keys reach what they were meant for in the order they were typed (key_order.py); what the terminal held
        # before the app read it (typeahead) comes first.
        self.keys = KeyOrder(self, super().on_event, typeahead.events_for(typed_ahead))
        self.settings = settings
        # Set by ChatDriver when the terminal answered its probe for Kitty graphics, or else for Sixel
        # (graphics.py), which is asked only if thumbnails are on.
        self.kitty: Kitty | None = None
        self.sixel: Sixel | None = None
        self.store = store  # read on the UI thread; every write goes to the writer's thread
        self.unsaved: str | None = None  # what quitting could not write, for run() to say after the app is gone
        self._client_given = client is not None
        # The key from api_key_cmd is resolved in warm_up, off the UI thread.
        client = client or ChatClient.from_settings(settings, run_key_cmd=False)
        # The MCP servers start when first needed (a request with tools, the tools screen), never before the
        # first paint; the dialog answers the calls that need a yes.
        self.assembly = assemble(settings, client, store, resume_id=resume_id, session=session,
                                 approve=approver(self))
        self.session, self.recorder, self.writer = self.assembly.session, self.assembly.recorder, self.assembly.writer
        if store is not None and resume_id is not None and isinstance(client, DemoClient):
            self.session.model = DEMO_MODEL  # the demo answers: its replies are stored and priced as its own
        self.ready = asyncio.Event()
        self._typed = False  # a key or a paste has come: the first request is on its way (warm_request)
        self.collector = Collector()
        self.startup_warnings = list(warnings or [])
        self.server_models: list[str] = []
        self.server_models_fetched = False
        # Held by a streaming reply and by a fetch of the server's models. A server that serves one request at
        # a time (llama.cpp's) ends the reply in flight when another request arrives, even GET /v1/models: the
        # list is fetched only while no reply streams, and a reply waits for a fetch already under way.
        self.server_turn = asyncio.Lock()
        loaded, problems = themes.load_themes()
        for theme in loaded:
            self.register_theme(theme)
        self.startup_warnings += problems
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        else:
            self.startup_warnings.append(f"theme {settings.theme!r} not found; using chatbot-dark")
            self.theme = "chatbot-dark"
        self._apply_keymap(settings.keymap)

    def get_css_variables(self) -> dict[str, str]:
        variables = super().get_css_variables()
        # Themes that do not define the app's own colours (Textual's built-in ones) borrow theirs.
        for name, source in themes.APP_VARIABLES.items():
            variables.setdefault(name, variables[source])
        return variables

    def get_default_screen(self) -> Screen[None]:
        # What is built by now (modules, settings, styles) lives as long as the app: frozen before the first
        # screen, so no full collection ever walks it again.
        self.collector.start()
        return ChatScreen(self.session, self.store, self.writer)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification, the app's and each widget's (Widget.notify calls this), is drawn as data: what
        it quotes (a title, a model name, a server's error) is never markup, never terminal control."""
        super().notify(shown_text(message), title=shown_text(title), severity=severity, timeout=timeout,
                       markup=False)

    def action_help_quit(self) -> None:
        # Textual's (ctrl+c says how to quit) writes its key as markup, which every notification here shows as typed.
        keys = [key for key, active in self.active_bindings.items() if active.binding.action in ("quit", "app.quit")]
        if keys:
            self.notify(f"Press {keys[0]} to quit the app", title="Do you want to quit?")

    def on_mount(self) -> None:
        for warning in self.startup_warnings:
            self.notify(warning, title="Warning", severity="warning", timeout=10, markup=False)
        self.call_after_refresh(self.warm_up)
        self.set_interval(IDLE_CHECK, lambda: self.collector.tick(busy=self.session.in_flight is not None))

    def get_driver_class(self) -> type[Driver]:
        driver_class = super().get_driver_class()
        if sys.platform != "win32":
            from textual.drivers.linux_driver import LinuxDriver

            if driver_class is LinuxDriver:
                from chatbot.ui.driver import ChatDriver

                return ChatDriver
        return driver_class

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.touch()
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            if not self._typed:
                self._typed = True
                if self.ready.is_set():
                    self.warm_request()
            await self.keys.take(event)
            return
        await super().on_event(event)

    def on_descendant_focus(self, _: events.DescendantFocus) -> None:
        if isinstance(self.focused, PromptInput):
            self.keys.opened()

    async def on_unmount(self) -> None:
        self.collector.stop()
        if self.assembly.tools is not None:
            await self.assembly.tools.aclose()  # no server process outlives the app
        await self.session.client.aclose()
        if self.writer is not None:
            lost = await asyncio.to_thread(self.writer.close)
            if lost:
                self.unsaved = f"{lost} history writes could not be saved: {self.writer.error}"
        if self.store is not None:
            self.store.close()

    @work(thread=True, exit_on_error=False)
    def warm_up(self) -> None:
        """Load what the first request needs, after the first paint."""
        try:
            if not self._client_given and self.settings.api_key_cmd and not self.session.client.has_key:
                self.session.client.set_api_key(self.settings.resolve_api_key())
            self.session.counter.encoding  # noqa: B018 - loads the tokenizer
            if isinstance(client := self.session.client, ChatClient):
                client.sdk  # noqa: B018 - makes the SDK's client (it imports openai)

            import chatbot.ui.widgets.reply_markdown  # noqa: F401 - the first reply's Markdown widget
        except ChatError as exc:
            self.call_from_thread(self.notify, f"{exc}", title=exc.title, severity="error", timeout=15, markup=False)
        finally:
            # The SDK, the tokenizer and the parser live as long as the app, and start-up left its garbage
            # uncollected: one whole collection now, so the first full collection while a reply streams does
            # not walk them.
            self.collector.compact()
            self.call_from_thread(self._warmed_up)

    def _warmed_up(self) -> None:
        self.ready.set()
        if self._typed:
            self.warm_request()

    @work(thread=True, exit_on_error=False)
    def warm_request(self) -> None:
        """Load what the SDK's first request imports (ChatClient.warm), then the highlighters of WARM_LANGUAGES:
        once the user has started to type, so the app that only opens (to read the history, to look) does not
        hold them."""
        if isinstance(client := self.session.client, ChatClient):
            client.warm()
        from textual.highlight import highlight  # as the Markdown widget highlights a code block

        for language in WARM_LANGUAGES:
            highlight("", language=language)

    def first_run_message(self) -> str | None:
        """What a user without a key or a server, or with a server and no model chosen, or in the demo, needs to
        read first."""
        client = self.session.client
        if isinstance(client, DemoClient) and not self.session.conversation.messages:
            return ("This is chat's offline demo: its replies are canned, nothing is sent anywhere, and everything "
                    "costs $0.\nSend anything to begin; ask about markdown, or tokens and cost, for the other "
                    "replies. F1 lists every key.")
        if client.is_openai and not client.has_key and not self.settings.api_key_cmd:
            return (
                "Welcome to chat. No API key is set, so nothing can be sent yet.\n"
                "- To try every feature now, offline and free: quit (ctrl+q) and run chat --demo\n"
                "- For OpenAI: quit (ctrl+q), export OPENAI_API_KEY=sk-... and start chat again.\n"
                "- For a local server (Ollama, llama.cpp, vLLM): chat --base-url http://localhost:11434/v1\n"
                f"  or set base_url in {paths.for_display(config_path()[0])}\n"
                "  (chat --config-example prints a config.toml that documents every key).\n"
                "F1 lists every key."
            )
        if not client.is_openai and "model" not in self.settings.model_fields_set:
            # The default model is OpenAI's: a local server may serve nothing by that name.
            return (
                f"Using {self.settings.model} at {client.base_url}: no model was chosen.\n"
                f"- {self.key_of('model_menu')}: the model menu, with the models this server lists\n"
                "- or start with chat -m NAME\n"
                f"- or set model in {paths.for_display(config_path()[0])}\n"
                "F1 lists every key."
            )
        return None

    @work(group="models", exclusive=True, exit_on_error=False)
    async def fetch_server_models(self, picker: Picker | None = None) -> None:
        """The server's own models (so Ollama's or llama.cpp's appear in the menu), once no reply streams."""
        from chatbot.ui.screens.picker import Picker, server_model_item

        await self.ready.wait()
        async with self.server_turn:
            try:
                self.server_models = await self.session.client.list_models(timeout=MODELS_TIMEOUT)
            except ChatError:
                return
        self.server_models_fetched = True
        if picker is not None:  # a menu closed meanwhile takes no message
            known = self.settings.all_models()
            picker.post_message(Picker.ItemsArrived(
                [server_model_item(self.settings, name, openai=self.session.client.is_openai)
                 for name in self.server_models if name not in known]))

    def _apply_keymap(self, keymap: dict[str, str]) -> None:
        editing = {key: f"the prompt's {found[0].description.lower() or found[0].action}"
                   for key, found in (PromptInput._merged_bindings or BindingsMap()).key_to_bindings.items()
                   if not any(b.id for b in found)}
        resolved = resolve_keymap(keymap, [b for _, b in self._all_bindings()], editing)
        self.startup_warnings += resolved.warnings
        self.set_keymap(resolved.keymap)

    def _all_bindings(self) -> list[tuple[str, Binding]]:
        sources: list[tuple[str, list[BindingType]]] = [
            ("app", ChatApp.BINDINGS), ("chat", ChatScreen.BINDINGS), ("prompt", PromptInput.BINDINGS),
            ("transcript", MessageCursor.BINDINGS),
        ]
        return [(where, b) for where, bindings in sources for b in bindings if isinstance(b, Binding)]

    def key_of(self, binding_id: str) -> str:
        """The first key a binding has now (the keymap applied), for the hints that name it."""
        binding = next(b for _, b in self._all_bindings() if b.id == binding_id)
        return self._keymap.get(binding_id, binding.key).split(",")[0].strip()

    def binding_rows(self) -> list[str]:
        """Every binding with its current keys and its id, for the help screen, in columns as wide as what they
        hold (each at least a space apart)."""
        found: list[tuple[str, str, str, str]] = []  # where, keys, what it does, id
        for where, binding in self._all_bindings():
            if binding.id:  # the prompt's own keys are summed up below
                found.append((where, self._keymap.get(binding.id, binding.key),
                              binding.description or binding.action, binding.id))
        keys_width = max([19, *(len(keys) for _, keys, _, _ in found)])
        action_width = max([14, *(len(action) for _, _, action, _ in found)])
        rows = [f"{'key':<{keys_width}} {'action':<{action_width}} [keymap] id"]
        cursor = False
        for where, keys, action, binding_id in found:
            if where == "transcript" and not cursor:
                cursor = True
                rows += ["", f"In the transcript ({self.key_of('messages')}), on the message under the cursor:"]
            rows.append(f"{keys:<{keys_width}} {action:<{action_width}} {binding_id}")
        rows += [f"{'1-9':<{keys_width}} Copy code block N (numbered in the message)",
                 "", f"{'ctrl+p':<{keys_width}} Commands: every action, export",
                 f"{'up, down':<{keys_width}} Messages sent, to resend",
                 f"{'pageup, pagedown':<{keys_width}} Scroll the transcript",
                 f"{'ctrl+home, ctrl+end':<{keys_width}} The transcript's top, its end"]
        return rows

    def get_system_commands(self, screen: Screen[object]) -> Iterator[SystemCommand]:
        # Textual's own "Keys" panel does not close on escape and duplicates F1, "Maximize" on the prompt fills
        # the screen with hatching, and its "Screenshot" fails silently without ~/Downloads: replaced or left out.
        yield from (c for c in super().get_system_commands(screen) if c.title not in TEXTUAL_COMMANDS_LEFT_OUT)
        yield SystemCommand("Screenshot", "Save an SVG picture of the screen in the current folder",
                            lambda: self.call_after_refresh(self.action_save_screenshot))  # once the palette is gone
        if isinstance(screen, ChatScreen):
            from chatbot.ui.screens.usage import open_usage

            key = self.key_of
            yield SystemCommand("Help", f"Every key, and where settings live ({key('help')})", screen.action_help)
            yield SystemCommand("Switch model", f"Pick the model of the next request ({key('model_menu')})",
                                screen.action_model_menu)
            yield SystemCommand("Switch preset", f"Pick the parameter preset ({key('preset_menu')})",
                                screen.action_preset_menu)
            yield SystemCommand("Reasoning effort", f"How hard the model thinks, from the next request "
                                f"({key('effort_menu')})", screen.action_effort_menu)
            yield SystemCommand("Usage", "Spend per day and per model, from the ledger",
                                lambda: open_usage(self, screen.store))
            yield SystemCommand("Edit system prompt", "Change the system prompt of this conversation",
                                screen.action_edit_system_prompt)
            if in_effect(screen.session) is not None:
                yield SystemCommand("Edit summary", "Change the summary sent in place of the earliest turns (e on it)",
                                    screen.action_edit_summary)
            yield SystemCommand("New conversation", f"Start over ({key('new_conversation')})",
                                screen.action_new_conversation)
            yield SystemCommand("Regenerate", f"Replace the last reply ({key('regenerate')})", screen.action_regenerate)
            yield SystemCommand("Copy last reply", f"To the clipboard, also over ssh ({key('copy_reply')})",
                                screen.action_copy_reply)
            yield SystemCommand("Attach file", f"Pick a file to send with the next message ({key('attach')})",
                                screen.action_attach)
            yield from message_commands(screen)
            yield SystemCommand("Show dropped turns", "What the sliding window leaves out", screen.action_dropped)
            yield SystemCommand("History", f"Open, search, rename or delete stored conversations ({key('history')})",
                                screen.action_history)
            yield SystemCommand("Tools", f"MCP servers and their tools, on or off for this conversation "
                                f"({key('tools')})", screen.action_tools)
            yield SystemCommand("Export conversation as Markdown", "Write it to a file in the current folder",
                                lambda: screen.export("md"))
            yield SystemCommand("Export conversation as JSON", "Every field, to a file in the current folder",
                                lambda: screen.export("json"))
            yield SystemCommand("Save theme to config", f"Keep the current theme in {self.config_file_label()}",
                                self.action_save_theme)

    def action_save_screenshot(self) -> None:
        try:
            path = self.save_screenshot(path=str(Path.cwd()))
        except OSError as exc:
            self.notify(f"Screenshot not saved: {exc.strerror or exc}", severity="error", markup=False)
            return
        self.notify(f"Screenshot saved to {path}", markup=False)

    def config_file_label(self) -> str:
        return str(config_path()[0])

    def action_save_theme(self) -> None:
        from chatbot.core.settings.edit import set_top_level_key  # tomlkit: only when a change is saved

        path = config_path()[0]
        try:
            set_top_level_key(path, "theme", self.theme)
        except ConfigError as exc:
            self.notify(f"Theme not saved: {exc}", severity="error", markup=False)
            return
        self.notify(f"Theme {self.theme} saved to {path}", markup=False)


def make_app(settings: Settings, client: Client | None = None, *, warnings: list[str] | None = None,
             store: HistoryStore | None = None, resume_id: int | None = None, typed_ahead: str = "") -> ChatApp:
    return ChatApp(settings, client, warnings=warnings, store=store, resume_id=resume_id, typed_ahead=typed_ahead)


def run(settings: Settings, warnings: list[str] | None = None, *, store: HistoryStore | None = None,
        resume_id: int | None = None, client: Client | None = None) -> int:
    stdin = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
    with typeahead.typed_ahead(stdin) as typed:
        app = make_app(settings, client, warnings=warnings, store=store, resume_id=resume_id, typed_ahead=typed)
        app.run()
    if app.unsaved:
        from chatbot.cli.output import stderr

        stderr().line(f"chat: {app.unsaved}")
    return 0
