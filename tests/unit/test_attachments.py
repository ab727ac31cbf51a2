"""Attached files: reading and refusing them, images upright and downscaled, text inlined, and what a session
counts and sends for them (a real ChatClient against the fake server). Every image is made here with Pillow."""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chatbot.core.attachments import (
    Attachment,
    AttachmentError,
    ImagesRefusedError,
    attach,
    fenced,
    message_text,
    prepare,
    request_content,
    split_detail,
)
from chatbot.core.client import ChatClient
from chatbot.core.conversation import Conversation, Message
from chatbot.core.errors import BadRequestError, SpendLimitError
from chatbot.core.models import CATALOGUE
from chatbot.core.session import Session
from chatbot.core.settings import load_settings
from fake_openai import Error, FakeOpenAI, Reply
from support import PROJECT, SleepRecorder

RED, BLUE = (255, 0, 0), (0, 0, 255)
SPEC = CATALOGUE["gpt-4o"]
LIMIT = 20_000_000


def image_bytes(width: int, height: int, fmt: str = "PNG", *, orientation: int | None = None,
                left: tuple[int, int, int] = RED, right: tuple[int, int, int] = BLUE) -> bytes:
    """An image whose left half is `left` and right half `right`, optionally with an EXIF orientation."""
    image = Image.new("RGB", (width, height), right)
    image.paste(left, (0, 0, width // 2, height))
    out = io.BytesIO()
    extra: dict[str, Any] = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        extra["exif"] = exif.tobytes()
    image.save(out, fmt, **extra)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(pixel[:3], colour, strict=True))


def unreadable(tmp_path: Path) -> Path:
    """A path that exists and cannot be read: no permission for a user, /proc/self/mem (EIO at offset 0) for
    root, whom no permission stops."""
    if os.geteuid() == 0:
        return Path("/proc/self/mem")
    path = tmp_path / "secret.txt"
    path.write_text("hidden")
    path.chmod(0)
    return path


# -- text files ---------------------------------------------------------------------------------


def test_a_text_file_is_inlined_as_a_fenced_block_headed_by_its_name(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("def f():\n    return 1\n")
    attached = attach(str(tmp_path / "main.py"), SPEC, detail="auto", max_bytes=LIMIT)
    assert attached.kind == "text" and attached.language == "python"
    name = str(tmp_path / "main.py")
    assert message_text("explain", (attached,)) == f"explain\n\n{name}\n```python\ndef f():\n    return 1\n```"
    # No image: the content stays a string, which every compatible server takes.
    assert request_content("explain", (attached,)) == message_text("explain", (attached,))


@pytest.mark.parametrize(("name", "language"), [("notes.md", "markdown"), ("Makefile", "make"),
                                                ("data.unknownext", ""), ("conf.YAML", "yaml")])
def test_the_fence_language_comes_from_the_extension(name: str, language: str) -> None:
    assert prepare(b"x\n", name, SPEC).language == language


def test_the_fence_is_longer_than_any_backticks_in_the_file() -> None:
    block = fenced(prepare(b"a ```` b\n", "doc.md", SPEC))
    assert block.splitlines()[1] == "`````markdown"
    assert block.splitlines()[-1] == "`````"


def test_a_utf8_bom_is_not_sent() -> None:
    assert prepare("\ufeffhello".encode(), "a.txt", SPEC).text == "hello"


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "name", "reason"), [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "tool", "binary file"),
    (b"text with a \x00 NUL", "odd.txt", "binary file"),
    (b"%PDF-1.7\n\xe2\xe3\xcf\xd3\n", "paper.pdf", "binary file"),
    (b"this is not a png", "fake.png", "not a PNG image"),
    (b"\x89PNG\r\n\x1a\n truncated", "broken.png", "not a readable PNG image"),
])
def test_files_that_are_neither_text_nor_an_image_are_refused(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(AttachmentError) as refused:
        prepare(data, name, SPEC)
    assert refused.value.message.startswith(f"cannot attach {name}: ")
    assert reason in refused.value.message


def test_an_animated_gif_is_refused() -> None:
    frames = [Image.new("RGB", (20, 20), colour) for colour in (RED, BLUE)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(AttachmentError, match=r"cannot attach anim\.gif: it is an animated GIF"):
        prepare(out.getvalue(), "anim.gif", SPEC)


def test_an_image_with_too_many_pixels_to_decode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses twice this: 2,000 pixels
    with pytest.raises(AttachmentError, match="it has too many pixels to decode safely"):
        prepare(image_bytes(100, 100), "huge.png", SPEC)
    # Over the limit but not twice it: a warning only, and the image is attached (and downscaled if need be).
    assert prepare(image_bytes(40, 40), "big.png", SPEC).width == 40


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match=re.escape(f"cannot attach {tmp_path}: it is a directory")):
        attach(str(tmp_path), SPEC, detail="auto", max_bytes=LIMIT)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match=r"gone\.png: no such file"):
        attach(str(tmp_path / "gone.png"), SPEC, detail="auto", max_bytes=LIMIT)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = unreadable(tmp_path)
    with pytest.raises(AttachmentError) as refused:
        attach(str(path), SPEC, detail="auto", max_bytes=LIMIT)
    assert refused.value.message.startswith(f"cannot attach {path}: ")


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 2001)
    with pytest.raises(AttachmentError, match=r"big\.txt: it is 2,001 bytes, over the 2,000 bytes limit"):
        attach(str(tmp_path / "big.txt"), SPEC, detail="auto", max_bytes=2000)
    (tmp_path / "fits.txt").write_text("x" * 2000)
    assert attach(str(tmp_path / "fits.txt"), SPEC, detail="auto", max_bytes=2000).text == "x" * 2000


def test_stdin_over_the_limit_is_refused() -> None:
    with pytest.raises(AttachmentError, match="cannot attach stdin: it is over the 10 bytes limit"):
        attach("-", SPEC, detail="auto", max_bytes=10, stdin=io.BytesIO(b"x" * 11))


# -- an image's own detail ----------------------------------------------------------------------


def test_a_detail_after_the_name_is_that_images_own() -> None:
    assert split_detail("photo.png:low") == ("photo.png", "low")
    assert split_detail("-:high") == ("-", "high")
    assert split_detail("c:/photo.png") == ("c:/photo.png", None)
    assert split_detail("photo.png:medium") == ("photo.png:medium", None)


def test_a_file_really_named_with_the_suffix_is_that_file(tmp_path: Path) -> None:
    (tmp_path / "notes:low").write_text("plain")
    attached = attach(str(tmp_path / "notes:low"), SPEC, detail="high", max_bytes=LIMIT)
    assert attached.text == "plain"


def test_the_detail_goes_into_the_image_part(tmp_path: Path) -> None:
    (tmp_path / "p.png").write_bytes(image_bytes(64, 64))
    attached = attach(f"{tmp_path / 'p.png'}:low", SPEC, detail="high", max_bytes=LIMIT)
    assert attached.detail == "low"
    parts = request_content("look", (attached,))
    assert parts == [{"type": "text", "text": "look"},
                     {"type": "image_url", "image_url": {"url": attached.data_url(), "detail": "low"}}]


# -- images: upright, and no larger than the model uses -----------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_small_upright_image_is_sent_as_it_is(fmt: str) -> None:
    data = image_bytes(300, 200, fmt)
    attached = prepare(data, f"p.{fmt.lower()}", SPEC)
    assert attached.data == data
    assert (attached.width, attached.height) == (300, 200)
    assert attached.mime == f"image/{fmt.lower()}"


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"),
                                           ("GIF", "image/png")])
def test_a_large_image_is_downscaled_keeping_its_aspect_ratio(fmt: str, mime: str) -> None:
    attached = prepare(image_bytes(3000, 1500, fmt), "big", SPEC)
    assert (attached.width, attached.height) == (1536, 768)  # fit 2048, then the short side at 768
    assert attached.mime == mime
    sent = opened(attached.data)
    assert sent.size == (1536, 768)
    assert near(sent.convert("RGB").getpixel((10, 384)), RED)
    assert near(sent.convert("RGB").getpixel((1525, 384)), BLUE)


def test_low_detail_sends_a_512_px_image() -> None:
    attached = prepare(image_bytes(3000, 1500), "big.png", SPEC, detail="low")
    assert opened(attached.data).size == (512, 256)


def test_a_patch_model_gets_the_size_its_patch_budget_allows() -> None:
    attached = prepare(image_bytes(1800, 2400), "p.png", CATALOGUE["gpt-4.1-nano"])
    assert opened(attached.data).size == (1056, 1408)


def test_the_exif_orientation_is_applied_and_dropped() -> None:
    # Stored 400x200, red on the left; orientation 6 says: shown turned 90 degrees clockwise, red on top.
    attached = prepare(image_bytes(400, 200, "JPEG", orientation=6), "phone.jpg", SPEC)
    sent = opened(attached.data)
    assert sent.size == (attached.width, attached.height) == (200, 400)
    assert near(sent.getpixel((100, 20)), RED) and near(sent.getpixel((100, 380)), BLUE)
    assert sent.getexif().get(0x0112, 1) == 1  # not turned a second time by whoever reads it


def test_a_turned_image_is_downscaled_by_its_upright_size() -> None:
    # 4000x2000 stored, 2000x4000 upright: fit 2048 (1024x2048), short side 768 -> 768x1536.
    attached = prepare(image_bytes(4000, 2000, "JPEG", orientation=8), "phone.jpg", SPEC)
    sent = opened(attached.data)
    assert sent.size == (768, 1536)
    # Orientation 8 turns it counter-clockwise: the stored left (red) is at the bottom.
    assert near(sent.getpixel((384, 1500)), RED) and near(sent.getpixel((384, 30)), BLUE)


# -- what a session counts and sends ------------------------------------------------------------


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings, api_key: str) -> AsyncIterator[Callable[..., Session]]:
    clients: list[ChatClient] = []

    def make(**flags: Any) -> Session:
        settings = make_settings(**flags)
        client = ChatClient(api_key=api_key, base_url=fake.base_url, timeout=10.0, max_retries=0,
                            sleep=SleepRecorder())
        clients.append(client)
        return Session(settings, client)

    yield make
    for client in clients:
        await client.aclose()


def image(width: int, height: int, spec_name: str = "gpt-4o", detail: str = "auto") -> Attachment:
    return prepare(image_bytes(width, height), "photo.png", CATALOGUE[spec_name], detail=detail)  # type: ignore[arg-type]


async def run(session: Session, text: str, attachments: tuple[Attachment, ...]) -> list[Any]:
    return [event async for event in session.send(text, attachments)]


async def test_the_server_receives_text_and_image_parts(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("a red and blue square"))
    session = make_session(model="gpt-4o")
    photo, notes = image(3000, 1500), prepare(b"see the photo\n", "notes.txt", SPEC)
    await run(session, "what is this?", (photo, notes))
    content = fake.last_body["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "what is this?\n\nnotes.txt\n```text\nsee the photo\n```"}
    assert content[1]["type"] == "image_url" and content[1]["image_url"]["detail"] == "auto"
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert opened(base64.b64decode(url.split(",", 1)[1])).size == (1536, 768)
    assert len(content) == 2
    assert session.conversation.messages[0].attachments == (photo, notes)


async def test_text_files_alone_are_sent_as_a_string(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("ok"))
    session = make_session(model="gpt-4o")
    await run(session, "summarise", (prepare(b"line\n", "a.md", SPEC),))
    assert fake.last_body["messages"][-1]["content"] == "summarise\n\na.md\n```markdown\nline\n```"


@pytest.mark.parametrize(("model", "size", "detail", "tokens"), [
    ("gpt-4o", (1024, 1024), "high", 765),
    ("gpt-4o", (2048, 4096), "auto", 1105),
    ("gpt-4o", (2048, 4096), "low", 85),
    ("gpt-4o-mini", (1024, 1024), "high", 2833 + 4 * 5667),
    ("gpt-4.1-nano", (1024, 1024), "high", 2520),  # 1,024 patches x 2.46, rounded up
])
async def test_the_prompt_count_includes_the_image(make_session, model: str, size: tuple[int, int],
                                                   detail: str, tokens: int) -> None:
    session = make_session(model=model)
    plain = session.conversation.add(Message("user", "what is this?"))
    without = session.window().prompt_tokens
    session.conversation.withdraw(plain)  # the same message, now with the image
    session.conversation.add(Message("user", "what is this?",
                                     attachments=(image(*size, spec_name=model, detail=detail),)))
    assert session.window().prompt_tokens == without + tokens


def test_the_image_count_follows_the_model(make_session) -> None:
    """The cached count is the text's; the image is counted by the rule of the model the request goes to,
    from the pixels it is sent with (attached for gpt-4o, a 1024x1024 image was downscaled to 768x768)."""
    session = make_session(model="gpt-4o")
    session.conversation.add(Message("user", "hi", attachments=(image(1024, 1024),)))
    text = session.window().prompt_tokens - 765
    session.model = "gpt-4.1-nano"
    assert session.window().prompt_tokens == text + 1417  # 24 x 24 patches x 2.46, rounded up


def test_the_sliding_window_drops_an_old_image_turn(make_session) -> None:
    # gpt-4o-mini: a 1024x1024 image is 25,501 tokens; two do not fit 40,000 - 1,000.
    session = make_session(model="gpt-4o-mini", max_tokens=1000, budget={"max_context_tokens": 40_000})
    first = session.conversation.add(Message("user", "one", attachments=(image(1024, 1024, "gpt-4o-mini"),)))
    session.conversation.add(Message("assistant", "a photo"))
    session.conversation.add(Message("user", "two", attachments=(image(1024, 1024, "gpt-4o-mini"),)))
    window = session.window()
    assert first in window.dropped and window.dropped_turns == 1
    # Without the first image the same turns all fit: the images made the difference.
    session.conversation = Conversation(session.conversation.system_prompt, [
        Message("user", "one"), Message("assistant", "a photo"),
        Message("user", "two", attachments=(image(1024, 1024, "gpt-4o-mini"),))])
    assert session.window().dropped_turns == 0


async def test_the_spend_guard_counts_the_image(fake: FakeOpenAI, make_session) -> None:
    # 25,501 image tokens at $0.15/1M are $0.0038; the text alone costs well under $0.001.
    session = make_session(model="gpt-4o-mini", max_tokens=1, max_session_cost=Decimal("0.001"))
    with pytest.raises(SpendLimitError):
        await run(session, "what is this?", (image(1024, 1024, "gpt-4o-mini"),))
    assert fake.chat_requests == []
    fake.queue(Reply("fine"))
    await run(session, "what is this?", ())
    assert len(fake.chat_requests) == 1


async def test_a_model_without_vision_is_refused_before_sending(fake: FakeOpenAI, make_session) -> None:
    session = make_session(model="gpt-4o", models={"gpt-4o": {"vision": False}})
    turn = session.send("what is this?", (image(64, 64),))
    with pytest.raises(ImagesRefusedError, match=r"model 'gpt-4o' does not accept images \(photo\.png\)"):
        async for _ in turn:
            pass
    assert fake.chat_requests == []
    assert session.conversation.messages == []  # taken back out: nothing was sent
    assert turn.outcome is not None and turn.outcome.text_returned
    assert session.totals.requests == 0


async def test_a_described_model_without_vision_is_refused_text_files_are_not(fake: FakeOpenAI,
                                                                              make_session) -> None:
    session = make_session(model="local-llm", models={"local-llm": {"vision": False}})
    with pytest.raises(ImagesRefusedError):
        await run(session, "look", (image(64, 64),))
    fake.queue(Reply("ok"))
    await run(session, "read", (prepare(b"x\n", "a.txt", SPEC),))
    assert len(fake.chat_requests) == 1


async def test_an_unknown_model_is_tried_and_its_refusal_explained(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Error(400, "image input is not supported by this model"))
    session = make_session(model="local-llm", catalogue_prices=None)
    with pytest.raises(BadRequestError) as refused:
        await run(session, "look", (image(64, 64),))
    assert len(fake.chat_requests) == 1  # it was tried
    assert "image input is not supported" in refused.value.message
    assert "'local-llm' may not accept images" in refused.value.hint


async def test_a_refusal_of_a_request_without_images_keeps_its_own_hint(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Error(400, "bad parameter"))
    session = make_session(model="local-llm", catalogue_prices=None)
    with pytest.raises(BadRequestError) as refused:
        await run(session, "look", ())
    assert "images" not in refused.value.hint


def test_the_config_example_documents_the_attachments_table() -> None:
    example = PROJECT / "config.example.toml"
    settings, _ = load_settings(example)
    assert settings.attachments.detail == "auto" and settings.attachments.max_bytes == 20_000_000
    text = example.read_text(encoding="utf-8")
    assert "[attachments]" in text and "\ndetail = " in text and "\nmax_bytes = " in text
