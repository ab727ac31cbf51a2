"""When Python's cyclic garbage collector walks the whole heap: while the user is idle, not while a reply streams.

A full collection walks every tracked object, and a streaming reply keeps adding Textual's per-line caches, so
late in a long Markdown reply each full collection held the UI for 100-300 ms, several times per reply, and
typing stalled with it. So every object that survives a full collection is frozen (`gc.freeze`): the next full
collection walks only what is newer, which is a few milliseconds. What becomes garbage after it was frozen is
kept until the user has been idle for a moment with no reply streaming; then the whole heap is unfrozen,
collected once and frozen again.

After each whole-heap collection the C heap's free pages go back to the system (glibc's `malloc_trim`): opening
a long conversation parses and lays out its Markdown, and what that freed stayed in the process (6 MB of the
156 MB a resumed 500-turn conversation held).

Before any of that, while chat starts (`starting_up`), the collector is off: start-up builds long-lived objects
(modules, settings, styles), so its passes over them find nothing and only delay the first paint.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

IDLE = 2.0  # seconds without input and without a streaming reply before the heap is collected whole
OLDEST = 2  # CPython's generations are 0, 1 and 2; a collection of 2 is a full one


@contextmanager
def starting_up() -> Iterator[None]:
    """No cyclic collection inside: the app's Collector.start() freezes what start-up built and turns it back
    on before the first screen; every other way out (one-shot, --list-models, an error) turns it back on here."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Collector:
    def __init__(self, *, idle: float = IDLE, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle = idle
        self.clock = clock
        self.last_input = clock()
        self.compactions = 0
        self.frozen_since = 0  # full collections whose survivors were frozen since the heap was last collected whole
        self._installed = False

    def start(self) -> None:
        """Freeze what exists now (modules, settings, styles: it lives as long as the app), freeze the survivors
        of every full collection from now on, and turn the collector back on if start-up had it off."""
        gc.freeze()
        gc.enable()
        if not self._installed:
            gc.callbacks.append(self._after_collection)
            self._installed = True

    def stop(self) -> None:
        """Hand everything back to the collector: the app is gone."""
        if self._installed:
            gc.callbacks.remove(self._after_collection)
            self._installed = False
        gc.unfreeze()

    def touch(self) -> None:
        """The user did something: no whole-heap collection for `idle` seconds."""
        self.last_input = self.clock()

    def tick(self, busy: bool) -> None:
        """Called now and then; collects the whole heap if the user is idle and something was frozen since the
        last time (the frozen part may hold garbage only a whole-heap collection finds)."""
        if busy:
            self.touch()
        elif self.frozen_since and self.clock() - self.last_input >= self.idle:
            self.compact()

    def compact(self) -> None:
        """Collect the whole heap, frozen part included, and freeze what survives."""
        gc.unfreeze()
        gc.collect()  # the callback freezes the survivors
        release_free_memory()
        self.frozen_since = 0
        self.compactions += 1

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == OLDEST:
            gc.freeze()
            self.frozen_since += 1


def release_free_memory() -> bool:
    """Hand the C heap's free pages back to the system, where the C library can (glibc); False elsewhere."""
    import ctypes  # not before the first paint: compact() runs after it

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): its allocator keeps what it keeps
        return False
    trim(0)
    return True
