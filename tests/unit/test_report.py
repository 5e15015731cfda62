"""`fieldkit report` on real outputs of each kind: titles, numbers, inline charts, no URL, languages."""

from __future__ import annotations

import html
import re

import polars as pl
import pytest

from fieldkit.pipelines.core import dataset, save_annotated
from fieldkit.pipelines.report import report
from fieldkit.report import WORDS
from tests.conftest import shared
from tests.e2e.test_cli_check import IRQ, IRQ_FORM, run

R_SURVEY = ("survey", "rstudio_r_community_survey_2019_en.tsv")
LIKE = "What do you like best about using R?"
LEVEL = "How would you rate your level of experience using R?"
BGD = ("survey", "reach_bgd_hfc_sample_dataset.csv")


def assert_self_contained(page: str, n_charts: int) -> None:
    """Every chart is an inline <svg>; nothing is fetched: no URL, script, link, image or font."""
    assert page.count('<figure class="chart">') == n_charts
    assert page.count("<svg ") == n_charts and page.count("</svg>") == n_charts
    assert "http://" not in page and "https://" not in page
    for bad in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "@font-face"):
        assert bad not in page.lower(), bad
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)  # escaped data has no '<', so these are real tags
    assert not [t for t in tags if re.search(r"\s(src|srcset|action|data)\s*=", t)]
    hrefs = [h for t in tags for h in re.findall(r'\shref="([^"]*)"', t)]
    assert all(h.startswith("#") for h in hrefs), hrefs  # only links inside the page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "element ids repeat across charts"


def cells(page: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)]


@pytest.fixture(scope="module")
def themes_file(tmp_path_factory):
    from fieldkit.io import load_dataset
    from fieldkit.pipelines.themes import themes

    ds = load_dataset(shared(*R_SURVEY))
    df = ds.frame.select(LIKE, LEVEL).filter(pl.col(LIKE).is_not_null()).head(160).collect()
    res = themes(df, LIKE, by=LEVEL, k=6)
    out = tmp_path_factory.mktemp("rep") / "themes.parquet"
    save_annotated(dataset(df), res.columns, [res.step], out)
    return out


@pytest.fixture(scope="module")
def logs_files(tmp_path_factory):
    from fieldkit.pipelines.logs import logs

    d = tmp_path_factory.mktemp("logs")
    lines = shared("logs", "Apache_2k.log").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "first.log").write_text("".join(lines[:400]), encoding="utf-8")
    logs([d / "first.log"], d / "first.parquet", templates_out=d / "first_templates.parquet")
    logs([shared("logs", "Apache_2k.log")], d / "all.parquet")
    return d


def test_themes_report_shares_by_group_examples_and_provenance(themes_file, tmp_path):
    out = tmp_path / "r.html"
    res = report([themes_file], out, title="Field day <1> & R", by=LEVEL)
    page = out.read_text(encoding="utf-8")
    rep = res.outcome.report
    assert [s.kind for s in rep.sections] == ["themes"]
    assert_self_contained(page, len(rep.charts))
    assert len(rep.charts) == 2  # overall and per group
    assert "<title>Field day &lt;1&gt; &amp; R</title>" in page
    df = pl.read_parquet(themes_file)
    top = (df.filter(pl.col("theme_id") >= 0).group_by("theme_label").len()
           .sort(["len", "theme_label"], descending=[True, False]).row(0))
    td = cells(page)
    i = td.index(top[0])
    assert td[i + 1] == f"{top[1]:,}" and td[i + 2] == f"{top[1] / df.height:.1%}"
    # an example of the top theme is one of its own answers
    examples = td[i + 3].split(" · ")
    own = {" ".join(t.split()) for t in df.filter(pl.col("theme_label") == top[0])[LIKE].to_list()}
    assert examples and set(examples) <= own
    # the per-group table: one row per experience level with its number of answers
    sizes = dict(df.group_by(LEVEL).len().iter_rows())
    by_table = rep.sections[0].tables[1]
    assert {r[0]: r[1] for r in by_table.rows} == sizes
    for row in by_table.rows:  # the shares of a group add up to 100%
        assert abs(sum(float(x.rstrip("%")) for x in row[2:]) - 100) < 0.1 * len(row)
    # provenance: the source file's sha256, the themes step with its model and hash
    step = [s for s in rep.inputs[0].provenance["steps"] if s["operation"] == "themes"][0]
    assert step["model"] in page and step["model_sha256"] in page
    assert rep.inputs[0].sha256 in page and len(rep.inputs[0].sha256) == 64


def test_codes_report_counts_people_model_and_review(tmp_path, capsys):
    b = pl.read_csv(shared("coding", "banking77_train.csv"))
    cats = ["card_arrival", "exchange_rate", "pin_blocked", "top_up_failed"]
    sub = pl.concat([b.filter(pl.col("category") == c).head(40) for c in cats]).with_row_index("i")
    sub = sub.with_columns(pl.when(pl.col("i") % 4 == 0).then(pl.col("category")).alias("labels"),
                           pl.when(pl.col("i") % 2 == 0).then(pl.lit("app")).otherwise(pl.lit("phone"))
                           .alias("channel")).drop("i")
    sub.write_csv(tmp_path / "bank.csv")
    code, _, err = run(capsys, "code", str(tmp_path / "bank.csv"), "--column", "text", "--labels", "labels",
                       "-o", str(tmp_path / "codes.parquet"))
    assert code == 0, err
    code, out, err = run(capsys, "report", str(tmp_path / "codes.parquet"), "-o", str(tmp_path / "c.html"),
                         "--by", "channel", "--pdf")
    assert code == 0, err
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    df = pl.read_parquet(tmp_path / "codes.parquet")
    review = int(df["needs_review"].sum())
    assert f"needs review: {review:,} / {df.height:,}" in page
    assert_self_contained(page, page.count('<figure class="chart">'))
    assert page.count('<figure class="chart">') == 4  # shares, who coded, confidence, by channel
    td = cells(page)
    for c in cats:
        rows = df.filter(pl.col("code") == c)
        i = td.index(c)
        human = rows.filter(pl.col("code_source") == "human").height
        model = rows.filter(pl.col("code_source") == "model").height
        assert td[i + 1: i + 5] == [f"{rows.height:,}", f"{rows.height / df.height:.1%}", f"{human:,}",
                                    f"{model:,}"]
    assert "codes.parquet: 4 charts, 2 tables" in out
    pdf = (tmp_path / "c.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 6


def test_checks_report_per_check_and_enumerator_with_arabic_form_labels(tmp_path, capsys):
    cfg = tmp_path / "checks.toml"
    cfg.write_text("[other]\nenabled = false\n")
    findings = tmp_path / "f.parquet"
    code, _, err = run(capsys, "check", str(shared(*IRQ)), "--form", str(shared(*IRQ_FORM)),
                       "--config", str(cfg), "-o", str(findings))
    assert code == 0, err
    code, _, err = run(capsys, "report", str(findings), "-o", str(tmp_path / "ar.html"), "--lang", "ar",
                       "--form", str(shared(*IRQ_FORM)), "--title", "تقرير تلعفر")
    assert code == 0, err
    page = (tmp_path / "ar.html").read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in page and WORDS["ar"]["findings_by_check"] in page
    assert_self_contained(page, 2)
    df = pl.read_parquet(findings)
    td = cells(page)
    for check, n in df.group_by("check").len().iter_rows():
        i = td.index(check)
        assert td[i + 2] == f"{n:,}"
        assert td[i + 3] == f"{df.filter(pl.col('check') == check)['uuid'].n_unique():,}"
    top_enum, n = (df.filter(pl.col("enumerator").is_not_null()).group_by("enumerator").len()
                   .sort(["len", "enumerator"], descending=[True, False]).row(0))
    assert td[td.index(str(top_enum)) + 1] == f"{n:,}"
    # question labels come from the form, in Arabic
    from fieldkit.io.xlsform import header_labels, match_columns, read_form

    form = read_form(shared(*IRQ_FORM))
    questions = df.filter(pl.col("column") != "")["column"].unique().to_list()
    ar = header_labels(form, match_columns(form, questions), "ar")
    labelled = [q for q in questions if ar.get(q) and q in td]
    assert labelled, "no question with findings has an Arabic label"
    for q in labelled:
        assert td[td.index(q) + 1] == ar[q] and re.search("[\u0600-\u06ff]", ar[q])


def test_logs_report_levels_error_timelines_and_new_templates(logs_files, tmp_path):
    out = tmp_path / "l.html"
    res = report([logs_files / "all.parquet"], out, lang="fr",
                 baseline=logs_files / "first_templates.parquet")
    page = out.read_text(encoding="utf-8")
    sec = res.outcome.report.sections[0]
    assert sec.kind == "logs" and '<html lang="fr" dir="ltr">' in page
    df = pl.read_parquet(logs_files / "all.parquet")
    levels = {r[0]: r[1] for r in sec.tables[0].rows}
    assert levels == dict(df.group_by("level").len().iter_rows())
    lines = sec.charts[0]
    assert lines.kind == "lines" and sum(sum(v) for v in lines.series.values()) == \
        df.filter(pl.col("timestamp").is_not_null()).height
    from fieldkit.analysis.logs import ERROR_LEVELS

    errors = df.filter(pl.col("level").is_in(list(ERROR_LEVELS)))
    timeline = sec.charts[1]
    top_id = errors.group_by("template_id").len().sort(["len", "template_id"], descending=[True, False]).row(0)
    name = next(k for k in timeline.series if k.startswith(f"#{top_id[0]} "))
    assert sum(timeline.series[name]) == top_id[1]
    base = set(pl.read_parquet(logs_files / "first_templates.parquet")["template"].to_list())
    new = {t for t in df["template"].unique().to_list() if t not in base}
    assert WORDS["fr"]["new_templates"].format(n=len(new)) in html.unescape(page)
    assert new and all(html.escape(t[:150]) in page or t[:150] in html.unescape(page) for t in new)
    assert_self_contained(page, len(res.outcome.report.charts))


def test_survey_report_per_day_and_enumerator(tmp_path):
    out = tmp_path / "s.html"
    res = report([shared(*BGD)], out)
    sec = res.outcome.report.sections[0]
    assert sec.kind == "survey"
    raw = pl.read_csv(shared(*BGD), infer_schema_length=0)
    counts = dict(raw.group_by("enumerator_id").len().iter_rows())
    table = sec.tables[1]
    assert table.total == len(counts) and len(table.rows) == min(len(counts), 100)
    assert all(counts[r[0]] == r[1] for r in table.rows)
    assert [r[1] for r in table.rows] == sorted(counts.values(), reverse=True)[:len(table.rows)]
    per_day = sec.tables[0]
    assert sum(r[1] for r in per_day.rows) == raw["X_submission_time"].drop_nulls().len()
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page, 2)
    assert "Submissions per day (X_submission_time)" in page


def test_hostile_text_is_escaped_and_never_a_link(tmp_path):
    df = pl.DataFrame({"answer": ['<img src=x onerror="alert(1)">', "see https://evil.example/x.js",
                                  "</svg><script>alert(2)</script>", "plain"],
                       "district": ["<b>north</b>", "south", "south", "north"]})
    cols = {"theme_id": pl.Series([0, 0, 1, -1]), "theme_label": pl.Series(["<i>t0</i>", "<i>t0</i>",
                                                                           "t1 $x^2$", None]),
            "theme_score": pl.Series([0.9, 0.8, 0.7, None])}
    step = {"operation": "themes", "parameters": {"column": "answer"}}
    save_annotated(dataset(df), cols, [step], tmp_path / "t.parquet")
    report([tmp_path / "t.parquet"], tmp_path / "h.html", by="district", title="<script>x</script>")
    page = (tmp_path / "h.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page and "<b>north" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "https://evil" in html.unescape(page) and 'href="https' not in page
    assert_self_contained(page.replace("https://evil.example/x.js", ""), 2)


def test_bad_inputs_exit_2_and_leave_the_old_report(tmp_path, capsys, themes_file):
    old = tmp_path / "r.html"
    old.write_text("old report", encoding="utf-8")
    cases = [(["report", str(tmp_path / "none.parquet"), "-o", str(old)], "does not exist"),
             (["report", str(themes_file), "-o", str(old), "--by", "nope"], "no themes or codes input"),
             (["report", str(themes_file), "-o", str(old), "--lang", "xx"], "does not speak"),
             (["report", str(themes_file), "-o", str(tmp_path / "r.txt")], "does not end in .html"),
             (["report", str(shared("logs", "Apache_2k.log")), "-o", str(old)], "not a table")]
    for args, msg in cases:
        code, out, err = run(capsys, *args)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert lines[0].startswith("error: ") and msg in lines[0] and lines[-1].startswith("hint: ")
        assert "Traceback" not in err
    assert old.read_text(encoding="utf-8") == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_every_language_has_every_word():
    for lang, words in WORDS.items():
        assert set(words) == set(WORDS["en"]), lang
