"""MCP tools as the model sees them, and a result's content as the model reads it."""

from __future__ import annotations

from mcp.types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
    Tool,
    ToolAnnotations,
)

from chatbot.core.tools.definitions import exposed_name, parameters_of, result_text, spec_of


def test_names_fit_what_the_api_takes() -> None:
    assert exposed_name("files", "read_file") == "files__read_file"
    assert exposed_name("web", "fetch.page/v2") == "web__fetch_page_v2"
    assert len(exposed_name("s" * 32, "t" * 80)) == 64


def test_a_bare_object_schema_gains_properties() -> None:
    assert parameters_of({"type": "object"}) == {"type": "object", "properties": {}}
    assert parameters_of(None) == {"type": "object", "properties": {}}
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert parameters_of(schema) == schema


def test_a_tool_without_description_is_described_by_its_title() -> None:
    tool = Tool(name="now", title=None, input_schema={"type": "object"},
                annotations=ToolAnnotations(title="The time now", read_only_hint=True))
    spec = spec_of("clock", tool)
    assert (spec.name, spec.description, spec.read_only) == ("clock__now", "The time now", True)


def test_a_result_reads_as_text_whatever_its_blocks() -> None:
    result = CallToolResult(content=[
        TextContent(text="first"),
        ImageContent(data="AAAA", mime_type="image/png"),
        EmbeddedResource(resource=TextResourceContents(uri="file:///a.txt", text="inside")),
    ])
    assert result_text(result) == "first\n[image of type image/png]\ninside"


def test_a_structured_result_alone_is_its_json() -> None:
    result = CallToolResult(content=[], structured_content={"temperature": 21})
    assert result_text(result) == '{"temperature": 21}'
