"""Text as a terminal should show it: control characters escaped, widths in cells, right-to-left in visual order.

Terminals (and tmux) lay text out left to right one code point at a time: they neither
reorder Arabic or Hebrew nor agree with `len()` on CJK, emoji or combining marks, and a raw
ESC or bidi override in the data would drive the terminal itself. Everything user data puts on
screen goes through `display_text` (one line, cut to a width) or `display_lines` (wrapped):
escape first, cut by terminal cells on grapheme boundaries in logical order (so the
beginning of a right-to-left answer is what stays), then reorder to visual order with
`python-bidi` (the Unicode Bidirectional Algorithm, a binding of the Rust `unicode-bidi`
crate). Cell widths come from `wcwidth`, which agrees with Rich's `cell_len` that Textual
draws with. Core module: no Rich, no Textual, so the CLI can use it too.

For the TUI widgets (profile, theme list, summary panel): pass every value, label, column
name and summary line through `display_text(value, width)` or `display_lines(text, width)`
and put the result into a `rich.text.Text` (never markup).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import wcwidth
from bidi import get_display

ELLIPSIS = "…"

# C0 controls and DEL as Unicode control pictures (one cell each: ␛ for ESC, ␀ for NUL...);
# line breaks as ⏎ so a multi-line answer stays on its row; tabs as one space.
_PICTURES = {i: chr(0x2400 + i) for i in range(0x20)}
_PICTURES.update({0x7F: "␡", 0x0A: "⏎", 0x0D: "⏎", 0x09: " ", 0x85: "⏎", 0x2028: "⏎", 0x2029: "⏎"})
# C1 controls and the explicit bidi embeddings/overrides/isolates (the "Trojan Source"
# characters) are shown as their code, so data cannot restyle or reorder the screen.
_CODES = {i: f"\\x{i:02x}" for i in range(0x80, 0xA0) if i != 0x85}
_CODES.update({i: f"\\u{i:04x}" for i in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})
_TABLE = str.maketrans({**_PICTURES, **_CODES})
_NEEDS_ESCAPE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic, Arabic presentation forms, and the
# right-to-left blocks of the supplementary planes.
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe\U00010800-\U00010fff\U0001e800-\U0001efff]")
# Latin, Greek, Cyrillic... and CJK letters: the first strong character decides a line's direction.
_LTR = re.compile("[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\u0900-\u0dff\u0e00-\u0eff"
                  "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_MARKS = str.maketrans("", "", "\u200e\u200f\u061c")  # LRM, RLM, ALM: direction hints, no glyph


def escape_controls(text: str) -> str:
    """`text` with every control character made visible, so data never reaches the terminal raw."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return text.replace("\r\n", "\n").translate(_TABLE)


def cell_width(text: str) -> int:
    """Terminal cells `text` takes (CJK and most emoji 2, combining marks 0); controls must be escaped first."""
    if text.isascii() and text.isprintable():
        return len(text)
    return max(0, wcwidth.wcswidth(text))


def has_rtl(text: str) -> bool:
    """Whether `text` holds any right-to-left letter (and so needs reordering for the terminal)."""
    return _RTL.search(text) is not None


def is_rtl(text: str) -> bool:
    """Whether `text` reads right to left: its first strong letter is Arabic, Hebrew... (for alignment)."""
    rtl = _RTL.search(text)
    if rtl is None:
        return False
    ltr = _LTR.search(text, 0, rtl.start())
    return ltr is None


def clip(text: str, width: int, *, middle: bool = False, ellipsis: str = ELLIPSIS) -> str:
    """`text` cut to at most `width` cells on grapheme boundaries, never splitting a wide character.

    The result may be a cell short of `width` when a wide character would have crossed the
    edge: callers pad. `middle=True` keeps both ends (`J_27_income…/salary`), for names whose
    tail tells them apart.
    """
    if width <= 0:
        return ""
    if cell_width(text) <= width:
        return text
    room = width - cell_width(ellipsis)
    if room <= 0:
        return _take(text, width)
    if not middle:
        return _take(text, room) + ellipsis
    head = _take(text, (room + 1) // 2)
    tail = _take_end(text, room - cell_width(head))
    return head + ellipsis + tail


def _take(text: str, width: int) -> str:
    out, used = [], 0
    for g in wcwidth.iter_graphemes(text):
        w = cell_width(g)
        if used + w > width:
            break
        out.append(g)
        used += w
    return "".join(out)


def _take_end(text: str, width: int) -> str:
    out, used = [], 0
    for g in wcwidth.iter_graphemes_reverse(text):
        w = cell_width(g)
        if used + w > width:
            break
        out.append(g)
        used += w
    return "".join(reversed(out))


def visual(text: str) -> str:
    """One line in visual (left-to-right screen) order: right-to-left runs reversed by the Unicode bidi algorithm."""
    if not has_rtl(text):
        return text
    return _marks_after_base(get_display(text).translate(_MARKS))


def _marks_after_base(line: str) -> str:
    """Put combining marks back after their letter: reversing a right-to-left run put them before it.

    The bidi algorithm reorders code points, but a terminal attaches a mark (Arabic harakat,
    Hebrew points) to the character before it, so `مَ` reversed would dress the wrong letter.
    """
    if not any(unicodedata.combining(c) for c in line):
        return line
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        j = i
        while j < n and unicodedata.combining(line[j]):
            j += 1
        if j > i and j < n and unicodedata.bidirectional(line[j]) in ("R", "AL") and not (
                out and unicodedata.bidirectional(out[-1][-1]) == "L"):
            out.append(line[j] + line[i:j])  # marks i..j belonged to the letter at j
            i = j + 1
        elif j > i:
            out.append(line[i:j])
            i = j
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


@lru_cache(maxsize=16384)
def display_text(text: str, width: int | None = None, *, middle: bool = False) -> str:
    """One line of user data ready for the screen: escaped, cut to `width` cells (logical order), then visual order.

    The `tui` widgets call this for every value they show; the table pads the result itself.
    """
    text = escape_controls(text)
    if width is not None:
        text = clip(text, width, middle=middle)
    return visual(text)


def display_lines(text: str, width: int) -> list[str]:
    """A paragraph wrapped to `width` cells and then reordered line by line (bidi must follow wrapping)."""
    lines: list[str] = []
    for para in escape_controls(text.replace("\r\n", "\n")).split("⏎"):
        line, used = "", 0
        for word in re.split(r"(\s+)", para):
            if not word:
                continue
            w = cell_width(word)
            if used + w > width and line.strip():
                lines.append(line.rstrip())
                line, used = "", 0
                if word.isspace():
                    continue
            while w > width:  # a word longer than the line: hard-cut on grapheme boundaries
                if line.strip():
                    lines.append(line.rstrip())
                part = _take(word, width) or word[0]
                lines.append(part)
                word = word[len(part):]
                w = cell_width(word)
                line, used = "", 0
            line += word
            used += w
        lines.append(line.rstrip())
    return [visual(x) for x in lines]
