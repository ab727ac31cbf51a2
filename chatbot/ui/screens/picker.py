"""The model and preset menus: names with a detail (and a note) each, filtered as you type."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from chatbot.core.errors import ChatError
from chatbot.core.models import ModelSpec, ReasoningEffort
from chatbot.core.presets import Preset, sent_summary
from chatbot.core.request_body import build_params
from chatbot.core.status import how_to_describe, undescribed
from chatbot.ui.screens.filter_list import FilterList
from chatbot.ui.widgets.status_bar import compact

if TYPE_CHECKING:
    from textual.app import App

    from chatbot.core.session import Session
    from chatbot.core.settings import Settings


@dataclass(frozen=True)
class PickerItem:
    value: str
    detail: str = ""
    note: str = ""  # a second line under the detail, for what a narrow screen would cut off


NBSP = chr(0xA0)  # keeps a row's columns: a leading plain space would be trimmed


class Picker(FilterList[str]):
    """Closes with the chosen item's value (None on escape); the current one is marked and highlighted first.

    As you type, the item named exactly what you typed is highlighted, else the first match. With `free`, a
    query that names no item is offered last as "use 'query'": a name the list does not hold can still be chosen.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "refresh", show=False)]

    @dataclass
    class ItemsArrived(Message):
        """Items that arrived after the menu opened (the server's own models), for the menu to add."""

        items: list[PickerItem]

    def __init__(self, title: str, items: list[PickerItem], current: str | None = None,
                 refresh: tuple[str, Callable[[Picker], None]] | None = None, free: bool = False) -> None:
        """`refresh`: what ctrl+r fetches again (named in the filter's placeholder), and how."""
        hint = f" (ctrl+r: {refresh[0]})" if refresh else ""
        super().__init__(title, f"type to filter{hint}")
        self.items = items
        self.current = current
        self.refresh_with = refresh
        self.free = free
        self.moved = False  # the user moved the highlight since the last edit of the query

    def add_items(self, items: list[PickerItem]) -> None:
        """Add items that arrived later (e.g. the server's own models), keeping the filter."""
        known = {item.value for item in self.items}
        self.items += [item for item in items if item.value not in known]
        # Rows arriving later must not move the highlight from under the user's keys; until the user moves it,
        # the rule of typing holds (a typed name the server now lists beats "use 'name'").
        if self.moved:
            self.fill(keep=self.highlighted_id)
        else:
            self.refill()

    def on_picker_items_arrived(self, event: Picker.ItemsArrived) -> None:
        self.add_items(event.items)

    def refill(self) -> None:
        # Typing "gpt-4o" must land on gpt-4o, not stay on the gpt-4o-mini it started on; no query: the current.
        query = self.query_box.value.strip()
        exact = next((i.value for i in self.items if i.value.lower() == query.lower()), None)
        self.fill(keep=exact if query else self.current)
        self.moved = False

    def action_move(self, step: int) -> None:
        super().action_move(step)
        self.moved = True

    def rows(self, query: str) -> Iterable[tuple[str, str]]:
        needle = query.strip().lower()
        matches = [i for i in self.items if any(needle in text.lower() for text in (i.value, i.detail, i.note))]
        width = max((len(i.value) for i in matches), default=0)
        rows = [(i.value, self._label(i, width)) for i in matches]
        name = query.strip()
        if self.free and name and all(i.value.lower() != name.lower() for i in self.items):
            rows.append((name, f"{NBSP} use '{name}'"))
        return rows

    def result(self, row_id: str) -> str:
        return row_id

    def _label(self, item: PickerItem, width: int) -> str:
        label = f"{'●' if item.value == self.current else NBSP} {item.value.ljust(width)}  {item.detail}"
        return label + (f"\n{NBSP * (width + 4)}{item.note}" if item.note else "")

    def action_refresh(self) -> None:
        if self.refresh_with is not None:
            self.refresh_with[1](self)


def preset_detail(spec: ModelSpec, preset: Preset) -> str:
    """A preset's row in the preset menu: what a request to `spec` would send with it."""
    try:
        return sent_summary(build_params([], spec, preset))
    except ChatError as exc:  # an effort this model does not take: said here, before anything is sent
        return f"not for {spec.name}: {exc.message}"


def model_detail(spec: ModelSpec) -> str:
    """A model's row in the model menu: window, output, price, kind."""
    price = "price unknown" if spec.price is None else (
        f"${spec.price.input}/{spec.price.output} per 1M in/out")
    kind = " · reasoning" if spec.reasoning else ""
    return f"{compact(spec.context_window)} ctx · {compact(spec.max_output)} out · {price}{kind}"


def model_item(spec: ModelSpec, *, openai: bool) -> PickerItem:
    """A model's row; an OpenAI model nothing describes says its window and price are unknown, and where to set
    them."""
    if undescribed(spec, openai=openai):
        return PickerItem(spec.name, f"window ? (assumed {spec.context_window:,}) · price unknown",
                          how_to_describe(spec.name))
    return PickerItem(spec.name, model_detail(spec))


def server_model_item(settings: Settings, name: str, *, openai: bool) -> PickerItem:
    """A model the server lists and the catalogue and config do not: from OpenAI, one nothing describes."""
    return model_item(settings.model_spec(name), openai=openai) if openai else PickerItem(name, "from the server")


def model_picker(session: Session, server_models: Iterable[str], refresh: Callable[[Picker], None]) -> Picker:
    """The model menu: the catalogue and the config's models, then what the server lists beside them (and the
    current model, if it is none of those)."""
    settings, openai = session.settings, session.client.is_openai
    models = settings.all_models()
    items = [model_item(spec, openai=openai) for spec in models.values()]
    items += [server_model_item(settings, name, openai=openai) for name in server_models if name not in models]
    if all(item.value != session.model for item in items):
        items.append(model_item(session.spec, openai=openai))
    return Picker("Model (applies from the next request)", items, current=session.model,
                  refresh=("ask the server again", refresh), free=True)


def preset_picker(session: Session) -> Picker:
    """The preset menu. Each row shows what the next request would send with it: the overrides (flags,
    CHAT_MAX_TOKENS) applied, and only what the current model takes."""
    settings, spec = session.settings, session.spec
    items = [PickerItem(name, preset_detail(spec, settings.active_preset(name)), p.description)
             for name, p in settings.all_presets().items()]
    return Picker(f"Preset (applies from the next request; as sent to {spec.name})", items,
                  current=session.preset_name)


PRESET_EFFORT = "preset"  # the effort menu's row for "as the preset says": choosing it drops the session's choice

# What each effort asks of the model, in short: more effort is more reasoning tokens, billed as output.
EFFORT_DETAILS: dict[str, str] = {
    "none": "no reasoning: fastest, fewest tokens",
    "minimal": "very little reasoning: fast",
    "low": "some reasoning, favouring speed",
    "medium": "balanced",
    "high": "more reasoning: slower, more tokens",
    "xhigh": "the most reasoning this model does",
    "max": "the most reasoning",
}


def effort_picker(session: Session) -> Picker | str:
    """The reasoning-effort menu: the efforts the current model takes (the catalogue's, or reasoning_efforts
    under [models.NAME]), the one the next request sends marked; or, for a model that takes none, why not."""
    spec = session.spec
    if not spec.reasoning or not spec.reasoning_efforts:
        how = (f'set reasoning = true and the values it takes as reasoning_efforts under [models."{spec.name}"]'
               if not spec.known else "pick a reasoning model in the model menu")
        return f"{spec.name} takes no reasoning effort: {how}."
    own = session.settings.active_preset(session.preset_name).reasoning_effort
    own_said = ("the model's default" if own is None else own if own in spec.reasoning_efforts
                else f"{own}, which {spec.name} does not take")
    items = [PickerItem(effort, EFFORT_DETAILS.get(effort, "")) for effort in spec.reasoning_efforts]
    items.append(PickerItem(PRESET_EFFORT, f"as preset {session.preset_name} says: {own_said}"))
    sent = session.preset.reasoning_effort
    current = PRESET_EFFORT if session.effort is None or sent != session.effort else sent
    return Picker(f"Reasoning effort of {spec.name} (applies from the next request)", items, current=current)


def open_effort_menu(app: App[Any], session: Session, changed: Callable[[], None]) -> None:
    """Open the effort menu over the chat screen; a choice applies from the next request (`changed` refreshes
    what shows the figures)."""
    picker = effort_picker(session)
    if isinstance(picker, str):
        app.notify(picker, title="Reasoning effort", markup=False)
        return

    def chosen(value: str | None) -> None:
        if value is None:
            return
        effort: ReasoningEffort | None = next((e for e in session.spec.reasoning_efforts if e == value), None)
        session.effort = effort
        changed()
        said = session.preset.reasoning_effort or "the model's default"
        app.notify(f"Reasoning effort: {said} (from the next request)", markup=False)

    app.push_screen(picker, chosen)
