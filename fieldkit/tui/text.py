"""Text from data (names, values, messages) made safe for Textual's markup parser.

`textual.markup.escape` only escapes brackets that look like lowercase tags, so `[N]` or
`[Other]` would still be read as markup; escaping every `[` keeps any text exactly as typed.
"""

from __future__ import annotations


def escape(text: object) -> str:
    """`text` as markup that renders to exactly `text`."""
    return str(text).replace("[", "\\[")
