"""The parser of a reply's Markdown: Textual's own ("gfm-like"), with each table handed over as one token."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

TABLE = "reply_table"  # one token standing for a whole table, its cells' tokens in `children`


def collapse_tables(state: StateCore) -> None:
    """A markdown-it core rule: each table's run of tokens becomes one token. Textual would otherwise build a
    widget per row and cell (a thousand in a long reply) only for the table to read them and throw them away."""
    tokens: list[Token] = []
    run: list[Token] | None = None
    for token in state.tokens:
        if token.type == "table_open":
            run = [token]
        elif run is not None:
            run.append(token)
            if token.type == "table_close":  # cells hold inline text only, so tables do not nest
                opening = run[0]
                tokens.append(Token(TABLE, "table", 0, map=opening.map, level=opening.level, children=run,
                                    block=True))
                run = None
        else:
            tokens.append(token)
    state.tokens = tokens


def reply_parser() -> MarkdownIt:
    """Textual's own parser ("gfm-like"), with tables as one token each."""
    parser = MarkdownIt("gfm-like")
    parser.core.ruler.push("reply_table", collapse_tables)
    return parser
