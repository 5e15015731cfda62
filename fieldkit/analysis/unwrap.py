"""Hard-wrapped prose back to one line per paragraph (READMEs, e-mails, reports typed at 72 columns).

Why: the summaries read a text's shape line by line; a report wrapped at 72 columns has short lines
that do not end like sentences, so it read as a list of answers and was summarized as one.
A wrapped text fills its lines to nearly the same width, except each paragraph's last line; a list
of answers or a log does not. Lines that open a speaker turn, a list item or a heading always start
a line of their own, so a wrapped transcript keeps its turns.
"""

from __future__ import annotations

import re

# a line that starts something: "Name: ...", "- item", "* item", "1. item", "# heading", "> quote", or an
# indented line (a list, a quote, code)
_STARTS = re.compile(r"^(?:\s{2,}|\t|\s*(?:[-*•>#]|\d{1,3}[.)]\s|[A-Z#][\w.'’ #-]{0,30}:(?:\s|$)))")
# Picked on the shared sets, as written and wrapped at 60-100 columns, leaving one set out (bench/cv_unwrap.py):
# every fold picks these but one, and the left-out figure is flat over the grid.
_HYPHEN_END = re.compile(r"\w-$")
MIN_FILLED = 3  # lines filled to the width before a text counts as wrapped
FILLED_SHARE = 0.7  # of the lines followed by another line of their paragraph
SLACK = 0.15  # a filled line is at least (1 - SLACK) x the text's width


def wrap_width(lines: list[str]) -> int | None:
    """The column a text is wrapped at, or None when its lines are not filled to one width."""
    # lines followed by one that may continue them (not blank, not a new turn or item)
    body = [len(a.rstrip()) for a, b in zip(lines, lines[1:]) if a.strip() and b.strip() and not _STARTS.match(b)]
    if len(body) < MIN_FILLED:
        return None
    width = sorted(body)[int(0.9 * (len(body) - 1))]
    if not 30 <= width <= 160:
        return None
    filled = sum(n >= (1 - SLACK) * width for n in body)
    return width if filled >= max(MIN_FILLED, FILLED_SHARE * len(body)) else None


def unwrap(text: str) -> str:
    """`text` with each wrapped paragraph joined into one line; unchanged when it is not wrapped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    width = wrap_width(lines)
    if width is None:
        return text
    out: list[list[str]] = []  # each output line as its pieces, joined once at the end (no quadratic copies)
    joinable = False  # the previous line was filled, so this one may continue it
    for line in lines:
        stripped = line.strip()
        if stripped and joinable and out and not _STARTS.match(line):
            prev = out[-1]  # a word broken after its hyphen ("re-" / "elected") joins without a blank
            prev[-1] = prev[-1].rstrip()
            prev.append(("" if _HYPHEN_END.search(prev[-1]) else " ") + stripped)
        else:
            out.append([line.rstrip()])
        joinable = bool(stripped) and len(line.rstrip()) >= (1 - SLACK) * width
    return "\n".join("".join(parts) for parts in out)


def unwrap_document(text: str) -> str:
    """`unwrap` for a document about to be summarized: never for one that already reads as a dialogue or a log.

    Why the guard: log lines can fill a width too (1.00 -> 0.70 of loghub blocks read as logs when
    unwrapped), and a transcript whose turns fit on one line needs nothing joined.
    """
    from fieldkit.analysis.summary_genre import detect_shape

    if detect_shape(text).genre in ("dialogue", "log"):
        return text
    return unwrap(text)
