"""Choosing a legacy encoding by evidence, and reading mostly-UTF-8 files with a few bad lines.

Every candidate that decodes the sample is scored by how much mojibake its text shows:
charset-normalizer's mess ratio (odd accent runs, script and case mixes), ftfy's badness
(UTF-8 read as a code page), and words whose case flips inside (KOI8-R read as cp1251:
"лПМПДЕГ"). The lowest score wins; ties go to the encoding more common in field data, and a
CR-only file (classic Mac OS) favours mac_roman. Only lines with non-ASCII bytes are scored:
ASCII reads the same in all candidates, and it keeps the work to a few KB.

A file that is valid UTF-8 except for a few bytes (one row pasted from a cp1252 program) is
read as UTF-8; only the bad byte runs are decoded with the code page that fits them best,
and each repaired line is counted (`REPAIR_MARK` tags them for the reader to count).
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

# Most common in field data first: the order breaks ties between equally clean readings.
CANDIDATES = [
    "cp1252", "gb18030", "cp1251", "cp1256", "cp1250", "mac_roman", "cp1253", "cp1254",
    "cp1255", "shift_jis", "euc_kr", "big5", "koi8_r", "iso8859_7", "latin_1",
]
# Chosen by leave-one-encoding-out in bench/bench_encodings.py: any step above 0.005 per place
# in CANDIDATES costs right answers (42/44 -> 36/44), so ties alone follow the order; the
# CR-only prior gives the same 42/44 anywhere in 0-0.5 and is kept small, a tie-breaker.
TIE = 0.0
CR_PRIOR = 0.05
# a sample is "UTF-8 with a few bad bytes" when its valid multi-byte characters are at least
# this many times its invalid byte runs. Measured (bench/bench_encodings.py): legacy-encoded
# files reach at most 0.54 (GBK), UTF-8 files with one cp1252 line at least 2.3; the
# geometric-mean cut of every leave-one-out fold falls in 0.9-1.3, so 1.0.
MIXED_UTF8_RATIO = 1.0
SAMPLE_LIMIT = 32 * 1024
REPAIR_MARK = "\ufdd0"  # a Unicode noncharacter: never in real text, tags a repaired run

_NEWLINES = re.compile(rb"\r\n|\r|\n")
_UTF8_MULTI = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_WORD = re.compile(r"[^\W\d_]{3,}")


def non_ascii_lines(data: bytes, limit: int = SAMPLE_LIMIT) -> bytes:
    """The lines holding non-ASCII bytes (the only ones candidates read differently), capped."""
    out, size = [], 0
    for line in _NEWLINES.split(data):
        if line and max(line) > 127:
            out.append(line)
            size += len(line) + 1
            if size >= limit:
                break
    return b"\n".join(out)


def case_anomaly(text: str) -> float:
    """Share of non-ASCII words whose case flips inside (lower then upper), e.g. "лПМПДЕГ"."""
    words = [w for w in _WORD.findall(text) if not w.isascii()]
    cased = [w for w in words if w.lower() != w.upper()]  # scripts without case never flip
    if not cased:
        return 0.0
    odd = sum(1 for w in cased if not (w.islower() or w.isupper() or w.istitle()))
    return odd / len(words)


# what stray bytes turn into but real text of any language hardly holds: C1 controls, box
# drawing and block elements (KOI8/cp437 readings), half-width katakana (Latin-1 bytes read as
# Shift-JIS), private use
_STRAY = re.compile("[\x80-\x9f\u2500-\u259f\uff61-\uff9f\ue000-\uf8ff]")


def mojibake_score(text: str) -> float:
    """Lower is cleaner: mess ratio + ftfy badness and stray characters per non-ASCII
    character + case flips."""
    from charset_normalizer.md import mess_ratio
    from ftfy.badness import badness

    non_ascii = sum(1 for ch in text if ord(ch) > 127) or 1
    return (mess_ratio(text, 1.0) + (badness(text) + len(_STRAY.findall(text))) / non_ascii
            + case_anomaly(text))


def candidate_scores(sample: bytes, newline: str = "\n",
                     candidates: list[str] | None = None) -> dict[str, float]:
    """Score of each candidate that decodes the sample without error (lower is better)."""
    lines = non_ascii_lines(sample)
    scores: dict[str, float] = {}
    seen: dict[str, str] = {}
    for rank, enc in enumerate(candidates or CANDIDATES):
        try:
            text = lines.decode(enc)
        except UnicodeDecodeError:
            continue
        if text in seen:  # same reading as a more common encoding: keep that name only
            continue
        seen[text] = enc
        s = mojibake_score(text) + rank * TIE
        if newline == "\r" and enc == "mac_roman":
            s -= CR_PRIOR
        scores[enc] = s
    return scores


def choose_encoding(sample: bytes, newline: str = "\n") -> str | None:
    """The candidate whose reading shows the least mojibake, or None if none decodes."""
    scores = candidate_scores(sample, newline)
    if not scores:
        return None
    return min(scores, key=scores.get)


def utf8_evidence(sample: bytes, final: bool) -> tuple[int, int]:
    """(valid multi-byte characters, invalid byte runs) when `sample` is read as UTF-8."""
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(sample, final=final)
    invalid = text.count("\ufffd") - sample.count("\xef\xbf\xbd".encode("latin-1"))
    valid = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    return valid, max(0, invalid)


def mixed_utf8_fallback(sample: bytes, final: bool, newline: str = "\n") -> str | None:
    """If `sample` is UTF-8 apart from a few bad runs, the code page that reads those best."""
    valid, invalid = utf8_evidence(sample, final)
    if invalid == 0 or valid == 0 or valid < MIXED_UTF8_RATIO * invalid:
        return None
    bad_lines = []
    for line in _NEWLINES.split(sample):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad_lines.append(_UTF8_MULTI.sub(b" ", line))  # keep only the foreign bytes
    single_byte = [e for e in CANDIDATES if e not in ("gb18030", "shift_jis", "euc_kr", "big5")]
    scores = candidate_scores(b"\n".join(bad_lines), newline, single_byte)
    return min(scores, key=scores.get) if scores else "cp1252"


@lru_cache(maxsize=None)
def repair_handler(fallback: str) -> str:
    """Name of a codec error handler that decodes bad UTF-8 runs with `fallback`, tagged."""
    name = f"fieldkit-utf8-repair-{fallback}"

    def handler(e: UnicodeDecodeError):
        bad = e.object[e.start:e.end]
        return REPAIR_MARK + bytes(bad).decode(fallback, errors="replace"), e.end

    codecs.register_error(name, handler)
    return name
