"""Attaching files in the app: the picker, `@` completion, a pasted path, the chips above the prompt (with what
each costs the current model), removing one, sending, and every refusal leaving the prompt as it was."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from textual import events
from textual.widgets import Static

from chatbot.ui.screens.attach import AttachScreen, FilteredTree
from chatbot.ui.widgets.attachment_chips import AttachmentChips
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.thumbnail import Thumbnail
from fake_openai import FakeOpenAI, Reply
from support import Notified, app_for, chat_screen, status, until, wait_turn

SIZE = (120, 36)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 128, 255)).save(out, "PNG")
    return out.getvalue()


def chips(app: Any) -> AttachmentChips:
    return app.query_one("#chips", AttachmentChips)


def chip_texts(row: AttachmentChips) -> list[str]:
    return [str(part).strip() for part in str(row.render()).split("  ") if part.strip()]


def image_urls(body: dict[str, Any]) -> list[str]:
    return [p["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
            for p in m["content"] if p["type"] == "image_url"]


async def attach_with_picker(pilot: Any, typed: str) -> None:
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(pilot.app.screen, AttachScreen), "the picker")
    await pilot.press(*typed)
    await pilot.press("enter")


async def open_picker(pilot: Any, listed: int) -> FilteredTree:
    """f5, and the picker's tree once it lists the `listed` entries of the folder."""
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(pilot.app.screen, AttachScreen), "the picker")
    tree = pilot.app.screen.query_one(FilteredTree)
    await until(pilot, lambda: len(tree.root.children) == listed, "the folder listed")
    return tree


async def test_the_picker_filters_as_you_type_and_attaches_the_file_picked(make_settings: Any) -> None:
    Path("photo.png").write_bytes(png(1024, 1024))
    Path("notes.md").write_text("# notes\n")
    Path("docs").mkdir()
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_picker(pilot, listed=3)
        await pilot.press(*"PHO")
        await until(pilot, lambda: sorted(str(n.label) for n in tree.root.children) == ["docs", "photo.png"],
                    "the filter applied")
        await pilot.press("down")  # to the tree
        assert app.screen.focused is tree
        node = next(n for n in tree.root.children if str(n.label) == "photo.png")
        tree.move_cursor(node)
        await pilot.press("enter")
        await until(pilot, lambda: chips(app).attachments, "the file attached")

        assert not isinstance(app.screen, AttachScreen)
        assert app.focused is app.query_one(PromptInput)
        # 1024x1024 at auto on gpt-4o: downscaled to the 768x768 it is counted at, 4 tiles: 85 + 4 x 170.
        (chip,) = chip_texts(chips(app))
        assert chip.startswith("photo.png · ") and chip.endswith(" KB · 768\u00d7768 · 765 tok")
        assert "attached ~765" in status(app)


async def test_enter_on_a_filter_that_leaves_one_file_attaches_it(make_settings: Any) -> None:
    Path("red.png").write_bytes(png(30, 20))
    Path("notes.md").write_text("# notes\n")
    Path("work").mkdir()
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_picker(pilot, listed=3)
        await pilot.press(*"e")  # red.png, notes.md and the folder work
        await until(pilot, lambda: len(tree.root.children) == 3, "the filter applied")
        await pilot.press("enter")  # two files: the tree, on the first file, not on the folder
        assert app.screen.focused is tree and tree.cursor_node is not None
        assert tree.cursor_node.data is not None and tree.cursor_node.data.path.name == "notes.md"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AttachScreen), "the picker closed")

        await attach_with_picker(pilot, "png")  # one file left: enter attaches it
        await until(pilot, lambda: chips(app).attachments, "the file attached")
        assert [a.name for a in chips(app).attachments] == ["red.png"]


async def test_the_palette_opens_the_picker_and_a_typed_path_attaches(make_settings: Any) -> None:
    from support import run_command

    Path("sub").mkdir()
    Path("sub/main.py").write_text("print('hi')\n")
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "Attach file")
        assert isinstance(app.screen, AttachScreen)
        await pilot.press(*"sub/main.py", "enter")
        await until(pilot, lambda: chips(app).attachments, "the file attached")

        (attached,) = chips(app).attachments
        assert (attached.name, attached.kind, attached.language) == ("sub/main.py", "text", "python")
        assert chips(app).tokens[0] is not None and chips(app).tokens[0] > 0


async def test_a_chip_is_removed_from_its_row_and_the_estimate_follows(make_settings: Any) -> None:
    Path("a.png").write_bytes(png(512, 512))
    Path("b.png").write_bytes(png(1024, 1024))
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        for name in ("a.png", "b.png"):
            await attach_with_picker(pilot, name)
            await until(pilot, lambda n=name: any(a.name == n for a in chips(app).attachments), name)
        assert "attached ~1,020" in status(app)  # 255 + 765
        prompt = app.query_one(PromptInput)
        prompt.insert("keep this text")

        await pilot.press("shift+tab")  # from the prompt to the row above it
        assert app.focused is chips(app)
        await pilot.press("shift+tab")  # on up, to the message cursor, and back down to the row
        assert app.focused is app.screen.transcript
        await pilot.press("escape")
        assert app.focused is prompt
        await pilot.press("ctrl+up")
        assert app.focused is chips(app)
        await pilot.press("right", "delete")

        assert [a.name for a in chips(app).attachments] == ["a.png"]
        assert "attached ~255" in status(app)
        await pilot.press("backspace")
        assert chips(app).attachments == [] and not chips(app).display
        assert app.focused is prompt and prompt.text == "keep this text"
        assert "attached" not in status(app)


async def test_sending_takes_the_files_with_the_message_and_the_transcript_shows_them(
        fake: FakeOpenAI, make_settings: Any) -> None:
    Path("photo.png").write_bytes(png(800, 600))
    fake.queue(Reply("A blue rectangle."))
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        await attach_with_picker(pilot, "photo.png")
        await until(pilot, lambda: chips(app).attachments, "the file attached")
        sent = chips(app).attachments[0]
        app.query_one(PromptInput).insert("what is this?")
        await pilot.press("enter")
        await wait_turn(pilot)

        user = next(m for m in fake.last_body["messages"] if m["role"] == "user")
        assert user["content"][0] == {"type": "text", "text": "what is this?"}
        assert image_urls(fake.last_body) == [sent.data_url()]
        assert chips(app).attachments == [] and "attached" not in status(app)
        view = chat_screen(app).transcript.views()[0]
        (row,) = view.query(AttachmentChips)
        assert chip_texts(row)[0].startswith("photo.png") and chip_texts(row)[0].endswith("tok")


async def test_a_binary_file_is_refused_with_its_reason_and_the_prompt_keeps_its_text(make_settings: Any) -> None:
    Path("blob.bin").write_bytes(b"\x00\x01\x02binary")
    notified = Notified()
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        app.query_one(PromptInput).insert("half a thought")
        await attach_with_picker(pilot, "blob.bin")
        await until(pilot, lambda: notified.errors, "the refusal")

        assert "cannot attach blob.bin: it is a binary file, neither text nor an image" in notified.errors[0]
        assert chips(app).attachments == []
        assert app.query_one(PromptInput).text == "half a thought"


async def test_an_image_for_a_model_without_vision_is_refused_when_attached(make_settings: Any) -> None:
    Path("photo.png").write_bytes(png(64, 64))
    notified = Notified()
    app = app_for(make_settings, model="text-only", models={"text-only": {"vision": False}})
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        app.query_one(PromptInput).insert("look")
        await attach_with_picker(pilot, "photo.png")
        await until(pilot, lambda: notified.errors, "the refusal")

        assert "model 'text-only' does not accept images (photo.png)" in notified.errors[0]
        assert chips(app).attachments == [] and app.query_one(PromptInput).text == "look"


async def test_a_message_refused_at_send_gives_back_its_text_and_its_files(fake: FakeOpenAI,
                                                                         make_settings: Any) -> None:
    Path("photo.png").write_bytes(png(64, 64))
    app = app_for(make_settings, model="gpt-4o", models={"text-only": {"vision": False}})
    async with app.run_test(size=SIZE) as pilot:
        await attach_with_picker(pilot, "photo.png")
        await until(pilot, lambda: chips(app).attachments, "the file attached")
        chat_screen(app)._model_chosen("text-only")  # switched after attaching
        app.query_one(PromptInput).insert("look")
        await pilot.press("enter")
        await wait_turn(pilot)

        assert fake.requests == [] or all(r.path != "/v1/chat/completions" for r in fake.requests)
        assert app.query_one(PromptInput).text == "look"
        assert [a.name for a in chips(app).attachments] == ["photo.png"]


async def test_at_and_a_path_completes_with_tab_and_attaches_the_file(make_settings: Any) -> None:
    Path("pictures").mkdir()
    Path("pictures/photo.png").write_bytes(png(64, 64))
    Path("pictures/plan.txt").write_text("plan\n")
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"compare @pic", "tab")
        assert prompt.text == "compare @pictures/"
        await pilot.press("p", "tab")  # photo.png and plan.txt: listed, nothing chosen
        assert prompt.text == "compare @pictures/p"
        assert "photo.png  plan.txt" in str(prompt.border_subtitle)
        await pilot.press("h", "tab")
        await until(pilot, lambda: chips(app).attachments, "the file attached")

        assert prompt.text == "compare @pictures/photo.png "
        assert [a.name for a in chips(app).attachments] == ["pictures/photo.png"]
        assert app.focused is prompt  # tab completed: the focus stayed


async def test_tab_without_an_at_path_still_moves_the_focus(make_settings: Any) -> None:
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"an email@", " ", "tab")
        assert app.focused is not prompt
        assert prompt.text == "an email@ "


async def test_a_pasted_path_of_a_file_is_offered_and_its_key_attaches_it(make_settings: Any) -> None:
    Path("my photo.png").write_bytes(png(64, 64))
    notified = Notified()
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.insert("see ")
        pasted = f"'{Path.cwd() / 'my photo.png'}'"
        prompt.post_message(events.Paste(pasted))
        await until(pilot, lambda: notified.messages, "the offer")
        assert notified.messages == ["my photo.png is a file: f5 attaches it"]
        assert prompt.text == "see " + pasted

        await pilot.press("f5")
        await until(pilot, lambda: chips(app).attachments, "the file attached")

        assert [a.name for a in chips(app).attachments] == ["my photo.png"]
        assert prompt.text == "see "
        assert not isinstance(app.screen, AttachScreen)


async def test_pasted_text_that_names_no_file_offers_nothing(make_settings: Any) -> None:
    notified = Notified()
    app = app_for(make_settings)
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        app.query_one(PromptInput).post_message(events.Paste("/no/such/file.png"))
        await pilot.pause()
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, AttachScreen), "the picker")
        assert notified.messages == []


# -- what the prompt completes, and which pastes name a file ---------------------------------------------------


def test_the_fragment_is_the_path_after_an_at_that_the_cursor_ends() -> None:
    from chatbot.ui.path_completion import fragment_before

    assert fragment_before("look at @src/ma") == "src/ma"
    assert fragment_before("@") == ""
    assert fragment_before("mail me@host") is None  # an @ inside a word starts no path
    assert fragment_before("@done and more") is None  # the cursor is past it


def test_completion_goes_as_far_as_the_matches_agree(tmp_path: Path) -> None:
    from chatbot.ui.path_completion import complete

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("")
    (tmp_path / "src" / "models.py").write_text("")
    (tmp_path / "src" / ".hidden").write_text("")

    assert complete("sr", tmp_path).fragment == "src/"
    several = complete("src/m", tmp_path)
    assert (several.fragment, several.names, several.file) == ("src/m", ("main.py", "models.py"), None)
    one = complete("src/mo", tmp_path)
    assert (one.fragment, one.file) == ("src/models.py", tmp_path / "src" / "models.py")
    assert complete("src/", tmp_path).names == ("main.py", "models.py")  # hidden files only when asked for
    assert complete("src/.", tmp_path).names == (".hidden",)
    assert complete("nothing/here", tmp_path).names == ()


def test_a_paste_names_a_file_as_terminals_paste_a_dropped_one(tmp_path: Path) -> None:
    from chatbot.ui.attaching import pasted_path

    photo = tmp_path / "my photo.png"
    photo.write_bytes(b"x")
    for pasted in (str(photo), f"'{photo}'", f'"{photo}"', str(photo).replace(" ", "\\ "), f"file://{photo}",
                   f"  {photo}\n", "my photo.png"):
        assert pasted_path(pasted, tmp_path) == photo, pasted
    for pasted in ("", "not a file", str(tmp_path), f"{photo}\n{photo}", "x" * 5000):
        assert pasted_path(pasted, tmp_path) is None, pasted


async def test_a_sent_image_is_drawn_small_in_half_cells_unless_the_setting_is_off(fake: FakeOpenAI,
                                                                                  make_settings: Any) -> None:
    from chatbot.ui.widgets.thumbnail import UPPER_HALF, Thumbnail

    Path("photo.png").write_bytes(png(300, 100))
    for thumbnails in (True, False):
        fake.queue(Reply("A blue strip."))
        app = app_for(make_settings, model="gpt-4o", attachments={"thumbnails": thumbnails})
        async with app.run_test(size=SIZE) as pilot:
            await attach_with_picker(pilot, "photo.png")
            await until(pilot, lambda a=app: chips(a).attachments, "the file attached")
            app.query_one(PromptInput).insert("what is this?")
            await pilot.press("enter")
            await wait_turn(pilot)
            view = chat_screen(app).transcript.views()[0]
            drawn = list(view.query(Thumbnail))
            if not thumbnails:
                assert drawn == []
                continue
            await until(pilot, lambda d=drawn: d[0].cells, "the thumbnail drawn")
            # 300x100 fitted in 24x12 pixels: 24 x 8, two pixels a cell: 24 cells in 4 rows.
            assert len(drawn[0].cells) == 4 and all(len(row) == 24 for row in drawn[0].cells)
            assert set(str(drawn[0].render()).replace("\n", "")) == {UPPER_HALF}
            assert drawn[0].cells[0][0] == ((0, 128, 255), (0, 128, 255))


async def test_the_picker_shows_the_image_under_its_cursor_with_what_it_costs(make_settings: Any) -> None:
    Path("photo.png").write_bytes(png(1024, 1024))
    Path("notes.md").write_text("# notes\n")
    app = app_for(make_settings, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_picker(pilot, listed=2)
        screen = app.screen
        assert isinstance(screen, AttachScreen)
        text = screen.query_one("#attach-preview-text", Static)
        tree.move_cursor(next(n for n in tree.root.children if str(n.label) == "photo.png"))
        await until(pilot, lambda: screen.previewed == Path("photo.png").resolve()
                    and all(t.cells for t in screen.query(Thumbnail)), "the image previewed")
        (thumbnail,) = screen.query(Thumbnail)
        assert thumbnail.cells[0][0] == ((0, 128, 255), (0, 128, 255))  # the image's blue, in half cells
        lines = str(text.render()).splitlines()
        size = Path("photo.png").stat().st_size
        assert lines == [f"{size / 1000:.1f} KB", "768\u00d7768 as sent", "765 tok on gpt-4o"]

        tree.move_cursor(next(n for n in tree.root.children if str(n.label) == "notes.md"))
        await until(pilot, lambda: screen.previewed is None, "the preview cleared")
        assert not screen.query(Thumbnail)
        assert str(text.render()) == ""


async def test_the_picker_says_why_an_image_would_not_be_attached(make_settings: Any) -> None:
    Path("photo.png").write_bytes(png(64, 64))
    app = app_for(make_settings, model="text-only", models={"text-only": {"vision": False}})
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_picker(pilot, listed=1)
        screen = app.screen
        assert isinstance(screen, AttachScreen)
        text = screen.query_one("#attach-preview-text", Static)
        tree.move_cursor(tree.root.children[0])
        await until(pilot, lambda: "image" in str(text.render()), "the refusal shown")
        assert "text-only" in str(text.render())
        assert screen.previewed is None
