"""The app's collection policy: survivors of full collections are frozen, and the whole heap is collected only
when the user is idle and no reply streams."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from chatbot.ui.collector import Collector, starting_up


class Node:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def collector(clock: Clock) -> Iterator[Collector]:
    collector = Collector(idle=2.0, clock=clock)
    collector.start()
    try:
        yield collector
    finally:
        collector.stop()


def frozen_garbage(collector: Collector) -> weakref.ref[Node]:
    """A cycle that survives a full collection (so it is frozen) and then becomes garbage."""
    node = Node()
    ref = weakref.ref(node)
    gc.collect()
    assert collector.frozen_since >= 1
    del node
    gc.collect()
    assert ref() is not None, "a frozen cycle is out of the collector's reach until the heap is collected whole"
    return ref


def test_survivors_of_a_full_collection_are_frozen_and_collected_once_the_user_is_idle(
        collector: Collector, clock: Clock) -> None:
    ref = frozen_garbage(collector)
    clock.now += 1.0
    collector.tick(busy=False)  # idle for only one second since the collector started
    assert ref() is not None and collector.compactions == 0
    clock.now += 1.5
    collector.tick(busy=False)
    assert ref() is None
    assert collector.compactions == 1 and collector.frozen_since == 0


def test_no_whole_heap_collection_while_a_reply_streams_or_the_user_types(collector: Collector, clock: Clock) -> None:
    ref = frozen_garbage(collector)
    for _ in range(5):
        clock.now += 3.0
        collector.tick(busy=True)
    assert ref() is not None and collector.compactions == 0
    clock.now += 1.0
    collector.touch()  # a key, a second after the reply ended
    clock.now += 1.5
    collector.tick(busy=False)
    assert ref() is not None and collector.compactions == 0
    clock.now += 1.0
    collector.tick(busy=False)
    assert ref() is None and collector.compactions == 1


def test_nothing_frozen_since_the_last_collection_means_nothing_to_do(collector: Collector, clock: Clock) -> None:
    clock.now += 10.0
    collector.tick(busy=False)
    assert collector.compactions == 0


def test_stop_hands_everything_back(clock: Clock) -> None:
    collector = Collector(clock=clock)
    collector.start()
    node = Node()
    ref = weakref.ref(node)
    gc.collect()
    collector.stop()
    assert collector._after_collection not in gc.callbacks
    del node
    gc.collect()
    assert ref() is None


def test_start_up_runs_without_the_collector_and_every_way_out_turns_it_back_on() -> None:
    with starting_up():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyboardInterrupt), starting_up():
        raise KeyboardInterrupt
    assert gc.isenabled()



def resident_mb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim; /proc")
def test_a_compaction_gives_freed_heap_back_to_the_system() -> None:
    """100 MB in blocks too big for Python's own allocator, freed but for the last one, which keeps the C heap from
    shrinking by itself: the process holds the 100 MB until the compaction hands the free pages back."""
    blocks = [bytes(1000) + bytes([n % 256]) for n in range(100_000)]
    last = blocks[-1]
    del blocks
    held = resident_mb()
    Collector().compact()
    assert resident_mb() < held - 50
    assert last
