"""Files sent with a message: images (as image content parts) and text files (inlined as a fenced block).

A file is read, checked and prepared once, when it is attached: an image is turned upright by its EXIF
orientation and downscaled to the size the model uses (image_tokens.model_size), so no pixel is sent that the
model would throw away. Anything else (other binary files, directories, unreadable or oversized files) is
refused with the file's name and the reason, before anything is sent.
"""

from __future__ import annotations

import base64
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from chatbot.core.errors import UsageError
from chatbot.core.image_tokens import DETAILS, Detail, model_size

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chatbot.core.models import ModelSpec
    from chatbot.core.settings.schema import ModelConfig

STDIN = "-"

# The formats OpenAI takes as image input ("Image input requirements"), by their first bytes.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
)
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}

# The fence's language, from the extension: the names Markdown highlighters know.
_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".ts": "typescript",
    ".tsx": "tsx", ".jsx": "jsx", ".rs": "rust", ".go": "go", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
    ".hpp": "cpp", ".java": "java", ".kt": "kotlin", ".swift": "swift", ".rb": "ruby", ".php": "php",
    ".cs": "csharp", ".sh": "bash", ".bash": "bash", ".zsh": "zsh", ".fish": "fish", ".ps1": "powershell",
    ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss", ".xml": "xml",
    ".json": "json", ".jsonl": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".ini": "ini",
    ".md": "markdown", ".rst": "rst", ".tex": "latex", ".lua": "lua", ".r": "r", ".jl": "julia",
    ".hs": "haskell", ".ml": "ocaml", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure",
    ".scala": "scala", ".dart": "dart", ".vue": "vue", ".svelte": "svelte", ".diff": "diff", ".patch": "diff",
    ".csv": "csv", ".txt": "text", ".log": "text",
}
_NAMED = {"Makefile": "make", "Dockerfile": "dockerfile", "CMakeLists.txt": "cmake"}


class AttachmentError(UsageError):
    """A file that cannot be attached: the message names it and says why. Nothing was sent."""


class ImagesRefusedError(UsageError):
    """Images for a model that does not take them. Nothing was sent."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file as it is sent: an image's bytes after any downscaling (and its pixel size, which
    its token cost is counted from), or a text file's UTF-8 text."""

    name: str
    kind: Literal["image", "text"]
    data: bytes = field(repr=False)
    mime: str = "text/plain"
    width: int = 0
    height: int = 0
    detail: Detail = "auto"
    language: str = ""
    # An image's prompt tokens for the model it was sent to, as the history keeps them (None until stored, and
    # for a text file): a record, like a reply's usage. What the next request counts follows its own model.
    tokens: int | None = field(default=None, compare=False)

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def split_detail(argument: str) -> tuple[str, Detail | None]:
    """`photo.png:low` -> ("photo.png", "low"). A name that merely ends so (a file really named `x:low`) is
    the file: the caller tries the whole argument first (`attach`)."""
    path, _, suffix = argument.rpartition(":")
    detail = next((d for d in DETAILS if d == suffix), None)
    return (path, detail) if path and detail else (argument, None)


def attach(argument: str, spec: ModelSpec, *, detail: Detail, max_bytes: int,
           stdin: BinaryIO | None = None) -> Attachment:
    """The file `argument` names (`-` for stdin, `:low`/`:high`/`:auto` after it for that image's detail),
    read and prepared for `spec`. Raises AttachmentError naming the file and the reason."""
    path, own_detail = split_detail(argument)
    if own_detail is not None and argument != STDIN and Path(argument).exists():
        path, own_detail = argument, None
    if path == STDIN:
        if stdin is None:
            raise AttachmentError("cannot attach stdin: nothing is piped in", "pipe the file in: chat -p ... -a -")
        data = stdin.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise _too_big("stdin", None, max_bytes)
        return prepare(data, "stdin", spec, detail=own_detail or detail)
    return prepare(_read(Path(path), max_bytes), path, spec, detail=own_detail or detail)


def _read(path: Path, max_bytes: int) -> bytes:
    name = str(path)
    try:
        if path.is_dir():
            raise AttachmentError(f"cannot attach {name}: it is a directory", "attach the files in it one by one")
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_big(name, size, max_bytes)
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)  # a file that grew since stat is still held to the limit
    except FileNotFoundError:
        raise AttachmentError(f"cannot attach {name}: no such file", "check the path") from None
    except PermissionError:
        raise AttachmentError(f"cannot attach {name}: permission denied",
                              "check the file's permissions") from None
    except OSError as exc:
        raise AttachmentError(f"cannot attach {name}: {exc.strerror or exc}", "check the path") from None
    if len(data) > max_bytes:
        raise _too_big(name, None, max_bytes)
    return data


def _too_big(name: str, size: int | None, max_bytes: int) -> AttachmentError:
    what = f"it is {_size(size)}, over" if size is not None else "it is over"
    return AttachmentError(f"cannot attach {name}: {what} the {_size(max_bytes)} limit",
                           "raise attachments.max_bytes in the config, or attach a smaller file")


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 10_000 else f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.1f} KB"


def prepare(data: bytes, name: str, spec: ModelSpec, *, detail: Detail = "auto") -> Attachment:
    """`data` as an attachment: an image (PNG, JPEG, WebP, GIF) prepared for `spec`, or UTF-8 text."""
    image_format = _image_format(data)
    if image_format is not None:
        return _image(data, name, image_format, spec, detail)
    suffix = Path(name).suffix.lower()
    if suffix in _IMAGE_SUFFIXES:
        raise AttachmentError(f"cannot attach {name}: it is not a {suffix[1:].upper()} image (its content is not)",
                              "attach a PNG, JPEG, WebP or GIF image")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise AttachmentError(f"cannot attach {name}: it is a binary file, neither text nor an image",
                              "attach text (UTF-8) or a PNG, JPEG, WebP or GIF image")
    return Attachment(name, "text", text.removeprefix("\ufeff").encode("utf-8"), language=language_of(name))


def language_of(name: str) -> str:
    path = Path(name)
    return _NAMED.get(path.name, _LANGUAGES.get(path.suffix.lower(), ""))


def _image_format(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)


def _image(data: bytes, name: str, image_format: str, spec: ModelSpec, detail: Detail) -> Attachment:
    # Imported here: Pillow is needed only when an image is attached, never at start-up.
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Past Pillow's warning size an image is still decoded and downscaled; past twice it Pillow refuses.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            if getattr(image, "is_animated", False):
                raise AttachmentError(f"cannot attach {name}: it is an animated {image_format}",
                                      "models take still images only: attach one frame")
            turned = image.getexif().get(0x0112, 1) not in (0, 1)  # EXIF orientation other than "upright"
            upright = ImageOps.exif_transpose(image)
            width, height = upright.size
            target = model_size(width, height, detail, spec.image_rule)
            if target == (width, height) and not turned:
                return Attachment(name, "image", data, _MIME[image_format], width, height, detail)
            if target != (width, height):
                upright = upright.resize(target, Image.Resampling.LANCZOS)
            sent, mime = _encode(upright, image_format)
    except AttachmentError:
        raise
    except Image.DecompressionBombError:
        raise AttachmentError(f"cannot attach {name}: it has too many pixels to decode safely",
                              "attach a smaller image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise AttachmentError(f"cannot attach {name}: it is not a readable {image_format} image ({exc})",
                              "attach a PNG, JPEG, WebP or GIF image") from None
    return Attachment(name, "image", sent, mime, target[0], target[1], detail)


def _encode(image: Any, image_format: str) -> tuple[bytes, str]:
    """The downscaled or turned image in its own format (a GIF as PNG: its palette would band the scaling).
    Without the EXIF block, whose orientation would turn the upright pixels a second time."""
    out = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90)
        return out.getvalue(), _MIME["JPEG"]
    if image_format == "WEBP":
        image.save(out, "WEBP", quality=90)
        return out.getvalue(), _MIME["WEBP"]
    image.save(out, "PNG")
    return out.getvalue(), _MIME["PNG"]


def images_refused(spec: ModelSpec, config: ModelConfig | None = None) -> bool:
    """The catalogue (or the config) says this model takes no images. A model nobody describes is tried: the
    server's refusal is explained when it comes (client.py)."""
    return not spec.vision and (spec.known or (config is not None and config.vision is False))


def refuse_images(spec: ModelSpec, attachments: Iterable[Attachment], config: ModelConfig | None = None) -> None:
    """Raise ImagesRefusedError, naming the images, if `spec` takes none and some are attached."""
    images = [a.name for a in attachments if a.is_image]
    if images and images_refused(spec, config):
        raise ImagesRefusedError(
            f"model {spec.name!r} does not accept images ({', '.join(images)}); nothing was sent",
            "pick a model that does (chat --list-models), or, if it does, set vision = true under "
            f'[models."{spec.name}"]',
        )


def message_text(content: str, attachments: Iterable[Attachment]) -> str:
    """The message's text with each attached text file after it, as a fenced block headed by its name."""
    blocks = [fenced(a) for a in attachments if not a.is_image]
    return "\n\n".join([content, *blocks]) if blocks else content


def fenced(attachment: Attachment) -> str:
    text = attachment.text
    # Longer than any run of backticks in the file, so the file cannot close the block early.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{attachment.name}\n{fence}{attachment.language}\n{text.removesuffix(chr(10))}\n{fence}"


def request_content(content: str, attachments: tuple[Attachment, ...]) -> str | list[dict[str, Any]]:
    """The message's `content` as sent: a string while no image is attached (every compatible server takes
    that), else a text part followed by one image_url part per image."""
    text = message_text(content, attachments)
    images = [a for a in attachments if a.is_image]
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": a.data_url(), "detail": a.detail}} for a in images]
    return parts
