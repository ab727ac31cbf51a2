"""Model text is data: neutralize() strips what a terminal would act on and keeps everything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.core.terminal import neutralize

ESC = "\x1b"
BEL = "\x07"
ST = "\x1b\\"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{ESC}[31mred{ESC}[0m plain", "red plain"),
        (f"{ESC}[1;38;2;255;0;0mtruecolor{ESC}[m", "truecolor"),
        (f"{ESC}[38;5;196mindexed{ESC}[39;49m", "indexed"),
        (f"a{ESC}[2Jb{ESC}[Hc", "abc"),  # clear screen, cursor home
        (f"up{ESC}[3Adown{ESC}[?25l", "updown"),  # cursor up, hide cursor
        (f"x{ESC}[>4;1my", "xy"),  # private-parameter CSI
    ],
)
def test_removes_csi_sequences(text: str, expected: str) -> None:
    assert neutralize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{ESC}]0;pwned title{BEL}after", "after"),
        (f"{ESC}]2;window title{ST}after", "after"),
        (f"before{ESC}]52;c;ZWNobyBwd25lZA=={BEL}after", "beforeafter"),  # clipboard write
        (f"before{ESC}]52;c;ZWNobyBwd25lZA=={ST}after", "beforeafter"),
        (f"x{ESC}]4;1;rgb:ff/00/00{BEL}y", "xy"),  # palette change
    ],
)
def test_removes_osc_sequences(text: str, expected: str) -> None:
    assert neutralize(text) == expected


@pytest.mark.parametrize("terminator", [BEL, ST])
def test_hyperlink_keeps_its_text(terminator: str) -> None:
    text = f"see {ESC}]8;;https://evil.example/x{terminator}the docs{ESC}]8;;{terminator} now"
    assert neutralize(text) == "see the docs now"


def test_hyperlink_with_params() -> None:
    text = f"{ESC}]8;id=42;http://a.example{ST}link{ESC}]8;;{ST}"
    assert neutralize(text) == "link"


def test_unterminated_osc_loses_only_its_introducer() -> None:
    # Never swallow text: without a terminator, what followed the introducer stays, as plain text.
    assert neutralize(f"{ESC}]0;title{ESC}[31mred") == "0;titlered"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"a{ESC}b", "ab"),  # ESC before an ordinary lowercase letter
        (f"x{ESC}", "x"),  # trailing ESC
        (f"{ESC}{ESC}{ESC}", ""),
        (f"{ESC}{ESC}[31mred", "red"),
        (f"a{ESC}Mb", "ab"),  # reverse index
        (f"a{ESC}7b{ESC}8c", "a7b8c"),  # the ESC is gone; digits are harmless text
        (f"{ESC}P1$qm{ST}after", "after"),  # DCS string
        (f"{ESC}_apc payload{ST}after", "after"),  # APC string
    ],
)
def test_removes_bare_and_other_escapes(text: str, expected: str) -> None:
    assert neutralize(text) == expected


C0_REMOVED = [chr(c) for c in range(0x20) if chr(c) not in "\n\t\r\x1b"] + ["\x7f"]
C1 = [chr(c) for c in range(0x80, 0xA0)]


@pytest.mark.parametrize("control", C0_REMOVED, ids=[f"U+{ord(c):04X}" for c in C0_REMOVED])
def test_removes_c0_controls(control: str) -> None:
    assert neutralize(f"a{control}b") == "ab"


@pytest.mark.parametrize("control", C1, ids=[f"U+{ord(c):04X}" for c in C1])
def test_removes_c1_controls(control: str) -> None:
    assert neutralize(f"a{control}b") == "ab"


def test_eight_bit_csi_is_defused() -> None:
    out = neutralize("a\x9b31mb\x9d0;title\x9cc")
    assert not any("\x80" <= ch <= "\x9f" for ch in out)


def test_keeps_newline_and_tab() -> None:
    assert neutralize("a\tb\nc\n\n\td") == "a\tb\nc\n\n\td"


def test_carriage_returns_become_newlines() -> None:
    """A bare CR would let text overwrite the line it follows; it becomes a newline."""
    assert neutralize("a\r\nb\rc") == "a\nb\nc"


@pytest.mark.parametrize(
    "text",
    [
        "日本語のテキスト、中文、한국어",
        "emoji 😀👍🏽👨‍👩‍👧‍👦🇫🇷✨",
        "accents: café naïve Ærøskøbing Ünïcödé",
        "math ∀x∈ℝ: x² ≥ 0 — “quotes” «guillemets» ‹›",
        "combining e\u0301 and zero-width\u200bspace and\u00a0nbsp",
        "right-to-left: שלום مرحبا",
        "```python\nprint('hi')\n```\n| a | b |\n|---|---|",
        "",
    ],
)
def test_keeps_ordinary_unicode(text: str) -> None:
    assert neutralize(text) == text


def test_mixed_content() -> None:
    text = f"{ESC}[1m日本{ESC}[0m 😀 {ESC}]8;;http://x{ST}café{ESC}]8;;{ST}\x00\x9b!"
    assert neutralize(text) == "日本 😀 café!"


DANGEROUS = st.sampled_from([ESC, BEL, "[", "]", "\\", ";", "P", "_", "^", "X", "8", "\x9b", "\x9c", "\x9d", "\r"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(DANGEROUS, st.text(max_size=5)), max_size=40).map("".join))
def test_output_never_contains_esc_or_bel(text: str) -> None:
    out = neutralize(text)
    assert ESC not in out
    assert BEL not in out
    assert "\r" not in out
    assert not any("\x80" <= ch <= "\x9f" for ch in out)
    assert not any(ch < " " and ch not in "\n\t" for ch in out)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cc",))))
def test_text_without_controls_is_unchanged(text: str) -> None:
    assert neutralize(text) == text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_idempotent(text: str) -> None:
    once = neutralize(text)
    assert neutralize(once) == once
