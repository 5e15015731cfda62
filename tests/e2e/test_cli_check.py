"""`fieldkit check` and `fieldkit clean` end to end: output, exit codes, provenance, bad input."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from fieldkit.cli import main
from fieldkit.store import read_provenance
from tests.conftest import shared
from tests.unit.test_xlsform import CHOICES, SURVEY, write_form

IRQ = ("survey", "reach_irq_talafar_water_raw.xlsx")
IRQ_FORM = ("survey", "reach_irq_talafar_water_xlsform.xlsx")


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.fixture
def no_other(tmp_path):
    cfg = tmp_path / "checks.toml"
    cfg.write_text("[other]\nenabled = false\n")
    return str(cfg)


def test_check_reach_iraq_in_arabic_and_english(capsys, tmp_path, no_other):
    out_ar, out_en = tmp_path / "ar.parquet", tmp_path / "en.parquet"
    code, out, err = run(capsys, "check", str(shared(*IRQ)), "--form", str(shared(*IRQ_FORM)),
                         "--lang", "ar", "--config", no_other, "-o", str(out_ar))
    assert code == 0, err
    assert "checked 632 submissions of reach_irq_talafar_water_raw.xlsx (key X_uuid, enumerator " \
           "enumerator_num, start X.U.FEFF.start, end end; 148 questions)" in out
    assert "labels in Arabic (ar)" in out
    assert "كم من المال انفقت اسرتك" in out  # pay_water_charges_amount, labelled in Arabic
    code, out_e, _ = run(capsys, "check", str(shared(*IRQ)), "--form", str(shared(*IRQ_FORM)),
                         "--lang", "English", "--config", no_other, "-o", str(out_en))
    assert code == 0 and "labels in English (en)" in out_e
    assert "How much did your household spend" in out_e
    ar, en = pl.read_parquet(out_ar), pl.read_parquet(out_en)
    assert ar.columns == ["uuid", "check", "column", "value", "detail", "severity", "enumerator", "row"]
    assert ar.drop("detail").equals(en.drop("detail"))  # the language changes labels, not findings
    prov = read_provenance(out_ar)
    step = prov["steps"][-1]
    assert step["operation"] == "check" and step["parameters"]["language"] == "Arabic (ar)"
    form_sha = hashlib.sha256(shared(*IRQ_FORM).read_bytes()).hexdigest()
    assert step["parameters"]["form_sha256"] == form_sha
    assert prov["source"]["path"] == str(shared(*IRQ))


@pytest.mark.parametrize("case", ["no_survey_sheet", "bad_expression", "config_typo", "unknown_lang",
                                  "lang_without_form"])
def test_bad_input_is_one_error_line_and_exit_2(capsys, tmp_path, case):
    data = shared(*IRQ)
    form = shared(*IRQ_FORM)
    args = ["check", str(data), "-o", str(tmp_path / "f.parquet")]
    if case == "no_survey_sheet":
        from openpyxl import Workbook

        wb = Workbook()
        wb.active.title = "choices"
        wb.save(tmp_path / "form.xlsx")
        args += ["--form", str(tmp_path / "form.xlsx")]
        want = "error: form form.xlsx has no 'survey' sheet"
    elif case == "bad_expression":
        survey = [row[:] for row in SURVEY]
        survey[3][5] = ". > 0 and and . < 30"  # the constraint of `size`
        write_form(tmp_path / "form.xlsx", survey, CHOICES)
        (tmp_path / "d.csv").write_text("_uuid,size\na,3\nb,40\n")
        args = ["check", str(tmp_path / "d.csv"), "-o", str(tmp_path / "f.parquet"),
                "--form", str(tmp_path / "form.xlsx")]
        want = "error: unexpected 'and' at position 11"
    elif case == "config_typo":
        (tmp_path / "c.toml").write_text("[outliers]\nzz = 3\n")
        args += ["--config", str(tmp_path / "c.toml")]
        want = "error: unknown setting 'zz' in [outliers]"
    elif case == "unknown_lang":
        args += ["--form", str(form), "--lang", "French"]
        want = "error: language 'French' is not in the form"
    else:
        args += ["--lang", "ar"]
        want = "error: --lang needs --form"
    code, out, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2
    assert lines[0].startswith(want), err
    assert len(lines) == 2 and lines[1].startswith("hint: ")
    assert "Traceback" not in err
    assert not (tmp_path / "f.parquet").exists()


def test_clean_refuses_stale_rows_unless_told(capsys, tmp_path):
    data = shared(*IRQ)
    from fieldkit.io import load_dataset

    df = load_dataset(data).frame.collect()
    u, age = df["X_uuid"].to_list(), df["age_respondent_r"].to_list()
    log = tmp_path / "log.csv"
    log.write_text("uuid,question,old_value,new_value,reason,who,when\n"
                   f"{u[0]},age_respondent_r,{age[0]},30,typo,ana,2021-07-06\n"
                   f"{u[1]},age_respondent_r,{age[1] + 7},31,stale,ana,2021-07-06\n")
    out = tmp_path / "clean.parquet"
    code, stdout, err = run(capsys, "clean", str(data), "--log", str(log), "-o", str(out))
    assert code == 2 and not out.exists()
    assert f"refused: log line 3: {u[1]} age_respondent_r: old_value no longer matches: " \
           f"the data holds {age[1]}" in err
    assert "error: 1 of 2 cleaning-log rows refused; nothing was written" in err
    code, stdout, err = run(capsys, "clean", str(data), "--log", str(log), "-o", str(out),
                            "--skip-mismatched")
    assert code == 0, err
    assert "applied 1 of 2 changes (1 refused)" in stdout
    clean = pl.read_parquet(out)
    assert clean["age_respondent_r"][0] == 30 and clean["age_respondent_r"][1] == age[1]
    step = read_provenance(out)["steps"][-1]
    assert step["operation"] == "clean"
    assert step["parameters"]["log_sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()
    assert step["parameters"]["applied"] == 1 and step["parameters"]["refused"] == 1


def test_inspect_and_convert_with_the_form(capsys, tmp_path):
    import json

    data, form = str(shared(*IRQ)), str(shared(*IRQ_FORM))
    code, out, err = run(capsys, "inspect", data, "--form", form, "--lang", "en", "--json")
    assert code == 0, err
    f = json.loads(out)["form"]
    assert f["languages"] == ["English (en)", "Arabic (ar)"] and f["language"] == "English (en)"
    assert f["matched"] == 153 and f["select_multiple_matched"] == 19
    assert f["labels"]["hhh_r"] == "Are you the head of household?"
    assert f["labels"]["water_sources.piped"].endswith(": Piped connection into house or yard")
    out_p = tmp_path / "labels.parquet"
    code, out, err = run(capsys, "convert", data, "--form", form, "--lang", "ar", "--labels",
                         "-o", str(out_p))
    assert code == 0, err
    lab = pl.read_parquet(out_p)
    assert lab["hhh_r"].unique().sort().to_list() == ["لا", "نعم"]
    assert lab["age_respondent_r"].dtype == pl.Int64  # numbers untouched
    step = read_provenance(out_p)["steps"][-1]
    assert step["parameters"]["labels"] is True and step["parameters"]["language"] == "Arabic (ar)"
    code, out, err = run(capsys, "convert", data, "--labels", "-o", str(tmp_path / "x.parquet"))
    assert code == 2 and err.startswith("error: --labels and --lang need --form")


def test_check_findings_of_a_fieldkit_parquet_keep_its_steps(capsys, tmp_path, no_other):
    """check builds its provenance through pipelines.core (the input's earlier steps kept, one step shape)."""
    converted, findings = tmp_path / "irq.parquet", tmp_path / "findings.parquet"
    code, _, err = run(capsys, "convert", str(shared(*IRQ)), "-o", str(converted))
    assert code == 0, err
    code, _, err = run(capsys, "check", str(converted), "--config", no_other, "-o", str(findings))
    assert code == 0, err
    before, after = read_provenance(converted), read_provenance(findings)
    assert after["source"]["path"] == str(converted) and after["source"]["format"] == "parquet"
    assert [s["operation"] for s in after["steps"]] == [s["operation"] for s in before["steps"]] + ["check"]
    assert list(after["steps"][-1]) == ["operation", "parameters", "started", "seconds"]
    assert after["steps"][-1]["parameters"]["findings"] == pl.read_parquet(findings).height > 0
