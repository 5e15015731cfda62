"""Required questions and repeat groups: a household form with a member roster, written here.

The form (an XLSForm with a `members` repeat, a conditional `required` and skip logic that
reads both the member and the household) and its exports are built by the test, as Kobo
writes them: an Excel workbook with one sheet per repeat linked by `_submission__uuid` (or
`_parent_index`), and a JSON export with each submission's members as a list of records.
Defects are planted in known places and the checks must find exactly those.
"""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import polars as pl
import pytest

from fieldkit.analysis.checks import run_checks
from fieldkit.analysis.checks_config import load_config
from fieldkit.io import load_dataset
from fieldkit.io.xlsform import read_form
from tests.unit.test_xlsform import write_form

SURVEY = [
    ["type", "name", "label::English (en)", "relevant", "constraint", "required"],
    ["start", "start", "", "", "", ""],
    ["end", "end", "", "", "", ""],
    ["integer", "hh_size", "Household size", "", ". > 0 and . < 30", "yes"],
    ["begin repeat", "members", "Members", "", "", ""],
    ["integer", "age", "Age", "", ". >= 0 and . < 120", "yes"],
    ["select_one yn", "school", "Goes to school", "${age} < 18", "", "yes"],
    ["text", "job", "Work", "${age} >= 18 and ${hh_size} > 1", "", ""],
    ["end repeat", "", "", "", "", ""],
    ["select_one yn", "water", "Enough water", "", "", "yes"],
    ["integer", "litres", "Litres a day", "", ". > 0", "${water} = 'yes'"],
]
CHOICES = [["list_name", "name", "label::English (en)"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]
CONFIG = {name: {"enabled": False} for name in ("duplicates", "duration", "enumerators", "other",
                                                "gps", "outliers")}


def _form(tmp_path):
    return write_form(tmp_path / "household.xlsx", SURVEY, CHOICES)


def _households(n: int = 12):
    """Clean submissions: members' ages, school for children, work for adults in bigger homes."""
    t0 = dt.datetime(2026, 3, 1, 9, 0)
    subs = []
    for i in range(n):
        ages = [30 + i, 8 + i % 5] + ([70] if i % 3 == 0 else [])
        members = []
        for a in ages:
            m = {"age": a}
            if a < 18:
                m["school"] = "yes" if i % 2 else "no"
            if a >= 18 and len(ages) > 1:
                m["job"] = "farmer"
            members.append(m)
        water = "yes" if i % 4 else "no"
        subs.append({"start": t0 + dt.timedelta(hours=i), "end": t0 + dt.timedelta(hours=i, minutes=30),
                     "hh_size": len(ages), "water": water, "litres": 40 + i if water == "yes" else None,
                     "username": f"enum{i % 2}", "_uuid": f"uuid-{i:02d}", "_index": i + 1,
                     "members": members})
    return subs


def _plant(subs):
    """One defect of each kind; returns the (submission, check, column) triples expected."""
    subs[2]["members"][0]["age"] = 150  # constraint in the repeat
    subs[3]["members"][0]["school"] = "no"  # an adult answering the children's question
    del subs[5]["members"][1]["school"]  # a child's required question left blank
    subs[6]["litres"] = None  # conditionally required (water = yes) and blank
    subs[7]["water"] = None  # always required, blank (litres, which reads it, stays answered)
    return {(2, "constraint", "members/age"), (3, "relevant", "members/school"),
            (5, "required", "members/school"), (6, "required", "litres"),
            (7, "required", "water")}


def _write_excel(subs, path, link: str = "_submission__uuid"):
    wb = openpyxl.Workbook()
    main = wb.active
    main.title = "household"
    head = ["start", "end", "hh_size", "water", "litres", "username", "_uuid", "_index"]
    main.append(head)
    for s in subs:
        main.append([s[h] for h in head])
    rep = wb.create_sheet("members")
    rep.append(["members/age", "members/school", "members/job", "_index", "_parent_table_name",
                "_parent_index", "_submission__uuid"])
    k = 0
    for s in subs:
        for m in s["members"]:
            k += 1
            parent = s["_uuid"] if link == "_submission__uuid" else "x"
            rep.append([m.get("age"), m.get("school"), m.get("job"), k, "household",
                        s["_index"], parent])
    wb.save(path)
    return path


def _write_json(subs, path):
    rows = [{**{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in s.items()
                if k != "members"},
             "members": [{f"members/{k}": v for k, v in m.items()} for m in s["members"]]}
            for s in subs]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def _found(path, form, sheets=None) -> tuple[set[tuple], object]:
    from fieldkit.pipelines.check import check

    ds = load_dataset(path)
    job = check(ds, form=form)
    f = job.result.findings
    keys = {(r["row"], r["check"], r["column"]) for r in f.iter_rows(named=True)
            if r["check"] in ("constraint", "relevant", "required")}
    return keys, job.result


@pytest.mark.parametrize("fmt", ["excel", "json"])
def test_clean_export_has_no_findings_and_planted_ones_are_found_exactly(tmp_path, fmt):
    form = _form(tmp_path)
    write = _write_excel if fmt == "excel" else _write_json
    clean = write(_households(), tmp_path / f"clean.{'xlsx' if fmt == 'excel' else 'json'}")
    found, res = _found(clean, form)
    assert found == set(), res.findings
    assert res.skipped == []
    subs = _households()
    expect = _plant(subs)
    dirty = write(subs, tmp_path / f"dirty.{'xlsx' if fmt == 'excel' else 'json'}")
    found, res = _found(dirty, form)
    assert found == expect
    f = res.findings
    # repeat findings land on their household, and say which member
    age = f.filter(pl.col("column") == "members/age").row(0, named=True)
    assert age["uuid"] == "uuid-02" and age["value"] == "150"
    assert "in repeat members, item 1" in age["detail"]
    child = f.filter(pl.col("check") == "required", pl.col("column") == "members/school").row(0, named=True)
    assert child["uuid"] == "uuid-05" and "item 2" in child["detail"]
    litres = f.filter(pl.col("column") == "litres").row(0, named=True)
    assert "${water} = 'yes'" in litres["detail"] and litres["severity"] == "error"


def test_items_link_by_parent_index_when_there_is_no_submission_uuid(tmp_path):
    form = _form(tmp_path)
    subs = _households()
    expect = _plant(subs)
    path = _write_excel(subs, tmp_path / "dirty.xlsx", link="_parent_index")
    wb = openpyxl.load_workbook(path)
    ws = wb["members"]
    ws.delete_cols(7)  # no _submission__uuid: only _parent_index -> the household's _index
    wb.save(path)
    found, _ = _found(path, form)
    assert found == expect


def test_a_question_blank_in_most_submissions_is_one_finding_for_the_form(tmp_path):
    """Blank wherever the form shows it: another form version, one warning, not one per row."""
    form = read_form(_form(tmp_path))
    subs = _households()
    for s in subs:
        s["litres"] = None
    ds = load_dataset(_write_json(subs, tmp_path / "v2.json"))
    res = run_checks(ds.frame, survey=ds.survey, form=form, config=load_config(overrides=CONFIG))
    req = res.findings.filter(pl.col("check") == "required")
    assert req.height == 1
    r = req.row(0, named=True)
    assert r["row"] is None and r["column"] == "litres" and r["severity"] == "warning"
    assert r["value"] == "9 of 9"  # 9 of the 12 households said they have water
    # with the share raised to 1.0 each household is its own finding again
    cfg = load_config(overrides={**CONFIG, "required": {"systematic_share": 1.0}})
    res = run_checks(ds.frame, survey=ds.survey, form=form, config=cfg)
    assert res.findings.filter(pl.col("check") == "required").height == 9


def test_required_can_be_switched_off(tmp_path):
    form = read_form(_form(tmp_path))
    subs = _households()
    _plant(subs)
    ds = load_dataset(_write_json(subs, tmp_path / "d.json"))
    cfg = load_config(overrides={**CONFIG, "required": {"enabled": False}})
    res = run_checks(ds.frame, survey=ds.survey, form=form, config=cfg)
    assert set(res.findings["check"]) == {"constraint", "relevant"}


def test_repeat_records_with_fieldkits_own_column_names_are_skipped_with_a_note(tmp_path):
    """A hostile export naming a member field like fieldkit's link columns cannot move findings."""
    form = read_form(_form(tmp_path))
    subs = _households()
    rows = [{**{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in s.items()
                if k != "members"},
             "members": [{"members/age": 150, "__parent": 0, "__item": 9}]} for s in subs]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    ds = load_dataset(path)
    res = run_checks(ds.frame, survey=ds.survey, form=form, config=load_config(overrides=CONFIG))
    assert not res.findings.filter(pl.col("column").str.starts_with("members/")).height
    assert any("repeat members: a field is named like fieldkit's own columns" in s for s in res.skipped)
