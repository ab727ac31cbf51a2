"""Textual's Linux/macOS terminal driver, with bracketed pastes delivered exactly as they were pasted, the
terminal asked once, before Textual reads its input, whether it draws Kitty graphics or Sixel (graphics.py),
frames sent without the rows the terminal already shows (row_cache.py), and a Sixel image painted again after
each frame that drew over it (sixel.py)."""

from __future__ import annotations

import contextlib
import os
import selectors
import sys
from codecs import getincrementaldecoder

from textual import events
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from chatbot.core.terminal import PasteShield
from chatbot.ui.graphics import Kitty, cell_pixels, may_draw_images, probe
from chatbot.ui.row_cache import RowCache
from chatbot.ui.sixel import Sixel
from chatbot.ui.typeahead import read_keys


class ChatDriver(LinuxDriver):
    """LinuxDriver whose key parser gets each read through a PasteShield (see there for why), that asks the
    terminal about images before its input thread starts (graphics.py), and whose output goes through a RowCache
    and, when the terminal draws Sixel, past the one Sixel image shown."""

    _probed = False
    _rows: RowCache | None = None

    def write(self, data: str) -> None:
        if self._rows is None:
            self._rows = RowCache()
        try:
            size = os.get_terminal_size(self.fileno)  # input and output are the same terminal
            columns_rows: tuple[int, int] | None = (size.columns, size.lines)
        except OSError:
            columns_rows = None
        sixel: Sixel | None = getattr(self._app, "sixel", None)  # a ChatApp's
        if sixel is not None:
            self._rows.forget(sixel.before_frame())
        out = self._rows.filter(data, columns_rows)
        if sixel is not None and self._rows.drawn is not None:
            out += sixel.after_frame(self._rows.drawn)
        super().write(out)

    def start_application_mode(self) -> None:
        # Once (not again on resuming from ctrl+z), only for an app that draws images, in a terminal that may
        # draw them (graphics.may_draw_images): before Textual's input thread exists, so the probe alone reads the
        # replies.
        settings = getattr(self._app, "settings", None)  # a ChatApp's
        if (not self._probed and settings is not None and settings.attachments.thumbnails and sys.__stdout__
                and may_draw_images(os.environ)):
            self._probed = True
            answer = probe(self.fileno, sys.__stdout__.fileno(), os.environ.get("TERM"),
                           settings.attachments.probe_timeout)
            self._typed_ahead(answer.typed)
            # Placeholders name their image by a 24-bit colour, which must reach the terminal unchanged.
            if answer.kitty and self._app.console.color_system == "truecolor":
                self._app.kitty = Kitty(self.write)  # type: ignore[attr-defined]  # a ChatApp's
            elif answer.sixel and (answer.cell or cell_pixels(self.fileno)):
                # The window's size in pixels first: it follows a change of font size, the reply does not.
                told, fileno = answer.cell, self.fileno
                self._app.sixel = Sixel(lambda: cell_pixels(fileno) or told)  # type: ignore[attr-defined]
        super().start_application_mode()  # type: ignore[no-untyped-call]

    def _typed_ahead(self, typed: bytes) -> None:
        """Keys the probe read, as the input thread would have given them; posted before it starts, so they
        come first."""
        for event in read_keys(typed.decode("utf-8", "replace")):
            self.process_message(event)

    def run_input_thread(self) -> None:
        # LinuxDriver.run_input_thread (Textual 8.2), with the shield between the read and the parser: the parser
        # is made inside that method, so there is no smaller place to put it.
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        shield = PasteShield()
        decode = getincrementaldecoder("utf-8")().decode

        def process(ready: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> bool:
            """Hand on what was read; False once the input is at its end (a closed terminal, a pipe's end)."""
            for index, (_key, mask) in enumerate(ready):
                if mask & selectors.EVENT_READ:
                    try:
                        data = os.read(self.fileno, 1024 * 4)
                    except OSError:  # EIO: the terminal is gone
                        data = b""
                    if not data:
                        return False
                    for event in parser.feed(shield.feed(decode(data, final=final and index == len(ready) - 1))):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)
            return True

        try:
            while not self.exit_event.is_set():
                if not process(selector.select(0.1)):
                    # No key can come again (Textual's own loop would select and read nothing forever, at a whole
                    # core): quit as ctrl+q does, so what the conversation holds is kept.
                    with contextlib.suppress(RuntimeError):  # the app is already closing
                        self._app.call_from_thread(self._app.exit)
                    break
            selector.unregister(self.fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass

    def process_message(self, message: Message) -> None:
        if isinstance(message, events.Paste):
            message.text = PasteShield.restore(message.text)
        super().process_message(message)
