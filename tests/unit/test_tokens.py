"""Token counting: our packaged encodings against tiktoken's official definitions, chat counts, caching."""

from __future__ import annotations

import hashlib
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from chatbot.core import tokens
from chatbot.core.conversation import Conversation, Message, with_content
from chatbot.core.tokens import (
    ENCODINGS,
    FALLBACK_ENCODING,
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    TokenCounter,
    load_encoding,
    ranks_of,
)
from support import PROJECT

DATA = Path(tokens.__file__).parent / "data"
SHA256SUMS = PROJECT.parent / "shared/tiktoken/SHA256SUMS"

CORPUS = [
    "Hello, world! How's it going? I'd've thought we'll manage.",
    "The QUICK brown fox JUMPED over the lazy dog's back, didn't it?",
    "def fib(n: int) -> int:\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < 10; ++i) { printf(\"%d\\n\", i); }\r\n",
    "<div class=\"x\">&nbsp;</div> // comment /* block */ https://example.com/a/b?c=d",
    "日本語のテキストを数えます。中文文本也一样。한국어 문장도.",
    "Emoji: 😀👍🏽👨‍👩‍👧‍👦 🇫🇷 and ✨sparkles✨",
    "Numbers: 1234567890 3.14159 -42 1e10 0x1F 1,000,000",
    "   leading spaces\t\ttabs\n\n\n   trailing   \n",
    "a\u00a0b\u2003c   \u3000d",
    "Ünïcödé àccents: café naïve résumé Ærøskøbing",
    "Mixed: CamelCaseWord snake_case_word kebab-case-word ALLCAPS",
    "",
    " ",
    "\n",
    "x" * 500,
    "Ω≈ç√∫˜µ≤≥÷ ¡™£¢∞§¶•ªº–≠",
    "'s 're 've 'm 'll 'd 'S 'RE",
]


def _blob_url(name: str) -> str:
    """The URL tiktoken_ext.openai_public downloads the encoding from (read from its source)."""
    import tiktoken_ext.openai_public as public

    source = Path(public.__file__).read_text(encoding="utf-8")
    urls = re.findall(rf'"(https://[^"]+/{re.escape(name)}\.tiktoken)"', source)
    assert urls, f"no blob URL for {name} in {public.__file__}"
    return urls[0]


@pytest.fixture
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """name -> tiktoken's own encoding, built by its official constructor from a pre-seeded cache (no network)."""
    import tiktoken
    import tiktoken.load
    import tiktoken_ext.openai_public as public

    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))

    def no_network(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    for name in ENCODINGS:
        key = hashlib.sha1(_blob_url(name).encode()).hexdigest()
        shutil.copyfile(DATA / f"{name}.tiktoken", cache / key)

    built: dict[str, tuple[dict, tiktoken.Encoding]] = {}

    def get(name: str):
        if name not in built:
            spec = getattr(public, name)()
            built[name] = (spec, tiktoken.Encoding(**spec))
        return built[name]

    return get


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_pattern_and_special_tokens_match_tiktoken(name: str, official) -> None:
    spec, _ = official(name)
    _sha256, pattern, special = ENCODINGS[name]
    assert pattern == spec["pat_str"]
    assert special == spec["special_tokens"]


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_packaged_checksum_matches_tiktoken(name: str) -> None:
    import tiktoken_ext.openai_public as public

    source = Path(public.__file__).read_text(encoding="utf-8")
    # the expected_hash that follows this encoding's URL in tiktoken's own definitions
    match = re.search(rf"/{re.escape(name)}\.tiktoken\",\s*expected_hash=\"([0-9a-f]{{64}})\"", source)
    assert match is not None
    assert ENCODINGS[name][0] == match.group(1)
    assert hashlib.sha256((DATA / f"{name}.tiktoken").read_bytes()).hexdigest() == match.group(1)


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_our_encoding_is_identical_to_tiktoken(name: str, official) -> None:
    spec, reference = official(name)
    ours = load_encoding(name)
    assert ours.name == reference.name == name
    assert ours.n_vocab == reference.n_vocab
    assert ranks_of(name) == spec["mergeable_ranks"]
    assert ours._special_tokens == reference._special_tokens


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_corpus_encodes_identically(name: str, official) -> None:
    _, reference = official(name)
    ours = load_encoding(name)
    for text in CORPUS:
        assert ours.encode_ordinary(text) == reference.encode_ordinary(text), text
        assert ours.encode(text) == reference.encode(text), text
    whole = "\n".join(CORPUS)
    assert ours.encode_ordinary(whole) == reference.encode_ordinary(whole)
    assert ours.decode(ours.encode_ordinary(whole)) == whole


def test_encodings_differ_from_each_other() -> None:
    """A sanity check that the comparison above can fail: the two encodings tokenize differently."""
    text = "\n".join(CORPUS)
    assert load_encoding("o200k_base").encode_ordinary(text) != load_encoding("cl100k_base").encode_ordinary(text)


@pytest.mark.parametrize(
    ("text", "count"),
    [("Hello!", 2), ("You are a helpful assistant.", 6), ("", 0), ("hello world", 2)],
)
def test_count_text_known_values(text: str, count: int) -> None:
    assert TokenCounter("o200k_base").count_text(text) == count


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_known_chat_count(encoding: str) -> None:
    """OpenAI's cookbook count for this exchange: 19 prompt tokens."""
    counter = TokenCounter(encoding)
    messages = [Message("system", "You are a helpful assistant."), Message("user", "Hello!")]
    assert counter.count_prompt(messages) == 19


def test_message_count_formula() -> None:
    counter = TokenCounter()
    message = Message("user", "The quick brown fox jumps over the lazy dog.")
    enc = load_encoding("o200k_base")
    expected = TOKENS_PER_MESSAGE + len(enc.encode_ordinary("user")) + len(
        enc.encode_ordinary(message.content))
    assert counter.count_message(message) == expected
    assert counter.count_prompt([message]) == expected + REPLY_PRIMING


def test_empty_prompt_is_the_reply_priming() -> None:
    assert TokenCounter().count_prompt([]) == REPLY_PRIMING


class CountingCounter(TokenCounter):
    def __init__(self, encoding: str = FALLBACK_ENCODING) -> None:
        super().__init__(encoding)
        self.calls = 0

    def count_text(self, text: str) -> int:
        self.calls += 1
        return super().count_text(text)


def test_message_count_is_cached_on_the_message() -> None:
    counter = CountingCounter()
    message = Message("user", "Cache me if you can.")
    assert message.token_counts == {}
    first = counter.count_message(message)
    assert message.token_counts == {"o200k_base": first}
    calls = counter.calls
    assert calls > 0
    assert counter.count_message(message) == first
    assert counter.count_prompt([message, message]) == 2 * first + REPLY_PRIMING
    assert counter.calls == calls


def test_cache_is_shared_between_counters() -> None:
    message = Message("assistant", "A reply that was counted once already.")
    n = TokenCounter().count_message(message)
    other = CountingCounter()
    assert other.count_message(message) == n
    assert other.calls == 0


def test_cache_is_per_encoding() -> None:
    text = "日本語のテキスト and some English to tokenize differently"
    message = Message("user", text)
    o200k = TokenCounter("o200k_base").count_message(message)
    cl100k = CountingCounter("cl100k_base")
    got = cl100k.count_message(message)
    assert cl100k.calls > 0
    assert set(message.token_counts) == {"o200k_base", "cl100k_base"}
    assert got == TOKENS_PER_MESSAGE + len(load_encoding("cl100k_base").encode_ordinary("user")) + len(
        load_encoding("cl100k_base").encode_ordinary(text))
    assert o200k != got


def test_edited_message_is_recounted() -> None:
    counter = TokenCounter()
    message = Message("user", "short")
    counter.count_message(message)
    edited = with_content(message, "a considerably longer message than before")
    assert edited.token_counts == {}
    assert counter.count_message(edited) > counter.count_message(message)


def test_conversation_system_message_keeps_its_cache() -> None:
    conversation = Conversation(system_prompt="Be brief.")
    counter = CountingCounter()
    counter.count_prompt(conversation.all_messages())
    calls = counter.calls
    counter.count_prompt(conversation.all_messages())
    assert counter.calls == calls
    conversation.set_system_prompt("Be very brief indeed.")
    counter.count_prompt(conversation.all_messages())
    assert counter.calls > calls


@pytest.mark.parametrize("name", ["p50k_base", "gpt2", "", "nonsense"])
def test_unknown_encoding_falls_back_to_o200k(name: str) -> None:
    counter = TokenCounter(name)
    assert counter.encoding_name == "o200k_base"
    assert counter.encoding is load_encoding("o200k_base")
    assert load_encoding(name) is load_encoding("o200k_base")
    assert counter.count_text("日本語 text") == TokenCounter("o200k_base").count_text("日本語 text")


def test_encoding_is_loaded_once() -> None:
    assert load_encoding("cl100k_base") is load_encoding("cl100k_base")
    assert TokenCounter("cl100k_base").encoding is TokenCounter("cl100k_base").encoding


@pytest.mark.parametrize("name", sorted(ENCODINGS))
@pytest.mark.parametrize("special", ["<|endoftext|>", "<|endofprompt|>"])
def test_special_token_text_counts_as_ordinary_text(name: str, special: str) -> None:
    counter = TokenCounter(name)
    text = f"before {special} after"
    n = counter.count_text(text)  # must not raise
    enc = load_encoding(name)
    assert n == len(enc.encode_ordinary(text))
    assert n > 3  # more than before/after plus one special token
    assert enc.encode_single_token(special) not in enc.encode_ordinary(text)
    assert counter.count_message(Message("assistant", special)) > TOKENS_PER_MESSAGE + 2


def test_packaged_files_match_shared_checksums() -> None:
    if not SHA256SUMS.exists():
        pytest.skip(f"{SHA256SUMS} not present")
    sums = {}
    for line in SHA256SUMS.read_text().splitlines():
        if line.strip():
            digest, filename = line.split()
            sums[filename.lstrip("*")] = digest
    for name in ENCODINGS:
        data = (resources.files("chatbot.core") / "data" / f"{name}.tiktoken").read_bytes()
        assert hashlib.sha256(data).hexdigest() == sums[f"{name}.tiktoken"]
        assert ENCODINGS[name][0] == sums[f"{name}.tiktoken"]


def test_corrupt_encoding_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    original = tokens.ENCODINGS["cl100k_base"]
    monkeypatch.setitem(tokens.ENCODINGS, "cl100k_base", ("0" * 64, original[1], original[2]))
    with pytest.raises(tokens.EncodingFileError):
        tokens._build("cl100k_base")
