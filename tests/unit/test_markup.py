"""Markdown and reStructuredText documents are summarized from their paragraphs (markup, code and tables left out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldkit.analysis.markup import plain_paragraphs

SITREP_MD = """# Situation report 14

Water trucking reached **six** of the eight camps this week. Two camps
in the north were cut off by flooding on the main road.

| camp | litres |
|------|--------|
| A    | 12000  |

- Chlorine stocks run out in 10 days
- The borehole at camp C needs a new pump

```
fieldkit summarize sitrep.md
```

See [the dashboard](https://example.org) for the
daily figures.
"""


def test_markdown_paragraphs_items_and_headings():
    assert plain_paragraphs(SITREP_MD, "md").split("\n") == [
        "Situation report 14.",
        "Water trucking reached six of the eight camps this week. Two camps in the north were cut off by "
        "flooding on the main road.",
        "Chlorine stocks run out in 10 days.",
        "The borehole at camp C needs a new pump.",
        "See the dashboard for the daily figures.",
    ]


def _descriptions() -> list[Path]:
    import sklearn

    return sorted((Path(sklearn.__file__).parent / "datasets" / "descr").glob("*.rst"))


def test_rst_dataset_descriptions_read_as_reports(tmp_path):
    """scikit-learn's 14 dataset descriptions (real reStructuredText, wrapped at ~79 columns, with tables,
    doctests and directives): every one was summarized as a list of answers ('- 'talk.religion.misc'] (~32%
    of lines)'); now as reports made of their own sentences."""
    from fieldkit import pipelines
    from fieldkit.analysis.summary_genre import detect_shape

    files = _descriptions()
    assert len(files) >= 10
    assert all(detect_shape(f.read_text("utf-8")).genre == "answers" for f in files)  # as they were read
    for f in files:
        s = pipelines.summarize(f).outcome.groups[0].summary
        assert s.genre == "report", f.name
        assert "% of lines" not in s.text and ">>>" not in s.text and "====" not in s.text, f.name
        plain = " ".join(plain_paragraphs(f.read_text("utf-8"), "rst").split())
        assert all(" ".join(u.split()) in plain for u in s.units), f.name


@pytest.mark.parametrize("kind", ["md", "rst"])
def test_hostile_markup_never_raises(kind):
    # the long lines took 19-27 s each before the inline marks were bounded (a lazy match scanned to the line's end
    # from every start); a wrapped text of 50,000 lines never finished unwrapping (each join copied the paragraph)
    for text in ["```", "====\n", ".. ::\n   x", ":a:\n", "- \n-", "[x](" * 500, "`" * 1000, "\x1b[31m# t\n",
                 "*a " * 20000, "__a " * 20000, "`a <b" * 20000]:
        assert isinstance(plain_paragraphs(text, kind), str)
    from fieldkit.analysis.unwrap import unwrap

    assert unwrap(("x" * 70 + "\n") * 50000).count("\n") == 1
