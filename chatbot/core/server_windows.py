"""The windows servers report for models nothing else describes, each model's server asked once a session."""

from __future__ import annotations

from chatbot.core.models import ModelSpec
from chatbot.core.settings import Settings


class ServerWindows:
    def __init__(self) -> None:
        self.reported: dict[str, int] = {}  # model -> the window its server reports
        self.asked: set[str] = set()

    async def learn(self, settings: Settings, model: str | None, spec: ModelSpec) -> None:
        """Ask the server for `spec`'s window when nothing else knows it (neither the catalogue nor the config):
        a local model's window decides what the sliding window keeps. Asked once per model; call it only while
        no reply streams (see server_info)."""
        if spec.window_source != "assumed" or model is None or model in self.asked:
            return
        self.asked.add(model)
        from chatbot.core.server_info import server_window  # the network library only when a server is asked

        key = settings.api_key.get_secret_value() if settings.api_key else None
        window = await server_window(settings.base_url, model, api_key=key)
        if window is not None:
            self.reported[model] = window
