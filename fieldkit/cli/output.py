"""Printing for the CLI: everything that may hold text from data goes through `echo`.

Control characters are made visible with fieldkit.display's one escape table (ESC shows as
␛, C1 and bidi overrides as their code), line by line so multi-line output (digests,
summaries) keeps its lines; JSON text gets \\uXXXX escapes instead, so it stays valid JSON.
"""

from __future__ import annotations

import re

import click

from fieldkit.display import escape_controls

# JSON already escapes C0 controls; DEL, C1 controls and bidi marks would pass raw
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """`text` with control characters shown escaped; newlines kept as line breaks."""
    s = text if isinstance(text, str) else str(text)
    return "\n".join(escape_controls(line) for line in s.replace("\r\n", "\n").split("\n"))


def safe_json(text: str) -> str:
    """JSON text with DEL, C1 controls and bidi marks as \\uXXXX (valid JSON, inert on a terminal)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def echo(text: object = "", nl: bool = True, err: bool = False, as_json: bool = False) -> None:
    """click.echo for anything that may hold text from data: control characters shown escaped."""
    click.echo(safe_json(str(text)) if as_json else safe(text), nl=nl, err=err)
