"""XLSForm reading (pyxform), column matching, labels, and the expression compiler."""

from __future__ import annotations

import polars as pl
import pytest

from fieldkit.analysis.checks_expr import Column, Compiler, ExprError, ExprUnsupported, parse
from fieldkit.errors import InputError, UsageError
from fieldkit.io import load_dataset
from fieldkit.io.xlsform import header_labels, label_exprs, match_columns, read_form
from tests.conftest import shared


def write_form(path, survey: list[list], choices: list[list] | None = None, settings=None):
    """A small XLSForm workbook written with openpyxl (a pyxform dependency)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    for row in survey:
        ws.append(row)
    if choices is not None:
        wc = wb.create_sheet("choices")
        for row in choices:
            wc.append(row)
    if settings is not None:
        st = wb.create_sheet("settings")
        for row in settings:
            st.append(row)
    wb.save(path)
    return path


SURVEY = [
    ["type", "name", "label::English (en)", "label::French (fr)", "relevant", "constraint"],
    ["start", "start", "", "", "", ""],
    ["begin_group", "hh", "Household", "Ménage", "", ""],
    ["integer", "size", "Household size", "Taille du ménage", "", ". > 0 and . < 30"],
    ["select_multiple src", "sources", "Water sources", "Sources d'eau", "${size} > 0", ""],
    ["text", "sources_other", "Other source", "Autre source", "selected(${sources}, 'other')", ""],
    ["begin_repeat", "member", "Member", "Membre", "", ""],
    ["integer", "age", "Age", "Âge", "", ""],
    ["end_repeat", "", "", "", "", ""],
    ["end_group", "", "", "", "", ""],
]
CHOICES = [
    ["list_name", "name", "label::English (en)", "label::French (fr)"],
    ["src", "tap", "Tap", "Robinet"],
    ["src", "well", "Well", "Puits"],
    ["src", "other", "Other", "Autre"],
]


@pytest.fixture
def form(tmp_path):
    return read_form(write_form(tmp_path / "f.xlsx", SURVEY, CHOICES,
                                [["form_title", "default_language"], ["Test", "French (fr)"]]))


def test_form_tree_languages_groups_and_repeats(form):
    assert form.languages == ["English (en)", "French (fr)"]
    assert form.default_language == "French (fr)"
    assert form.language("en") == "English (en)" and form.language("English") == "English (en)"
    q = form.by_name["sources_other"]
    assert q.path == ("hh",) and q.relevant == "selected(${sources}, 'other')"
    assert form.by_name["age"].in_repeat and not form.by_name["size"].in_repeat
    assert form.label("size") == "Taille du ménage" and form.label("size", "en") == "Household size"
    assert form.choice_labels("src", "fr") == {"tap": "Robinet", "well": "Puits", "other": "Autre"}
    with pytest.raises(UsageError) as e:
        form.language("ar")
    assert "'English (en)', 'French (fr)'" in e.value.hint


@pytest.mark.parametrize("cols", [
    ["hh/size", "hh/sources", "hh/sources/tap", "hh/sources/well", "hh/sources/other"],
    ["hh.size", "hh.sources", "hh.sources.tap", "hh.sources.well", "hh.sources.other"],
    ["size", "sources", "sources.tap", "sources.well", "sources.other"],
    ["size", "sources", "sources/tap", "sources/well", "sources/other"],
])
def test_select_multiple_options_matched_in_every_export_style(form, cols):
    m = match_columns(form, cols)
    assert m.columns["size"] == cols[0] and m.columns["sources"] == cols[1]
    assert m.options["sources"] == {"tap": cols[2], "well": cols[3], "other": cols[4]}
    labels = header_labels(form, m, "en")
    assert labels[cols[0]] == "Household size" and labels[cols[3]] == "Water sources: Well"


def test_choice_labels_replace_codes_as_a_view(form):
    df = pl.DataFrame({"size": [3], "sources": ["tap other"]})
    m = match_columns(form, df.columns)
    out = df.with_columns(label_exprs(form, m, df.schema, "en"))
    assert out.row(0) == (3, "Tap; Other")
    assert df["sources"][0] == "tap other"  # the stored codes are untouched


def test_form_without_survey_sheet_is_refused(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "questions"
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(InputError, match="has no 'survey' sheet"):
        read_form(tmp_path / "bad.xlsx")
    (tmp_path / "notxl.xlsx").write_text("type,name\n")
    with pytest.raises(InputError, match="not a readable Excel workbook"):
        read_form(tmp_path / "notxl.xlsx")


def test_reach_iraq_form_in_arabic_and_english():
    form = read_form(shared("survey", "reach_irq_talafar_water_xlsform.xlsx"))
    ds = load_dataset(shared("survey", "reach_irq_talafar_water_raw.xlsx"))
    m = match_columns(form, ds.columns)
    assert m.columns["age_respondent_r"] == "age_respondent_r"
    assert m.columns["start"] == "X.U.FEFF.start"  # the R-mangled BOM name
    assert m.options["water_sources"]["piped"] == "water_sources.piped"
    assert form.label("hhh_r", "ar") == "هل انت رب الاسرة؟"
    assert form.label("hhh_r", "en") == "Are you the head of household?"
    assert form.choice_labels("yes_no", "Arabic") == {"yes": "نعم", "no": "لا"}


# ---- expressions -------------------------------------------------------------------------------

FRAME = pl.DataFrame({
    "age": [12, 30, None, 45],
    "sm": ["a b", "c", None, "a dont_know"],
    "sm.a": [1, 0, None, 1], "sm.b": [1, 0, None, 0],
    "txt": ["0791234567", "12", "", "07912345678"],
    "yn": ["yes", "no", None, "yes"],
    "x": [1.5, 2.0, 3.0, None],
})


def compile_on(src: str, current: str | None = None) -> list:
    names = {"age": "age", "sm": "sm", "txt": "txt", "yn": "yn", "x": "x"}

    def resolve(name):
        if name not in names:
            raise ExprError(f"unknown {name}")
        opts = {"a": "sm.a", "b": "sm.b"} if name == "sm" else None
        return Column(names[name], FRAME.schema[names[name]], opts)

    cur = resolve(current) if current else None
    return FRAME.select(Compiler(resolve).compile(src, cur).alias("v"))["v"].to_list()


@pytest.mark.parametrize("src,cur,expected", [
    (". > 17 and . < 120", "age", [False, True, False, True]),
    ("${age} >= 18 or ${yn} = 'yes'", None, [True, True, False, True]),
    ("not(${yn} = 'yes')", None, [False, True, True, False]),
    ("${yn} != 'yes'", None, [False, True, True, False]),  # empty != 'yes' is true in XPath
    ("selected(${sm}, 'a')", None, [True, False, False, True]),  # via option columns
    ("selected(${sm}, 'c')", None, [False, True, False, False]),  # via the space-separated codes
    ("count-selected(.) <= 1", "sm", [False, True, True, False]),
    ("not(selected(., 'dont_know') and count-selected(.) > 1)", "sm", [True, True, True, False]),
    ("regex(., '^[0]{1}[0-9]{10}$')", "txt", [False, False, False, True]),
    ("string-length(${txt}) = 2", None, [False, True, False, False]),
    ("${x} * 2 + 1 = 4 and ${x} div 1.5 = 1", None, [True, False, False, False]),
    ("${age} mod 5 = 0", None, [False, True, False, True]),
    ("-${x} < -1.9", None, [False, True, True, False]),
    ("if(${age} > 20, 'old', 'young') = 'old'", None, [False, True, False, True]),
    ("${age} = ''", None, [False, False, True, False]),  # the usual ODK test for "empty"
])
def test_expressions(src, cur, expected):
    assert compile_on(src, cur) == expected


@pytest.mark.parametrize("src", ["${age} >", "(${age} > 1", "${age} > 1)", "'open", "${age} # 2",
                                 "selected(${age})", "${nope} = 1", "regex(., '(')"])
def test_bad_expressions_are_errors(src):
    with pytest.raises(ExprError):
        compile_on(src, "txt")


@pytest.mark.parametrize("src", ["../age > 1", "/data/age > 1", "jr:choice-name(${sm}, 'x')",
                                 "position(..) > 1", "${age}[1] > 0"])
def test_unsupported_constructs_are_reported_not_guessed(src):
    with pytest.raises(ExprUnsupported):
        compile_on(src, "age")


def test_parse_never_evaluates_python():
    with pytest.raises((ExprError, ExprUnsupported)):
        parse("__import__('os').system('true')")
