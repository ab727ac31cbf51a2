"""Attached files in the history: each content stored once, restored on resume and sent again from there, and
carried through export (JSON with base64, Markdown with the files beside it) and import."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chatbot.core.attachments import Attachment, prepare
from chatbot.core.models import CATALOGUE
from chatbot.core.session import Session
from chatbot.core.store.export import import_json, save, to_json, to_markdown
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.schema import MIGRATIONS, SCHEMA_VERSION
from fake_openai import FakeOpenAI, Reply
from stored_history import export_fields, recorder_of, resume, written


def png(width: int, height: int, colour: tuple[int, int, int] = (0, 128, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def image(width: int = 1024, height: int = 1024, name: str = "photo.png", detail: str = "auto",
          colour: tuple[int, int, int] = (0, 128, 255)) -> Attachment:
    return prepare(png(width, height, colour), name, CATALOGUE["gpt-4o"], detail=detail)  # type: ignore[arg-type]


def text_file(name: str = "main.py", text: str = "print('hi')\n") -> Attachment:
    return prepare(text.encode(), name, CATALOGUE["gpt-4o"])


async def send(session: Session, text: str, attachments: tuple[Attachment, ...] = ()) -> None:
    try:
        async for _ in session.send(text, attachments):
            pass
    finally:
        written(session)


def image_parts(body: dict[str, Any]) -> list[str]:
    return [part["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
            for part in m["content"] if part["type"] == "image_url"]


def count(store: HistoryStore, table: str) -> int:
    return int(store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def test_an_edited_message_keeps_its_files(fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("A blue square."), Reply("Square and blue."))
    photo = image(512, 512)
    session = make_session(store, model="gpt-4o")
    await send(session, "what is this?", (photo,))
    first_url = image_parts(fake.last_body)
    async for _ in session.edit(session.conversation.messages[0], "what colour is this?"):
        pass
    written(session)

    assert image_parts(fake.last_body) == first_url  # the edit is the same question, with its picture
    assert session.conversation.messages[0].attachments == (photo,)
    stored = store.load(recorder_of(session).conversation_id)
    assert stored.conversation.messages[0].attachments == (photo,)


async def test_a_resumed_conversation_sends_the_same_image_again(fake: FakeOpenAI, make_session: Any,
                                                                 store: HistoryStore) -> None:
    fake.queue(Reply("A blue square."), Reply("Still blue."))
    photo, script = image(1500, 900, detail="high"), text_file()
    session = make_session(store, model="gpt-4o")
    await send(session, "what is this?", (photo, script))
    first_url = image_parts(fake.last_body)
    first_text = fake.last_body["messages"][-1]["content"][0]["text"]
    stored = store.load(recorder_of(session).conversation_id)

    later = make_session(store, model="gpt-4o")
    resume(later, stored)
    await send(later, "and now?")

    assert image_parts(fake.last_body) == first_url
    resent = next(m for m in fake.last_body["messages"] if m["role"] == "user")
    assert resent["content"][0]["text"] == first_text  # the text file, inlined again
    user = stored.conversation.messages[0]
    assert user.attachments == (photo, script)
    assert [(a.name, a.kind, a.mime, a.width, a.height, a.detail, a.language) for a in user.attachments] == [
        ("photo.png", "image", "image/png", photo.width, photo.height, "high", ""),
        ("main.py", "text", "text/plain", 0, 0, "auto", "python")]
    # Counted for the model it was sent to: gpt-4o's tiles (1280x768 after scaling: 3 x 2 tiles).
    assert [a.tokens for a in user.attachments] == [85 + 6 * 170, None]


async def test_the_same_content_is_stored_once_and_goes_with_its_last_message(fake: FakeOpenAI, make_session: Any,
                                                                              store: HistoryStore) -> None:
    fake.queue(Reply("one"), Reply("two"))
    session = make_session(store, model="gpt-4o")
    await send(session, "first", (image(name="a.png"),))
    await send(session, "again", (image(name="b.png"), image(name="c.png", colour=(255, 0, 0))))

    assert (count(store, "attachments"), count(store, "blobs")) == (3, 2)
    names = [a.name for m in store.load(recorder_of(session).conversation_id).conversation.messages
             for a in m.attachments]
    assert names == ["a.png", "b.png", "c.png"]

    store.delete(recorder_of(session).conversation_id)
    assert (count(store, "attachments"), count(store, "blobs")) == (0, 0)


async def test_a_message_taken_back_unsent_leaves_no_blob(fake: FakeOpenAI, make_session: Any,
                                                         store: HistoryStore) -> None:
    fake.queue(Reply("kept"))  # the second request finds the queue empty: the fake answers 500
    session = make_session(store, model="gpt-4o")
    await send(session, "first")
    with pytest.raises(Exception):  # noqa: B017 - whichever error: nothing came back
        await send(session, "lost", (image(),))

    assert (count(store, "attachments"), count(store, "blobs")) == (0, 0)


def digest(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


async def test_json_export_holds_each_file_once_in_base64_and_imports_back(fake: FakeOpenAI, make_session: Any,
                                                                           store: HistoryStore,
                                                                           tmp_path: Path) -> None:
    fake.queue(Reply("ok"), Reply("ok again"))
    photo, script = image(800, 600, detail="low"), text_file()
    session = make_session(store, model="gpt-4o")
    await send(session, "look", (photo, script))
    await send(session, "the same photo", (photo,))
    stored = store.load(recorder_of(session).conversation_id)

    data = to_json(stored)

    assert set(data["blobs"]) == {digest(photo.data), digest(script.data)}
    assert base64.b64decode(data["blobs"][digest(photo.data)]) == photo.data
    assert data["messages"][0]["attachments"][0] == {
        "name": "photo.png", "kind": "image", "mime": "image/png", "width": 512, "height": 384, "detail": "low",
        "language": "", "tokens": 85, "blob": digest(photo.data)}
    assert [a["blob"] for a in data["messages"][2]["attachments"]] == [digest(photo.data)]

    other = HistoryStore(tmp_path / "other.db")
    try:
        imported = other.load(import_json(other, json.loads(json.dumps(data))))
        assert export_fields(to_json(imported)) == export_fields(data)
        assert imported.conversation.messages[0].attachments == (photo, script)
        assert (count(other, "attachments"), count(other, "blobs")) == (3, 2)
    finally:
        other.close()


async def test_a_tree_export_keeps_the_files_of_every_branch(fake: FakeOpenAI, make_session: Any,
                                                            store: HistoryStore) -> None:
    fake.queue(Reply("first"), Reply("second"))
    session = make_session(store, model="gpt-4o")
    await send(session, "look", (image(),))
    async for _ in session.regenerate():
        pass
    written(session)
    stored = store.load(recorder_of(session).conversation_id)

    data = to_json(stored, tree=True)
    again = store.load(import_json(store, data))

    assert again.conversation.messages[0].attachments == stored.conversation.messages[0].attachments
    assert count(store, "blobs") == 1


@pytest.mark.parametrize(("change", "fault"), [
    (lambda d: d["blobs"].update({next(iter(d["blobs"])): base64.b64encode(b"other").decode()}), "another sha256"),
    (lambda d: d["blobs"].update({next(iter(d["blobs"])): "not base64!"}), "not base64"),
    (lambda d: d["messages"][0]["attachments"][0].update(blob="0" * 64), "names no blob"),
    (lambda d: d["messages"][0]["attachments"][0].update(kind="video"), "unknown kind"),
    (lambda d: d["blobs"].clear(), "names no blob"),
])
async def test_an_import_refuses_files_the_export_would_not_hold(fake: FakeOpenAI, make_session: Any,
                                                                 store: HistoryStore, change: Any,
                                                                 fault: str) -> None:
    fake.queue(Reply("ok"))
    session = make_session(store, model="gpt-4o")
    await send(session, "look", (image(),))
    data = to_json(store.load(recorder_of(session).conversation_id))
    before = store.count()
    change(data)

    with pytest.raises(ValueError, match=fault):
        import_json(store, data)
    assert store.count() == before


async def test_markdown_export_writes_the_files_beside_it_and_links_them(fake: FakeOpenAI, make_session: Any,
                                                                        store: HistoryStore,
                                                                        tmp_path: Path) -> None:
    fake.queue(Reply("ok"))
    photo = prepare(png(40, 30), "shots/my photo.png", CATALOGUE["gpt-4o"])
    piped = prepare(png(20, 20, (255, 0, 0)), "stdin", CATALOGUE["gpt-4o"])
    session = make_session(store, model="gpt-4o")
    await send(session, "look", (photo, piped, text_file("notes")))
    stored = store.load(recorder_of(session).conversation_id)
    out = tmp_path / "out"
    out.mkdir()
    (out / "chat_files").mkdir()
    (out / "chat_files" / "my photo.png").write_bytes(b"something else, kept")

    files = save(stored, "md", out / "chat.md")

    folder = out / "chat_files"
    assert sorted(p.name for p in files) == ["my photo-2.png", "notes.txt", "stdin.png"]
    assert (folder / "my photo.png").read_bytes() == b"something else, kept"
    assert (folder / "my photo-2.png").read_bytes() == photo.data
    assert (folder / "stdin.png").read_bytes() == piped.data
    markdown = (out / "chat.md").read_text()
    assert "- attached: ![shots/my photo.png (image/png, 40x30)](chat_files/my%20photo-2.png)" in markdown
    assert "- attached: [notes (text/plain)](chat_files/notes.txt)" in markdown
    # Without files written, each is still named.
    assert "- attached: stdin (image/png, 20x20)" in to_markdown(stored)


def test_a_history_from_before_attachments_opens_with_none(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "history.db", isolation_level=None)
    for version in range(1, SCHEMA_VERSION):
        db.executescript(MIGRATIONS[version])
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    db.execute("INSERT INTO conversations (id, title, created, updated, model, preset) VALUES (1, 't', 0, 0,"
               " 'gpt-4o', 'default')")
    db.execute("INSERT INTO messages (id, conversation_id, role, content, created) VALUES (1, 1, 'user', 'hi', 0)")
    db.execute("UPDATE conversations SET active_leaf = 1")
    db.close()

    store = HistoryStore(tmp_path / "history.db")
    try:
        assert store.version == SCHEMA_VERSION
        assert store.load(1).conversation.messages[0].attachments == ()
    finally:
        store.close()
