"""Markdown and reStructuredText as plain paragraphs, one per line, for the summaries.

Why: in both formats a paragraph is its lines up to a blank line, so a README or a report
written in them is wrapped by definition; read line by line, every such file looked like a
list of short answers (14 of 14 scikit-learn dataset descriptions). Code, tables, directives,
heading underlines and link targets carry no sentences and are left out; a list item stays a
line of its own; inline markup is reduced to its text.
"""

from __future__ import annotations

import re

MARKUP_SUFFIXES = {".md": "md", ".markdown": "md", ".rst": "rst"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s*([=\-~^*+#`:._\"'])\1{2,}\s*$")  # heading underlines, transitions
_TABLE = re.compile(r"^\s*(?:[=+\-|: ]{3,}|\|.*\|)\s*$")  # table borders and pipe-table rows
_TABLE_BORDER = re.compile(r"^\s*=+(?:\s+=+)+\s*$")  # an RST simple table's border: `=====  =====`
_DIRECTIVE = re.compile(r"^\s*\.\.(?:\s|$)")  # `.. note::`, `.. _label:`, `..` comments
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|#\.)\s+")
_FIELD = re.compile(r"^:([^:`]{1,60}):(?!`)\s*(.*)$")  # RST field list `:Creator: R.A. Fisher`, not :func:`x`
# Bounded spans (at most 300 characters inside a mark): unbounded lazy matches with a back-reference took 19 s on a
# 60 KB line of "*a " (each start scanned to the end of the line).
_INLINE = (
    (re.compile(r":[\w:+-]{1,40}:`~?([^`<]{0,300}?)(?:\s{0,5}<[^>]{0,300}>)?`"), r"\1"),  # :func:`x`, :ref:`t <x>`
    (re.compile(r"`([^`<]{1,300}?)\s{0,5}<[^>]{1,300}>`_{1,2}"), r"\1"),  # `text <url>`_
    (re.compile(r"!?\[([^\]\n]{0,300})\]\([^)\n]{0,500}\)"), r"\1"),  # [text](url), ![alt](src)
    (re.compile(r"`{1,2}([^`\n]{1,300})`{1,2}_{0,2}"), r"\1"),
    (re.compile(r"\*\*([^*\n]{1,300})\*\*|\*([^*\n]{1,300})\*|__([^_\n]{1,300})__"),
     lambda m: m.group(1) or m.group(2) or m.group(3)),
)


def _closed(line: str) -> str:
    """A heading or field line ends as a sentence, so the sentence splitter does not run it into the next line."""
    return line if not line or line[-1] in ".!?:;。！？" else line + "."


def _inline(line: str) -> str:
    for rx, sub in _INLINE:
        line = rx.sub(sub, line)
    return line


def plain_paragraphs(text: str, kind: str) -> str:
    """A Markdown (`md`) or reStructuredText (`rst`) document's paragraphs, items and headings, one per line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []

    item = [False]  # the paragraph being read is a list item (closed as a sentence, as headings are)

    def flush() -> None:
        if para:
            joined = " ".join(para)
            out.append(_closed(joined) if item[0] else joined)
            para.clear()
        item[0] = False

    fenced = in_table = doctest = False
    literal_indent: int | None = None  # inside an RST literal block (after `::`) or a directive's options
    for i, raw in enumerate(lines):
        line = raw.rstrip()
        indent = len(line) - len(line.lstrip())
        if _FENCE.match(line):
            flush()
            fenced = not fenced
            continue
        if fenced:
            continue
        if literal_indent is not None:
            if not line.strip() or indent > literal_indent:
                continue
            literal_indent = None
        if kind == "rst" and _TABLE_BORDER.match(line):
            flush()  # a simple table: a border opens it, a border before a blank line (or the end) closes it
            in_table = not in_table or not (i + 1 >= len(lines) or not lines[i + 1].strip())
            continue
        if in_table:
            continue
        if not line.strip():
            flush()
            doctest = False
            continue
        if line.lstrip().startswith(">>>") or doctest:
            flush()  # an interactive example, to the next blank line
            doctest = True
            continue
        if _RULE.match(line) or _TABLE.match(line):
            if len(para) == 1:  # an RST heading: the line above its underline
                para[0] = _closed(para[0])
            flush()
            continue
        if kind == "rst" and _DIRECTIVE.match(line):
            flush()
            continue
        if kind == "md" and indent >= 4 and not para and not _ITEM.match(line):
            continue  # an indented code block
        stripped = line.strip()
        if kind == "md" and stripped.startswith("#"):
            flush()
            out.append(_closed(_inline(stripped.lstrip("#").strip())))
            continue
        field = _FIELD.match(stripped) if kind == "rst" else None
        if field:
            flush()
            if field.group(2):
                out.append(_closed(f"{field.group(1)}: {_inline(field.group(2))}"))
            continue
        if _ITEM.match(line):
            flush()
            item[0] = True
            para.append(_inline(_ITEM.sub("", line, count=1).strip()))
            continue
        if kind == "rst" and stripped.endswith("::"):
            literal_indent = indent
            stripped = stripped[:-1] if not stripped.endswith(" ::") else stripped[:-3]
            if not stripped.strip():
                flush()
                continue
        para.append(_inline(stripped))
    flush()
    return "\n".join(p for p in out if p.strip())
