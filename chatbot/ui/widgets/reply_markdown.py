"""The Markdown widget an assistant reply renders in: Textual's, with tables and plain lists drawn as one widget.

Textual builds a table from a widget per cell and a list from four widgets per item, and widgets are what a
streaming reply pays for: styling and laying out a few hundred of them cost more than all the reply's text.
Here a table, and a list whose items hold only paragraphs and plain lists, is one block drawing Rich
renderables, which wrap to the width they are given. A list holding code or quotes keeps Textual's widgets.
A table's cells are not even built as widgets: the parser hands each table over as one token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, cast

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich import box
from rich.console import Console, ConsoleOptions, Group, JustifyMethod, RenderableType
from rich.console import RenderResult as RichResult
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.content import Content
from textual.css.styles import RulesMap
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.style import Style
from textual.widget import AwaitMount, Widget
from textual.widgets import Markdown

# Not exported by textual.widgets.markdown, but the documented way to change a block is to subclass it.
from textual.widgets._markdown import (
    MarkdownBulletList,
    MarkdownListItem,
    MarkdownOrderedList,
    MarkdownParagraph,
    MarkdownTable,
)
from textual.widgets.markdown import MarkdownBlock

from chatbot.ui.widgets.reply_parser import TABLE, reply_parser


def rich_text(widget: MarkdownBlock, content: Content) -> Text:
    """Inline Markdown as Rich Text, its styles (code, emphasis) resolved against `widget`'s component classes."""
    text = Text(content.plain)
    for start, end, style in content.spans:
        if isinstance(style, Style):
            text.stylize(style.rich_style, start, end)
        elif style.startswith("."):
            text.stylize(widget.get_component_rich_style(style[1:], partial=True), start, end)
        else:
            text.stylize(RichStyle.parse(style), start, end)
    return text


class Drawn:
    """A block's renderable, drawn once per width: Textual renders it to measure its height and again to show
    it (a table or a list of a few items is milliseconds each time), and a streaming reply's new blocks are
    measured and shown in the same frame."""

    def __init__(self, block: DrawnBlock, renderable: RenderableType) -> None:
        self.block = block
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RichResult:
        drawn = self.block._drawn
        if drawn is None:
            drawn = self.block._drawn = {}
        key = (console, options.max_width)
        if key not in drawn:
            drawn[key] = list(console.render(self.renderable, options))
        yield from drawn[key]


class DrawnBlock(MarkdownBlock):
    """A block drawn by one Rich renderable (a Drawn). Its height and its lines are kept per width until its
    content or its styles change: Textual drops a widget's cached height whenever it is restyled, which happens
    to every block of a reply each time a block is added, and measuring a table means rendering it."""

    _heights: dict[int, int] | None = None
    _drawn: dict[tuple[Console, int], list[Segment]] | None = None  # its lines (styles drawn in), per width

    def changed(self) -> None:
        self._heights = self._drawn = None
        self.refresh(layout=True)

    def notify_style_update(self) -> None:
        self._drawn = None  # drawn with the component classes' styles, which a theme changes
        super().notify_style_update()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self.children:  # composed from widgets after all: they are measured as usual
            return super().get_content_height(container, viewport, width)
        if self._heights is None:
            self._heights = {}
        if width not in self._heights:
            self._heights[width] = super().get_content_height(container, viewport, width)
        return self._heights[width]


class ReplyTable(DrawnBlock, MarkdownTable):
    """A Markdown table drawn by one widget, built from its token."""

    COMPONENT_CLASSES = MarkdownBlock.COMPONENT_CLASSES | {"markdown-table--header", "markdown-table--lines"}
    DEFAULT_CSS = """
    ReplyTable {
        width: 1fr;
        height: auto;
        margin-bottom: 1;
        & > .markdown-table--header { color: $primary; text-style: bold; }
        & > .markdown-table--lines { color: $foreground 30%; }
    }
    """

    def __init__(self, markdown: Markdown, token: Token) -> None:
        super().__init__(markdown, token)
        self._headers: list[Content] = []
        self._rows: list[list[Content]] = []
        # Each column's alignment from the delimiter row (`:--`, `:-:`, `--:`), as the parser marks header cells.
        self._justify: list[JustifyMethod] = []
        head = False
        for cell in token.children or []:
            if cell.type in ("thead_open", "thead_close"):
                head = cell.type == "thead_open"
            elif cell.type == "th_open":
                style = str(cell.attrGet("style") or "")
                self._justify.append("right" if "right" in style else "center" if "center" in style else "left")
            elif cell.type == "tr_open" and not head:
                self._rows.append([])
            elif cell.type == "inline":
                (self._headers if head else self._rows[-1]).append(self._token_to_content(cell))

    def compose(self) -> ComposeResult:
        return iter(())  # drawn by render(), not by Textual's table of cell widgets

    def render(self) -> RenderableType:
        table = Table(box=box.ROUNDED, expand=False, show_edge=True, pad_edge=True,
                      header_style=self.get_component_rich_style("markdown-table--header", partial=True),
                      border_style=self.get_component_rich_style("markdown-table--lines", partial=True))
        # The alignments padded with "left", longer than the headers on purpose: not strict.
        for header, justify in zip(self._headers, self._justify + ["left"] * len(self._headers), strict=False):
            table.add_column(rich_text(self, header), overflow="fold", justify=justify)
        width = len(self._headers)
        for row in self._rows:
            cells = [rich_text(self, cell) for cell in row[:width]]
            table.add_row(*cells, *([""] * (width - len(cells))))
        return Drawn(self, table)

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        if isinstance(block, ReplyTable):
            # A streaming table grows a row at a time: take the new rows and redraw, no widgets change.
            self._headers, self._rows, self._justify = block._headers, block._rows, block._justify
            self.changed()
        else:
            await super()._update_from_block(block)


# An item: its bullet, and its paragraphs and nested lists in order.
Item = tuple[str, list["Content | list[Item]"]]


def plain_items(block: MarkdownBlock) -> list[Item] | None:
    """The items of a list block if they hold only paragraphs and such lists, else None."""
    items: list[Item] = []
    ordered = isinstance(block, MarkdownOrderedList)
    entries = [b for b in block._blocks if isinstance(b, MarkdownListItem)]
    start = 1
    if ordered and entries:
        with contextlib.suppress(ValueError):
            start = int(entries[0].bullet)
    numbers = [f"{n}. " for n in range(start, start + len(entries))]
    size = max(map(len, numbers), default=0)
    for number, entry in zip(numbers, entries, strict=True):
        parts: list[Content | list[Item]] = []
        for child in entry._blocks:
            if isinstance(child, MarkdownParagraph):
                parts.append(child._content)
            elif isinstance(child, (MarkdownBulletList, MarkdownOrderedList)):
                nested = plain_items(child)
                if nested is None:
                    return None
                parts.append(nested)
            else:
                return None
        items.append((number.rjust(size + 1) if ordered else entry.bullet, parts))
    return items


class ReplyList(DrawnBlock):
    """A list of paragraphs and plain lists, drawn as one widget; any other list is composed as Textual does."""

    COMPONENT_CLASSES = MarkdownBlock.COMPONENT_CLASSES | {"markdown-bullet"}
    DEFAULT_CSS = """
    ReplyList {
        margin: 0 0 1 0;
        & > .markdown-bullet { color: $text-primary; }
        &:light > .markdown-bullet { color: $text-secondary; }
    }
    """
    _items: list[Item] | None = None

    def compose(self) -> ComposeResult:
        self._items = plain_items(self)
        if self._items is None:
            return super().compose()
        self._blocks.clear()
        return iter(())

    def render(self) -> RenderResult:
        if self._items is None:
            return super().render()
        return Drawn(self, self._grid(self._items))

    def _grid(self, items: Iterable[Item]) -> Table:
        bullet_style = self.get_component_rich_style("markdown-bullet", partial=True)
        grid = Table.grid()
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1)
        for bullet, parts in items:
            body = [rich_text(self, part) if isinstance(part, Content) else self._grid(part) for part in parts]
            grid.add_row(Text(bullet, bullet_style), Group(*body))
        return grid


class ReplyBulletList(ReplyList, MarkdownBulletList):
    pass


class ReplyOrderedList(ReplyList, MarkdownOrderedList):
    pass


def reserved(height: int, viewport_height: int) -> int:
    """`height` rounded up to the step a streaming reply grows by: a sixth of the screen, at least two lines."""
    step = max(2, viewport_height // 6)
    return -(-height // step) * step


class ReplyParagraph(MarkdownParagraph):
    """A paragraph whose new text takes as many lines as the old is redrawn without a layout. A streaming
    reply's last paragraph changes on every frame and wraps to a new line on some of them; a layout measures and
    places every widget of the transcript, most of what a frame cost at a model's pace. While it is the last
    block of a streaming reply its height is rounded up as the reply's is (see ReplyMarkdown), so most wraps
    land in a blank line it holds already and need no layout either."""

    _viewport_height = 0  # the viewport's height at the last measure: what the step is a sixth of
    held = 0  # blank lines below the text at the last measure, held for the stream

    def _reserving(self) -> bool:
        markdown = self._markdown
        return isinstance(markdown, ReplyMarkdown) and markdown.streaming and markdown.children[-1:] == [self]

    def _tall(self, height: int) -> int:
        """The content height to take for text `height` lines tall: with its margin, a whole number of steps."""
        if not self._reserving():
            return height
        margin = self.styles.margin.bottom
        return reserved(height + margin, self._viewport_height) - margin

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._viewport_height = viewport.height
        height = super().get_content_height(container, viewport, width)
        self.held = self._tall(height) - height
        return height + self.held

    def set_content(self, content: Content) -> None:
        size = self.content_size
        # Measured as Widget.get_content_height measures a Static's text (its styles are the rules it wraps by).
        rules = cast("RulesMap", self.styles)
        same_height = False
        if self.is_mounted and size.width > 0:
            same_height = self._tall(content.get_height(rules, size.width)) == size.height
        self._content = content
        self.update(content, layout=not same_height)


class ReplyMarkdown(Markdown):
    """Markdown for assistant replies.

    While a reply streams, its height is rounded up to a step of a few lines (a sixth of the screen): the text
    grows into blank lines below it, and the transcript above moves once a step, not once a line. Every move
    redraws every row of the transcript, so at a line a time a reply's bytes to the terminal were mostly those.
    """

    streaming = False  # set by the reply's view while text streams into it

    def stop_reserving(self) -> None:
        """The stream is over: as tall as the text again."""
        if self.streaming:
            self.streaming = False
            self.refresh(layout=True)
            if self.children:
                self.children[-1].refresh(layout=True)  # a paragraph that held lines for the stream gives them up

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        height = super().get_content_height(container, viewport, width)
        if not self.streaming:
            return height
        # The lines a last paragraph holds count as the reply's own reserve, not as text to reserve more for.
        last = self.children[-1] if self.children else None
        held = last.held if isinstance(last, ReplyParagraph) else 0
        return max(height, reserved(height - held, viewport.height))

    def mount_all(self, widgets: Iterable[Widget], *, before: int | str | Widget | None = None,
                  after: int | str | Widget | None = None) -> AwaitMount:
        if self.streaming and self.children:
            # The block that was last is no longer: a paragraph gives up the lines it held for the stream.
            self.children[-1].refresh(layout=True)
        return super().mount_all(widgets, before=before, after=after)

    async def settle(self, markdown: str) -> None:
        """Leave the widget showing `markdown` exactly as one full render would.

        A streamed reply is parsed from its last block on each append, so every block but the last was final
        when the next began, and the last was parsed whole by the final append. The full parse here confirms
        that: the widget is rebuilt only if the text differs, the blocks fall differently, or the text defines
        link references (those change inline text anywhere in the document)."""
        # An append still running (the view's frame timer may have started one as the stream ended) has not
        # mounted all its blocks until it lets go of the lock.
        async with self.lock:
            pass
        if markdown == self.source:
            env: dict[str, object] = {}
            # A parser of its own (its linkify state is not shared with the UI thread's appends), run off the UI
            # thread, as Textual's own update() parses: a long reply takes 100 ms and more.
            parser = reply_parser()
            tokens = await asyncio.get_running_loop().run_in_executor(None, parser.parse, markdown, env)
            blocks = [tuple(t.map) for t in tokens if t.level == 0 and t.nesting >= 0 and t.map is not None]
            shown = [block.source_range for block in self.query_children(MarkdownBlock)]
            if blocks == shown and not env.get("references"):
                return
        await self.update(markdown)

    # Textual declares BLOCKS an instance attribute, so a ClassVar here would contradict it.
    BLOCKS = {**Markdown.BLOCKS, "bullet_list_open": ReplyBulletList, "ordered_list_open": ReplyOrderedList,  # noqa: RUF012
              "paragraph_open": ReplyParagraph}

    def __init__(self, markdown: str | None = None, **kwargs: Any) -> None:
        self._parser: MarkdownIt | None = None
        super().__init__(markdown, parser_factory=self._reply_parser, **kwargs)

    def _reply_parser(self) -> MarkdownIt:
        """The reply's parser, made once: Textual asks for a new one on every append, and making one (its rules,
        its link matcher) cost more than parsing the paragraph it was made for. Textual parses under the widget's
        lock, so appends and updates use it one at a time; `settle` parses in a thread and makes its own."""
        if self._parser is None:
            self._parser = reply_parser()
        return self._parser

    def unhandled_token(self, token: Token) -> MarkdownBlock | None:
        if token.type == TABLE:
            return ReplyTable(self, token)
        return super().unhandled_token(token)

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        # Blocks are as tall as their content, so the height this widget is given changes nothing in how they
        # stack. Left in, it is part of every block's cached box model, and this widget's height changes on
        # every frame of a streaming reply: each frame would measure every block of the reply again.
        return super().arrange(Size(size.width, 0), optimal)
