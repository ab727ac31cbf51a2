"""`chat --list-models`: the model catalogue, and the models another server lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.cli.output import Output, stderr, stdout

if TYPE_CHECKING:
    from chatbot.core.settings import Settings


def list_models(settings: Settings) -> None:
    _catalogue(settings, stdout())
    _server_models(settings, stdout())


def _catalogue(settings: Settings, out: Output) -> None:
    from chatbot.core.models import PRICES_AS_OF

    rows = [("model", "context", "max out", "input $/1M", "cached $/1M", "output $/1M")]
    for spec in settings.all_models().values():
        p = spec.price
        rows.append((spec.name, f"{spec.context_window:,}", f"{spec.max_output:,}",
                     *(("?", "?", "?") if p is None else
                       (f"{p.input}", f"{p.cached_input if p.cached_input is not None else p.input}", f"{p.output}"))))
    out.table(rows, right=range(1, len(rows[0])))
    out.line(f"\nprices as of {PRICES_AS_OF}; override them under [models.NAME] in config.toml")
    if not settings.prices_from_catalogue:
        out.line("catalogue prices are OpenAI's and base_url is another server: `?` until [models.NAME] gives "
                 "prices (or catalogue_prices = true, for a proxy that bills as OpenAI does)")


def _server_models(settings: Settings, out: Output) -> None:
    """The ids another server offers (a local one serves models the catalogue cannot know)."""
    import asyncio

    from chatbot.core.client import ChatClient
    from chatbot.core.errors import ChatError
    from chatbot.core.models import is_openai_url

    if settings.base_url is None or is_openai_url(settings.base_url):
        return  # OpenAI's list is the catalogue and hundreds of ids that cannot chat
    url = settings.base_url.rstrip("/")
    try:
        # Short: the catalogue is already printed, and a dead server should not hold the prompt for a minute.
        names = asyncio.run(ChatClient.from_settings(settings).list_models(timeout=5.0))
    except ChatError as exc:
        stderr().line(f"chat: could not list the models of {url}: {exc.headline()}")
        return
    out.line(f"\nfrom the server at {url}:" if names else f"\nno models listed by {url}")
    for name in names:
        out.line(f"{name}  (from the server)")
