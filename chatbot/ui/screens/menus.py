"""The settings menus of the chat screen (a mixin of ChatScreen): the model, the preset and the reasoning effort,
each applying from the next request. The picker is imported when a menu first opens, not before the first
paint."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from chatbot.ui.screens.chat import ChatScreen
    from chatbot.ui.screens.picker import Picker


def screen_of(menus: MenuActions) -> ChatScreen:
    return cast("ChatScreen", menus)


class MenuActions:
    """What the chat screen's menu keys do; ChatScreen inherits it."""

    def action_model_menu(self) -> None:
        from chatbot.ui.screens.picker import model_picker

        screen = screen_of(self)
        picker = model_picker(screen.session, screen.app.server_models, self._refresh_server_models)
        screen.app.push_screen(picker, self._model_chosen)
        if not screen.app.server_models_fetched:
            self._refresh_server_models(picker)

    def _refresh_server_models(self, picker: Picker) -> None:
        screen = screen_of(self)
        if screen.busy:
            # The fetch waits for the reply: asking now would end it on a server that serves one at a time.
            screen.notify("The server's models are fetched when the reply ends.", title="Models")
        screen.app.fetch_server_models(picker)

    def _model_chosen(self, name: str | None) -> None:
        screen = screen_of(self)
        if name and name != screen.session.model:
            screen.session.set_model(name)
            screen.refresh_status()
            screen.notify(f"Model: {name}")

    def action_preset_menu(self) -> None:
        from chatbot.ui.screens.picker import preset_picker

        screen = screen_of(self)
        screen.app.push_screen(preset_picker(screen.session), self._preset_chosen)

    def _preset_chosen(self, name: str | None) -> None:
        screen = screen_of(self)
        if name and name != screen.session.preset_name:
            from chatbot.ui.screens.picker import preset_detail

            screen.session.set_preset(name)
            screen.refresh_status()
            screen.notify(f"Preset: {name} ({preset_detail(screen.session.spec, screen.session.preset)})", markup=False)

    def action_effort_menu(self) -> None:
        from chatbot.ui.screens.picker import open_effort_menu

        screen = screen_of(self)
        open_effort_menu(screen.app, screen.session, screen.refresh_status)
