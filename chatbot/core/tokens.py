"""Token counting with tiktoken, from encoding files shipped inside the package (never the network).

Counts follow the chat format's billing: each message costs its role and content tokens plus a fixed
overhead, and every request adds the tokens that prime the reply. Each message's count is cached on the
message, so a long conversation is tokenized once, not on every turn. An attached image adds its tokens by the
model's rule (image_tokens.py): arithmetic on its size, so it is not cached and follows a change of model.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from chatbot.core.attachments import fenced, message_text
from chatbot.core.image_tokens import image_tokens

if TYPE_CHECKING:
    import tiktoken

    from chatbot.core.attachments import Attachment
    from chatbot.core.conversation import Message
    from chatbot.core.models import ImageRule

TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3

# Tool definitions, by the OpenAI cookbook's rule ("How to count tokens with tiktoken", num_tokens_for_tools):
# each function costs FUNCTION_INIT plus the tokens of "name:description"; its properties PROPERTIES_INIT, then
# each PROPERTY_KEY plus "key:type:description"; an enum ENUM_INIT, and ENUM_ITEM plus its tokens per item;
# TOOLS_END once after all of them. The cookbook's figures for the gpt-4o family, whose tokenizer is o200k_base;
# gpt-4 and gpt-3.5-turbo (cl100k_base) start each function at 10.
FUNCTION_INIT = {"o200k_base": 7, "cl100k_base": 10}
PROPERTIES_INIT = 3
PROPERTY_KEY = 3
ENUM_INIT = -3
ENUM_ITEM = 3
TOOLS_END = 12

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"

# The split patterns and special tokens that define each encoding (tiktoken_ext.openai_public);
# tests/unit/test_tokens.py checks they match the installed tiktoken's definitions.
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""  # noqa: E501 - tiktoken's pattern, as it writes it
)

ENCODINGS: dict[str, tuple[str, str, dict[str, int]]] = {
    # name: (sha256 of the packaged file, split pattern, special tokens)
    "o200k_base": (
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PAT,
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
    "cl100k_base": (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PAT,
        {_ENDOFTEXT: 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
         "<|fim_suffix|>": 100260, _ENDOFPROMPT: 100276},
    ),
}
FALLBACK_ENCODING = "o200k_base"

_loaded: dict[str, tiktoken.Encoding] = {}
_lock = threading.Lock()


class EncodingFileError(RuntimeError):
    """A packaged encoding file is missing or does not match its checksum."""


def load_encoding(name: str) -> tiktoken.Encoding:
    """The named encoding, loaded once per process from package data and checked by sha256."""
    if name not in ENCODINGS:
        name = FALLBACK_ENCODING
    with _lock:
        if name not in _loaded:
            _loaded[name] = _build(name)
        return _loaded[name]


def ranks_of(name: str) -> dict[bytes, int]:
    """The named encoding's ranks, read from package data and checked by sha256."""
    import base64

    sha256, _pattern, _special = ENCODINGS[name]
    # Parsed here rather than by tiktoken.load, which would copy the file into a temp-dir cache first.
    data = (resources.files("chatbot.core") / "data" / f"{name}.tiktoken").read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise EncodingFileError(f"the packaged {name}.tiktoken is corrupt (sha256 mismatch): reinstall chatbot")
    # Line by line, not splitlines(): a list of 200,000 lines alongside the ranks would raise the app's peak memory.
    lines = (line.split() for line in io.BytesIO(data) if line.strip())
    return {base64.b64decode(token): int(rank) for token, rank in lines}


def _build(name: str) -> tiktoken.Encoding:
    import tiktoken

    _sha256, pattern, special = ENCODINGS[name]
    encoding = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks_of(name), special_tokens=special)
    # The encoder (Rust) holds its own copy of the ranks; tiktoken keeps this one only to pickle the encoding
    # (Encoding.__getstate__), which chat never does. 200,000 bytes objects in a dict: 27 MB of the app's memory.
    encoding._mergeable_ranks = {}
    return encoding


class TokenCounter:
    """Counts tokens for one encoding (and images by one model's rule); message text counts are cached on the
    messages themselves. Without a rule, images are counted by image_tokens.ASSUMED_RULE."""

    def __init__(self, encoding: str = FALLBACK_ENCODING, image_rule: ImageRule | None = None) -> None:
        self.encoding_name = encoding if encoding in ENCODINGS else FALLBACK_ENCODING
        self.image_rule = image_rule
        self._encoding: tiktoken.Encoding | None = None

    @property
    def encoding(self) -> tiktoken.Encoding:
        if self._encoding is None:
            self._encoding = load_encoding(self.encoding_name)
        return self._encoding

    def count_text(self, text: str) -> int:
        # Model text may contain "<|endoftext|>" literally; it is billed as ordinary text, not a special token.
        return len(self.encoding.encode_ordinary(text))

    def count_message(self, message: Message) -> int:
        cached = message.token_counts.get(self.encoding_name)
        if cached is None:
            text = message_text(message.content, message.attachments)  # attached text files are inlined
            cached = TOKENS_PER_MESSAGE + self.count_text(message.role) + self.count_text(text)
            # A call goes back to the model as its name and arguments; no rule for their framing is published.
            cached += sum(self.count_text(call.name) + self.count_text(call.to_api()["function"]["arguments"])
                          for call in message.tool_calls)
            message.token_counts[self.encoding_name] = cached
        # Images are counted by the model's rule on every call (a model switch changes it); most messages have none.
        return cached + self.count_images(message) if message.attachments else cached

    def count_images(self, message: Message) -> int:
        return sum(image_tokens(a.width, a.height, a.detail, self.image_rule)
                   for a in message.attachments if a.is_image)

    def count_attachment(self, attachment: Attachment) -> int:
        """What one attached file adds to its message: an image by the model's rule, a text file as the fenced
        block it is inlined as (with the blank line before it)."""
        if attachment.is_image:
            return image_tokens(attachment.width, attachment.height, attachment.detail, self.image_rule)
        return self.count_text("\n\n" + fenced(attachment))

    def count_prompt(self, messages: list[Message]) -> int:
        """Tokens the API bills as prompt_tokens for these messages."""
        return sum(self.count_message(m) for m in messages) + REPLY_PRIMING

    def count_tools(self, tools: Sequence[Mapping[str, Any]]) -> int:
        """Tokens the `tools` of a request add to its prompt, by the cookbook's rule (above); 0 for none.

        The rule reads each property's type and description as text; a schema that gives neither (an anyOf, say)
        counts them as empty, so schemas richer than the rule's are counted low."""
        if not tools:
            return 0
        total = 0
        for tool in tools:
            function = tool.get("function") or {}
            total += FUNCTION_INIT.get(self.encoding_name, FUNCTION_INIT["o200k_base"])
            total += self.count_text(f"{function.get('name', '')}:{_sentence(function.get('description'))}")
            parameters = function.get("parameters") or {}
            properties = parameters.get("properties") or {}
            if not isinstance(properties, Mapping) or not properties:
                continue
            total += PROPERTIES_INIT
            for key, prop in properties.items():
                prop = prop if isinstance(prop, Mapping) else {}
                total += PROPERTY_KEY
                if isinstance(enum := prop.get("enum"), list):
                    total += ENUM_INIT + sum(ENUM_ITEM + self.count_text(str(item)) for item in enum)
                kind = prop.get("type", "")
                total += self.count_text(f"{key}:{kind if isinstance(kind, str) else ''}:"
                                         f"{_sentence(prop.get('description'))}")
        return total + TOOLS_END


def _sentence(description: object) -> str:
    """A description as the rule counts it: one trailing full stop dropped."""
    text = description if isinstance(description, str) else ""
    return text.removesuffix(".")
