"""Textual's Linux/macOS terminal driver, with bracketed pastes delivered exactly as they were pasted, and
frames sent without the rows the terminal already shows (row_cache.py)."""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual import events
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from chatbot.core.terminal import PasteShield
from chatbot.ui.row_cache import RowCache


class ChatDriver(LinuxDriver):
    """LinuxDriver whose key parser gets each read through a PasteShield (see there for why), and whose
    output goes through a RowCache."""

    _rows: RowCache | None = None

    def write(self, data: str) -> None:
        if self._rows is None:
            self._rows = RowCache()
        try:
            size = os.get_terminal_size(self.fileno)  # input and output are the same terminal
            columns_rows: tuple[int, int] | None = (size.columns, size.lines)
        except OSError:
            columns_rows = None
        super().write(self._rows.filter(data, columns_rows))

    def run_input_thread(self) -> None:
        # LinuxDriver.run_input_thread (Textual 8.2), with the shield between the read and the parser: the parser
        # is made inside that method, so there is no smaller place to put it.
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        shield = PasteShield()
        decode = getincrementaldecoder("utf-8")().decode

        def process(ready: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for index, (_key, mask) in enumerate(ready):
                if mask & selectors.EVENT_READ:
                    text = decode(os.read(self.fileno, 1024 * 4), final=final and index == len(ready) - 1)
                    if not text:  # stdin is a pipe at its end
                        break
                    for event in parser.feed(shield.feed(text)):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(0.1))
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
