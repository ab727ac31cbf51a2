"""Full-text search of the history: what it finds, and that no typed query raises."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chatbot.core.conversation import Message
from chatbot.core.store.history import HistoryStore

# -- full-text search ------------------------------------------------------------------------------------------


@pytest.fixture
def searchable(store: HistoryStore) -> tuple[HistoryStore, int, int]:
    a = store.create("gpt-4o", "balanced", "")
    store.add(a, Message("user", "How do penguins keep warm?"))
    store.add(a, Message("assistant", "Penguins huddle together, and feathers trap air.", model="gpt-4o"))
    b = store.create("gpt-4o-mini", "balanced", "")
    store.add(b, Message("user", "Write a poem about emperor penguins"))
    store.add(b, Message("assistant", "Upon the ice the emperors stand", model="gpt-4o-mini"))
    return store, a, b


def test_search_finds_words_across_conversations(searchable: tuple[HistoryStore, int, int]) -> None:
    store, a, b = searchable
    hits = store.search("penguins")
    assert {h.conversation_id for h in hits} == {a, b}
    assert len(hits) == 3
    assert all("«penguins»" in h.snippet.lower() for h in hits)
    assert {h.title for h in hits} == {"How do penguins keep warm?", "Write a poem about emperor penguins"}
    [hit] = store.search("huddle")
    assert (hit.conversation_id, hit.role, hit.snippet) == (
        a, "assistant", "Penguins «huddle» together, and feathers trap air.")
    # Every word must match; case and order do not matter.
    assert [h.conversation_id for h in store.search("EMPEROR poem")] == [b]
    assert store.search("penguins zebras") == []
    assert store.search("") == [] and store.search("   ") == []


def test_each_word_finds_the_words_it_begins(searchable: tuple[HistoryStore, int, int]) -> None:
    """As a search typed into the history screen reads at every key: "pengu" on its way to "penguins"."""
    store, _, b = searchable
    assert len(store.search("pengu")) == len(store.search("penguins")) == 3
    assert [h.conversation_id for h in store.search("emper po")] == [b]
    [hit] = store.search("hudd")
    assert hit.snippet == "Penguins «huddle» together, and feathers trap air."  # the whole word marked
    assert store.search("uins") == []  # the start of a word, not any part of it


def test_search_follows_partial_saves_edits_and_deletes(store: HistoryStore) -> None:
    c = store.create("gpt-4o", "balanced", "")
    row = store.add(c, Message("assistant", "", model="gpt-4o"), streaming=True)
    store.save_partial(row, "an early draftword")
    assert [h.message_id for h in store.search("draftword")] == [row]
    store.finalize(row, Message("assistant", "the final wording", model="gpt-4o"))
    assert store.search("draftword") == []
    assert [h.message_id for h in store.search("wording")] == [row]
    store.delete(c)
    assert store.search("wording") == []


@pytest.mark.parametrize("query", [
    '"', '""', '"penguins', 'penguins"', "'", "penguins AND", "AND", "OR penguins", "NOT", "penguins NOT warm",
    "*", "pengu*", "-", "-penguins", "penguins -warm", "(", ")", "(penguins", "penguins)", "()",
    "NEAR", "NEAR(penguins warm)", "NEAR(penguins warm, 2)", "penguins NEAR warm", "^penguins", "+", ":",
    "content:penguins", "messages_fts:penguins", "{content}: penguins", "[", "]", "penguins;", "a'b", "\\", "%", "_",
    "; DROP TABLE messages; --",
])
def test_fts_syntax_in_a_query_never_raises(searchable: tuple[HistoryStore, int, int], query: str) -> None:
    store, _, _ = searchable
    hits = store.search(query)
    assert isinstance(hits, list)
    assert len(store.search("penguins")) == 3  # and nothing was harmed


def test_fts_operators_are_searched_as_words(store: HistoryStore) -> None:
    c = store.create("gpt-4o", "balanced", "")
    store.add(c, Message("user", "salt AND pepper, NEAR the stove"))
    store.add(c, Message("user", "salt or pepper"))
    assert len(store.search("salt AND pepper")) == 1  # AND is a word to find, not an operator
    assert len(store.search("NEAR stove")) == 1
    assert len(store.search('"salt"')) == 2
    assert len(store.search("-salt")) == 2  # not an exclusion


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                     max_size=40))
def test_any_typed_query_never_raises(searchable: tuple[HistoryStore, int, int], query: str) -> None:
    store, _, _ = searchable
    assert isinstance(store.search(query), list)


def test_a_query_with_a_nul_character_does_not_raise(searchable: tuple[HistoryStore, int, int]) -> None:
    store, _, _ = searchable
    assert isinstance(store.search("pen\x00guins"), list)

