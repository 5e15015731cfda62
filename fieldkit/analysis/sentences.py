"""Language-aware sentence splitting: Latin-script punctuation with abbreviations, and CJK.

A regex splitter (no model, no dependency) because summaries need sentence units quickly
for any text a user opens; rules cover what field texts contain: English abbreviations and
initials, decimals, quotes after the full stop, Chinese/Japanese full-width punctuation
(。！？ split even without a following space), Arabic ؟ and Devanagari ।, and Markdown
headings and list items as their own units.
"""

from __future__ import annotations

import re

__all__ = ["split_sentences", "split_blocks", "is_cjk_text", "ABBREVIATIONS"]

# Lower-case, without the final dot. Titles, Latin abbreviations, months, units, ranks.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms mx dr prof sr jr st mt ft fr rev hon gen gov sen rep pres supt insp det
    lt col sgt capt cpl pvt adm maj cmdr brig cdr
    vs v etc e.g i.e cf al approx ca est dept univ assn bros inc ltd co corp plc llc
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    fig figs eq eqs vol vols ed eds p pp ch sec art para no nos op cit ibid
    a.m p.m u.s u.k u.n e.u d.c n.y l.a ph.d b.a m.a
    """.split()
)
# Abbreviations that only hold before a number ("No. 10", "p. 5"), else they end a sentence.
_NUMERIC_ABBREVIATIONS = frozenset({"no", "nos", "p", "pp", "vol", "fig", "art", "sec", "op"})

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CLOSERS = "\"'”’»)\\]}」』】）》〉"
_OPENERS = "\"'“‘«(\\[{「『【（《〈"

# Full-width terminators end a sentence wherever they stand (CJK text has no spaces).
_CJK_STRONG = re.compile(rf"[。！？]+[{_CLOSERS}]*|[!?]+[{_CLOSERS}]*(?=[{_CJK}])")
# Latin-script terminators need whitespace after them and a plausible sentence start.
# A spaced ellipsis (". . .") is one terminator, and a sentence never starts with a dot: "Yes,
# but. . . well. . ." was split into "Yes, but. ." and ". well. . ." (quoted as debris).
_LATIN_END = re.compile(
    rf"([.!?؟।…]+(?:[ \t]\.+)*)([{_CLOSERS}]*)(\s+)(?=[{_OPENERS}]*[^\s{_CLOSERS}a-z.])"
)
_WORD_BEFORE = re.compile(r"([\w.'’-]+)$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_WS = re.compile(r"[ \t\u00a0\u3000]+")


def is_cjk_text(text: str, threshold: float = 0.3) -> bool:
    """True when at least `threshold` of the non-space characters are CJK ideographs/kana/hangul."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return False
    n = len(re.findall(f"[{_CJK}]", text))
    return n / len(chars) >= threshold


def split_blocks(text: str) -> list[str]:
    """Paragraphs, Markdown headings and list items as separate blocks; wrapped lines joined;
    fenced code left out."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            joined = _join_lines(current)
            if joined:
                blocks.append(joined)
            current.clear()

    in_code = False
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.lstrip().startswith(("```", "~~~")):  # fenced code is not prose: skip it
            flush()
            in_code = not in_code
            continue
        if in_code:
            continue
        if not line.strip():
            flush()
        elif _HEADING.match(line) or _LIST_ITEM.match(line):
            flush()
            current.append(_LIST_ITEM.sub("", _HEADING.sub("", line)))
            if _HEADING.match(line):
                flush()
        else:
            current.append(line)
    flush()
    return blocks


def _join_lines(lines: list[str]) -> str:
    out = ""
    for line in lines:
        line = _WS.sub(" ", line.strip())
        if not line:
            continue
        # CJK lines wrap without a space between them.
        if out and not (re.match(f"[{_CJK}]", line[0]) and re.search(f"[{_CJK}]$", out)):
            out += " "
        out += line
    return out


def _is_abbreviation(before: str, following: str) -> bool:
    m = _WORD_BEFORE.search(before)
    if not m:
        return False
    word = m.group(1).lstrip("'’").lower().rstrip(".")
    if not word:
        return False
    if word in _NUMERIC_ABBREVIATIONS:
        return following[:1].isdigit()
    if word in ABBREVIATIONS:
        return True
    # Initials ("J. K. Rowling") and dotted acronyms ("U.S.A.")
    if len(word) == 1 and word.isalpha() and m.group(1)[-1:].isupper():
        return True
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
        return True
    return False


def _split_latin(block: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _LATIN_END.finditer(block):
        end_punct = m.group(1)
        following = block[m.end():]
        if end_punct == "." and not m.group(2) and _is_abbreviation(block[: m.start(1)], following):
            continue
        # "3.5" never reaches here (needs whitespace); a lone "..." mid-sentence before lower
        # case is excluded by the look-ahead.
        piece = block[start : m.end(2)].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = block[start:].strip()
    if tail:
        out.append(tail)
    return out


def _split_cjk(piece: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _CJK_STRONG.finditer(piece):
        s = piece[start : m.end()].strip()
        if s:
            out.append(s)
        start = m.end()
    tail = piece[start:].strip()
    if tail:
        out.append(tail)
    return out


def split_sentences(text: str | None, min_chars: int = 2) -> list[str]:
    """Split text into sentences in reading order; pieces shorter than `min_chars` are merged.

    Works on mixed text: each block is split on Latin-script rules, then any piece with
    full-width terminators is split again on CJK rules.
    """
    if not text or not text.strip():
        return []
    sentences: list[str] = []
    for block in split_blocks(text):
        for piece in _split_latin(block):
            if re.search(f"[{_CJK}]", piece):
                sentences.extend(_split_cjk(piece))
            else:
                sentences.append(piece)
    merged: list[str] = []
    for s in sentences:
        if merged and len(s.strip(_CLOSERS + " .")) < min_chars:
            merged[-1] = merged[-1] + ("" if re.search(f"[{_CJK}]", s) else " ") + s
        else:
            merged.append(s)
    return merged


def possessive_stem(word: str) -> str:
    """Lower case, without a possessive ending ("Anna's" -> "anna")."""
    w = word.lower().replace("’", "'")
    return re.sub(r"('s|s')$", "", w)


def word_root(word: str) -> str:
    """A crude suffix-stripped form, so "walked" supports "walking" (no stemmer dependency)."""
    w = possessive_stem(word)
    for suffix in ("ations", "ation", "ings", "ing", "edly", "ed", "ies", "es", "ly", "s", "e"):
        if len(w) - len(suffix) >= 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w
