"""The reply's Markdown: tables and plain lists drawn as one widget each, streamed and settled like Textual's."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console
from rich.table import Table
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock

from chatbot.ui.widgets import reply_markdown
from chatbot.ui.widgets.reply_markdown import ReplyList, ReplyMarkdown, ReplyTable

TABLE = """\
| call | returns |
|------|---------|
| `xs.sort()` | `None` |
| sorted(xs) | a new list |
"""

LISTS = """\
- first item
- second item
  1. nested one
  2. nested two

3. three
4. four
"""

LIST_WITH_CODE = """\
- an item with code:

  ```python
  print("hi")
  ```
"""


class Page(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield ReplyMarkdown("")


def drawn(block: MarkdownBlock, width: int = 60) -> str:
    """The text a drawn block shows at `width` columns."""
    with open(os.devnull, "w") as nowhere:
        console = Console(width=width, record=True, file=nowhere)
        console.print(block.render())
    return console.export_text()


async def stream(pilot: Any, text: str, piece: int = 7) -> ReplyMarkdown:
    markdown = pilot.app.query_one(ReplyMarkdown)
    writer = Markdown.get_stream(markdown)
    for i in range(0, len(text), piece):
        await writer.write(text[i:i + piece])
    await writer.stop()
    await pilot.pause()
    return markdown


async def test_a_table_is_one_widget_showing_every_row() -> None:
    async with Page().run_test() as pilot:
        markdown = await stream(pilot, TABLE)
        table = markdown.query_one(ReplyTable)
        assert list(table.query("*")) == []  # no widget per cell
        shown = drawn(table)
        for cell in ("call", "returns", "xs.sort()", "None", "sorted(xs)", "a new list"):
            assert cell in shown
        assert shown.index("xs.sort()") < shown.index("sorted(xs)")
        assert table.size.height == len(shown.splitlines())  # laid out at the height it draws


async def test_a_streaming_table_gains_its_rows_as_they_arrive() -> None:
    async with Page().run_test() as pilot:
        markdown = await stream(pilot, TABLE.split("| sorted")[0])
        table = markdown.query_one(ReplyTable)
        assert "a new list" not in drawn(table)
        before = table.size.height
        writer = Markdown.get_stream(markdown)
        await writer.write("| sorted(xs) | a new list |\n")
        await writer.stop()
        await pilot.pause()
        assert markdown.query_one(ReplyTable) is table  # updated in place, not rebuilt
        assert "a new list" in drawn(table)
        assert table.size.height == before + 1


async def test_a_table_inside_a_list_item_is_one_widget_too() -> None:
    nested = "- calls:\n\n" + "".join("  " + line + "\n" for line in TABLE.splitlines()) + "- after\n"
    async with Page().run_test() as pilot:
        markdown = await stream(pilot, nested)
        table = markdown.query_one(ReplyTable)
        assert list(table.query("*")) == []
        assert "a new list" in drawn(table)
        assert markdown.query_one(ReplyList) is table.query_ancestor(ReplyList)  # the list keeps its widgets
        assert markdown.source == nested


async def test_plain_lists_are_drawn_with_bullets_numbers_and_nesting() -> None:
    async with Page().run_test() as pilot:
        markdown = await stream(pilot, LISTS)
        lists = list(markdown.query_children(ReplyList))
        assert len(lists) == 2
        assert all(list(block.query("*")) == [] for block in lists)
        bullets = drawn(lists[0]).splitlines()
        assert bullets[0].startswith("• first item")
        assert bullets[1].startswith("• second item")
        assert bullets[2].strip().startswith("1. nested one") and bullets[2].startswith("  ")
        numbers = drawn(lists[1])
        assert " 3. three" in numbers and " 4. four" in numbers  # an ordered list keeps its start


async def test_a_list_holding_code_keeps_textual_widgets() -> None:
    async with Page().run_test() as pilot:
        markdown = await stream(pilot, LIST_WITH_CODE)
        block = markdown.query_one(ReplyList)
        assert block.query("MarkdownFence")  # composed as Textual does, the code block included


def shown_blocks(markdown: ReplyMarkdown) -> list[tuple[str, str, list[object]]]:
    """Each block of `markdown`: its kind, and its text with the spans that style it (links among them)."""
    shown: list[tuple[str, str, list[object]]] = []
    for block in markdown.query_children(MarkdownBlock):
        if isinstance(block, ReplyTable | ReplyList):
            shown.append((type(block).__name__, drawn(block), []))
        else:
            shown.append((type(block).__name__, block._content.plain, list(block._content.spans)))
    return shown


async def test_a_streamed_reply_is_parsed_by_one_parser_and_shows_what_one_render_of_it_shows(
        monkeypatch: Any) -> None:
    made: list[object] = []
    make = reply_markdown.reply_parser

    def counted() -> Any:
        made.append(None)
        return make()

    monkeypatch.setattr(reply_markdown, "reply_parser", counted)
    text = ("# Title\n\nSee https://example.com and **bold** `code`.\n\n" + TABLE + "\n" + LISTS
            + "\nThe end, at www.example.org.\n")
    async with Page().run_test() as pilot:
        streamed = await stream(pilot, text, piece=5)  # several appends: Textual asks for a parser on each
        assert len(made) == 1
        whole = ReplyMarkdown(text)
        await pilot.app.query_one(VerticalScroll).mount(whole)
        await pilot.pause()
        assert shown_blocks(streamed) == shown_blocks(whole)
        assert any("example.com" in str(span) for _, _, spans in shown_blocks(streamed) for span in spans)


async def test_settle_keeps_a_streamed_reply_that_a_full_render_would_draw_the_same() -> None:
    text = "# Title\n\nA paragraph.\n\n" + TABLE + "\n" + LISTS
    async with Page().run_test() as pilot:
        markdown = await stream(pilot, text)
        blocks = list(markdown.query_children(MarkdownBlock))
        await markdown.settle(text)
        assert list(markdown.query_children(MarkdownBlock)) == blocks  # nothing rebuilt
        assert markdown.source == text


async def test_settle_renders_again_when_the_text_or_its_link_references_differ() -> None:
    first = "See [the docs][d].\n\nMore text.\n"
    async with Page().run_test() as pilot:
        markdown = await stream(pilot, first)
        blocks = list(markdown.query_children(MarkdownBlock))
        await markdown.settle(first)
        assert list(markdown.query_children(MarkdownBlock)) == blocks  # no reference defined: kept

        text = first + "\n[d]: https://example.com\n"
        await stream(pilot, "\n[d]: https://example.com\n")  # appended to what is there
        assert markdown.source == text
        await markdown.settle(text)
        assert markdown.source == text
        assert next(iter(markdown.query_children(MarkdownBlock))) is not blocks[0]  # the references were applied

        await markdown.settle("Something else.")
        assert markdown.source == "Something else."
        assert "Something else." in str(markdown.query_one(MarkdownBlock).render())


def header_color(table: ReplyTable) -> object:
    """The colour the table's first header cell is drawn in, as the screen shows it."""
    strips = table.render_lines(Region(0, 0, table.size.width, table.size.height))
    return next(segment.style.color for strip in strips for segment in strip
                if "call" in segment.text and segment.style is not None)


async def test_a_table_is_drawn_once_for_its_height_and_its_lines_and_again_in_a_new_theme(
        monkeypatch: Any) -> None:
    async with Page().run_test() as pilot:
        pilot.app.theme = "textual-dark"
        markdown = await stream(pilot, TABLE)
        table = markdown.query_one(ReplyTable)
        draw = Table.__rich_console__
        drawings: list[int] = []

        def counted(self: Table, console: Console, options: Any) -> Any:
            drawings.append(options.max_width)
            return draw(self, console, options)

        monkeypatch.setattr(Table, "__rich_console__", counted)
        table.changed()  # as a streaming table's new row does: measured, laid out and drawn again
        await pilot.pause()
        dark = header_color(table)
        assert dark == table.get_component_rich_style("markdown-table--header").color
        assert drawings == [table.size.width]  # Textual renders it to measure it and again to draw it

        pilot.app.theme = "textual-light"
        await pilot.pause()
        light = header_color(table)
        assert light == table.get_component_rich_style("markdown-table--header").color
        assert light != dark


async def test_table_columns_keep_their_alignment() -> None:
    text = "| item | qty | note |\n|:-----|----:|:----:|\n| apple | 12 | x |\n| fig | 3 | yes |\n"
    async with Page().run_test() as pilot:
        markdown = await stream(pilot, text)
        rows = [line for line in drawn(markdown.query_one(ReplyTable)).splitlines() if "apple" in line or "fig" in line]
        apple, fig = (line.split("│")[1:4] for line in rows)
        assert apple[0].startswith(" apple") and fig[0].startswith(" fig")  # left
        assert apple[1].endswith("12 ") and fig[1].endswith(" 3 ")  # right
        assert fig[2].strip() == "yes" and apple[2] == fig[2].replace("yes", " x ")  # centred
