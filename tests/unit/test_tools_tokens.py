"""Tool definitions counted by the OpenAI cookbook's rule ("How to count tokens with tiktoken")."""

from __future__ import annotations

from typing import Any

from chatbot.core.conversation import Message
from chatbot.core.tokens import TokenCounter

# The cookbook's example, and the 101 prompt tokens it reports for gpt-4o.
WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "description": "The unit of temperature to return",
                 "enum": ["celsius", "fahrenheit"]},
    }, "required": ["location"]},
}}
MESSAGES = [Message("system", "You are a helpful assistant that can answer to questions about the weather."),
            Message("user", "What's the weather like in San Francisco?")]


def test_the_cookbook_example_is_101_prompt_tokens_for_gpt_4o() -> None:
    counter = TokenCounter("o200k_base")
    assert counter.count_prompt(MESSAGES) + counter.count_tools([WEATHER]) == 101


def test_no_tools_cost_nothing() -> None:
    assert TokenCounter("o200k_base").count_tools([]) == 0


def test_a_trailing_full_stop_of_a_description_is_not_counted() -> None:
    counter = TokenCounter("o200k_base")
    with_stop = {"type": "function", "function": {**WEATHER["function"],
                                                  "description": "Get the current weather in a given location."}}
    assert counter.count_tools([with_stop]) == counter.count_tools([WEATHER])


def test_a_function_without_properties_costs_its_line_and_the_ends() -> None:
    counter = TokenCounter("o200k_base")
    bare = {"type": "function", "function": {"name": "now", "description": "The time",
                                             "parameters": {"type": "object", "properties": {}}}}
    assert counter.count_tools([bare]) == 7 + counter.count_text("now:The time") + 12


def test_gpt_4_family_functions_start_at_10() -> None:
    o200k, cl100k = TokenCounter("o200k_base"), TokenCounter("cl100k_base")
    bare = {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}
    assert o200k.count_tools([bare]) == 7 + o200k.count_text("now:") + 12
    assert cl100k.count_tools([bare]) == 10 + cl100k.count_text("now:") + 12


def test_a_schema_richer_than_the_rule_is_counted_without_failing() -> None:
    counter = TokenCounter("o200k_base")
    odd = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
        "a": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "b": {"type": ["string", "null"], "enum": [1, 2]},
        "c": "not a schema"}}}}
    assert counter.count_tools([odd]) > 7 + 12
