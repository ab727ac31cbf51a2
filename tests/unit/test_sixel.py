"""Sixel images (chatbot/ui/sixel.py): what the encoder writes, read back by a decoder written here from the
format's definition (DEC's VT330/VT340 manual: raster attributes, colour registers in percent, repeats, graphics
carriage return and new line), and when the one shown image is painted again, in a running app."""

from __future__ import annotations

import io
import re

from PIL import Image
from textual.app import App, ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static

from chatbot.ui.sixel import Sixel, encode

RGB = tuple[int, int, int]


def decode(sequence: str) -> tuple[tuple[int, int], dict[tuple[int, int], RGB]]:
    """The raster size a Sixel sequence declares, and the colour of each pixel it sets."""
    match = re.fullmatch(r'\x1bP0;1;0q"1;1;(\d+);(\d+)(.*)\x1b\\', sequence, re.S)
    assert match, sequence[:40]
    size = int(match.group(1)), int(match.group(2))
    registers: dict[int, RGB] = {}
    pixels: dict[tuple[int, int], RGB] = {}
    colour, x, top = 0, 0, 0
    for token in re.finditer(r"#(\d+)(?:;2;(\d+);(\d+);(\d+))?|!(\d+)([?-~])|([?-~])|(\$)|(-)", match.group(3)):
        number, r, g, b, repeat, repeated, single, back, down = token.groups()
        if number is not None and r is not None:
            registers[int(number)] = (int(r), int(g), int(b))
        elif number is not None:
            colour = int(number)
        elif back:
            x = 0
        elif down:
            x, top = 0, top + 6
        else:
            count, char = (int(repeat), repeated) if repeat else (1, single)
            for k in range(6):
                if (ord(char) - 63) >> k & 1:
                    pixels.update({(x + n, top + k): registers[colour] for n in range(count)})
            x += count
    return size, pixels


def png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def percent(rgb: RGB) -> RGB:
    r, g, b = rgb
    return r * 100 // 255, g * 100 // 255, b * 100 // 255


def test_every_pixel_is_set_once_in_its_colour() -> None:
    # Four blocks of a colour each, with edges that fall inside a six-pixel band.
    picture = Image.new("RGB", (20, 17), (255, 0, 0))
    picture.paste((0, 255, 0), (10, 0, 20, 9))
    picture.paste((0, 0, 255), (0, 9, 10, 17))
    picture.paste((255, 255, 255), (10, 9, 20, 17))
    size, pixels = decode(encode(png(picture), 20, 17))
    assert size == (20, 17)
    assert set(pixels) == {(x, y) for x in range(20) for y in range(17)}
    assert {xy: percent(picture.getpixel(xy)) for xy in pixels} == pixels  # type: ignore[arg-type]


def test_an_image_is_resized_to_the_pixels_asked_and_keeps_its_colours_within_the_palette() -> None:
    picture = Image.new("RGB", (64, 32))
    picture.putdata([(x * 4, y * 8, 128) for y in range(32) for x in range(64)])
    sequence = encode(png(picture), 48, 24)
    size, pixels = decode(sequence)
    assert size == (48, 24)
    assert len(pixels) == 48 * 24
    assert len(set(re.findall(r"#(\d+);2;", sequence))) <= 255
    resized = picture.resize((48, 24), Image.Resampling.LANCZOS)
    # Quantized to the palette: each colour near the resized image's own.
    worst = max(abs(a - b) for xy, rgb in pixels.items() for a, b in zip(rgb, percent(resized.getpixel(xy)),  # type: ignore[arg-type]
                                                                          strict=True))
    assert worst <= 10


def test_runs_of_one_colour_are_written_as_repeats() -> None:
    sequence = encode(png(Image.new("RGB", (240, 120), (40, 80, 120))), 240, 120)
    assert len(sequence) < 400  # twenty bands of one repeat each, not 28,800 pixels
    assert decode(sequence)[0] == (240, 120)


class Picker(ModalScreen[None]):
    def compose(self) -> ComposeResult:
        yield Static("x" * 5, id="cover")


class Shows(App[None]):
    CSS = "#image { width: 6; height: 3; margin: 2 4; } #cover { width: 10; height: 10; }"

    def compose(self) -> ComposeResult:
        yield Static(id="image")


IMAGE = "\x1bPq-\x1b\\"


async def test_the_image_is_painted_where_its_widget_is_and_again_only_when_a_frame_draws_on_its_rows() -> None:
    app = Shows()
    async with app.run_test(size=(40, 12)) as pilot:
        sixel = Sixel(lambda: (10, 20))
        widget = app.query_one("#image")
        assert sixel.after_frame(set()) == ""  # nothing shown
        sixel.show(widget, IMAGE)
        assert sixel.before_frame() == set()
        assert sixel.after_frame(set()) == f"\x1b7\x1b[3;5H{IMAGE}\x1b8"  # rows 3-5, from column 5
        assert sixel.after_frame(set()) == ""
        assert sixel.after_frame({1, 2, 6}) == ""  # rows around it
        assert sixel.after_frame({4}) == f"\x1b7\x1b[3;5H{IMAGE}\x1b8"

        widget.styles.margin = (4, 4)
        await pilot.pause()
        assert sixel.before_frame() == {3, 4, 5}  # where it was: drawn again whole
        assert sixel.after_frame(set()) == f"\x1b7\x1b[5;5H{IMAGE}\x1b8"

        await app.push_screen(Picker())  # covers it
        await pilot.pause()
        assert sixel.before_frame() == {5, 6, 7}
        assert sixel.after_frame({5, 6, 7}) == ""
        app.pop_screen()
        await pilot.pause()
        assert sixel.after_frame(set()) == f"\x1b7\x1b[5;5H{IMAGE}\x1b8"

        sixel.hide(widget)
        assert sixel.before_frame() == {5, 6, 7}
        assert sixel.after_frame({5, 6, 7}) == ""
        assert sixel.before_frame() == set()  # forgotten once


async def test_another_image_in_the_same_place_is_painted_though_no_row_was_drawn() -> None:
    async with Shows().run_test(size=(40, 12)) as pilot:
        sixel = Sixel(lambda: (10, 20))
        widget = pilot.app.query_one("#image")
        sixel.show(widget, IMAGE)
        assert sixel.after_frame(set())
        sixel.show(widget, IMAGE)  # the same pixels, shown again: a new image for the terminal
        assert sixel.after_frame(set()) == f"\x1b7\x1b[3;5H{IMAGE}\x1b8"


async def test_an_image_whose_widget_ends_on_the_last_row_is_not_painted() -> None:
    """A Sixel image ending on the last row leaves the cursor below the screen, which scrolls it."""
    async with Shows().run_test(size=(40, 5)) as pilot:
        sixel = Sixel(lambda: (10, 20))
        sixel.show(pilot.app.query_one("#image"), IMAGE)  # rows 3-5 of 5
        assert sixel.after_frame(set()) == ""
