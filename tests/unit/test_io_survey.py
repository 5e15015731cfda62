"""Survey-export awareness on real Kobo exports, the project's sample, and each timestamp form."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from fieldkit.io import inspect_dataset, load_dataset
from fieldkit.io import survey
from tests.conftest import SAMPLE_DATA, shared

UTC = dt.timezone.utc


def test_bangladesh_kobo_csv(fk_home):
    ds = load_dataset(shared("survey", "reach_bgd_hfc_sample_dataset.csv"))
    s = ds.survey
    assert s.tool == "kobotoolbox"
    assert {"X_uuid", "X_submission_time", "X_index", "meta.instanceID"} <= set(s.metadata)
    assert s.group_separator == "." and s.groups["consent_received"] > 100
    sm = {m["column"]: m["options"] for m in s.select_multiple}
    base = "consent_received.wash.water_collection_problem"
    assert sm[base][:2] == [f"{base}.too_far", f"{base}.too_steep"] and len(sm[base]) == 9
    assert s.gps == [{"base": "gps_reading", "combined": "gps_reading",
                      "latitude": "X_gps_reading_latitude", "longitude": "X_gps_reading_longitude",
                      "altitude": "X_gps_reading_altitude", "precision": "X_gps_reading_precision"}]
    df = ds.frame.collect()
    assert df.height == 498 and df.width == 587
    first = df.row(0, named=True)
    assert first["X_gps_reading_latitude"] == pytest.approx(21.0222430219974)
    assert first["X_gps_reading_longitude"] == pytest.approx(92.1787622631151)
    assert first["gps_reading"] == "21.0222430219974 92.1787622631151 -31.38378051"
    # `+06` offsets normalised to UTC; `11/11/2018` parsed as a date; naive submission time kept naive
    assert first["survey_start"] == dt.datetime(2018, 11, 11, 5, 54, 18, 221000, tzinfo=UTC)
    assert first["survey_date"] == dt.date(2018, 11, 11)
    assert first["X_submission_time"] == dt.datetime(2018, 11, 11, 11, 10, 7)
    assert df.schema["end_survey"] == pl.Datetime("us", "UTC")
    assert df["end_survey"].null_count() == 0


def test_iraq_kobo_xlsx(fk_home):
    ds = load_dataset(shared("survey", "reach_irq_talafar_water_raw.xlsx"))
    df = ds.frame.collect()
    assert df.shape == (632, 348)
    s = ds.survey
    assert s.tool == "kobotoolbox"
    # R mangled the BOM into the first header; still recognised as `start`, not renamed
    assert "X.U.FEFF.start" in s.metadata and "X.U.FEFF.start" in df.columns
    assert df["X.U.FEFF.start"][0] == dt.datetime(2021, 7, 5, 7, 58, 34, 147000, tzinfo=UTC)
    assert df["date_assessment"][0] == dt.date(2021, 7, 5)
    sm = {m["column"]: m["options"] for m in s.select_multiple}
    assert "water_sources.piped" in sm["water_sources"]
    assert df.schema["water_sources.piped"] == pl.Boolean
    arabic = df["water_supply_other_neighbourhoods_why"].drop_nulls().to_list()
    assert "خارج حدود البلدية" in arabic


def test_google_forms_tsv_with_stray_quotes(fk_home):
    # polars.read_csv rejects this file (unescaped quotes); we read it and keep quotes as text
    ds = load_dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv"))
    df = ds.frame.collect()
    assert df.shape == (1838, 52)
    assert ds.extra["quoting"] == "none" and ds.extra["newline"] == "CRLF"
    robot = [c for c in df.columns if c.startswith("To help us ensure that you are not a rob")][0]
    assert df[robot][14] == '"Eight"'
    assert df["Timestamp"][0] == dt.datetime(2019, 12, 13, 9, 50, 30)
    assert ds.survey.tool == "google forms"


def test_xlsform_loads_first_sheet(fk_home):
    ds = load_dataset(shared("survey", "reach_irq_talafar_water_xlsform.xlsx"))
    assert ds.sheets == ["survey", "choices"] and ds.sheet == "survey"
    assert "type" in ds.columns and ds.survey is None


def test_project_sample_roles(fk_home):
    ds = load_dataset(SAMPLE_DATA / "kobo_water_survey.csv")
    info = inspect_dataset(ds)
    s = info["survey"]
    assert s["tool"] == "kobotoolbox"
    assert s["group_separator"] == "/" and s["groups"] == {"respondent": 4, "water": 3, "feedback": 2}
    assert s["select_multiple"] == [{"column": "water/problems", "separator": "/",
                                     "options": [f"water/problems/{o}" for o in
                                                 ("too_far", "queue_long", "dirty_water", "cost_high",
                                                  "pump_broken", "none")]}]
    assert s["gps"][0]["combined"] == "gps" and s["gps"][0]["latitude"] == "_gps_latitude"
    assert {t["column"] for t in s["timestamps"] if t["parsed"]} == {"start", "end", "today",
                                                                    "_submission_time"}
    df = ds.frame.collect()
    assert df.height == 300
    assert df.schema["start"] == pl.Datetime("us", "UTC")
    langs = set(df["feedback/language"].unique())
    assert langs == {"en", "fr", "es", "ar"}
    # the messy cells survive as text, untouched
    assert df.schema["respondent/age"] == pl.String and "forty" in df["respondent/age"].to_list()
    assert any("\n" in c for c in df["feedback/comment"].drop_nulls())


@pytest.mark.parametrize(
    "values,expected",
    [
        (["2019-07-30T05:13:20.123+03:00", "2019-07-30T06:00:00Z"],
         [dt.datetime(2019, 7, 30, 2, 13, 20, 123000, tzinfo=UTC), dt.datetime(2019, 7, 30, 6, tzinfo=UTC)]),
        (["2018-11-11T11:54:18.221+06", "2018-11-11 12:00:00+0530"],
         [dt.datetime(2018, 11, 11, 5, 54, 18, 221000, tzinfo=UTC), dt.datetime(2018, 11, 11, 6, 30, tzinfo=UTC)]),
        (["Jul 30, 2019 5:13:20 AM", "Dec 1, 2019 11:03:00 PM"],
         [dt.datetime(2019, 7, 30, 5, 13, 20), dt.datetime(2019, 12, 1, 23, 3)]),
        (["11/11/2018", "12/1/2018"], [dt.date(2018, 11, 11), dt.date(2018, 12, 1)]),
        (["25/11/2018", "1/12/2018"], [dt.date(2018, 11, 25), dt.date(2018, 12, 1)]),  # day first
    ],
)
def test_timestamp_forms(tmp_path, fk_home, values, expected):
    p = tmp_path / "odk.csv"
    body = "KEY,SubmissionDate,deviceid\n" + "".join(
        f'uuid:{i},"{v}",dev{i}\n' for i, v in enumerate(values))
    p.write_text(body)
    ds = load_dataset(p)
    assert ds.survey.tool == "odk"
    assert ds.frame.collect()["SubmissionDate"].to_list() == expected


def test_timestamp_column_with_unparseable_cells_is_left_as_text(tmp_path, fk_home):
    p = tmp_path / "odk.csv"
    p.write_text("KEY,SubmissionDate\n" + "".join(f"k{i},2019-07-30T05:13:20Z\n" for i in range(3))
                 + "k9,not recorded\n")
    ds = load_dataset(p)
    assert ds.frame.collect_schema()["SubmissionDate"] == pl.String


def test_non_survey_file_has_no_roles(fk_home):
    assert load_dataset(shared("messy", "us_1033_program_kansas.csv")).survey is None


def test_meta_key_strips_exporter_prefixes():
    assert survey.meta_key("X.U.FEFF.start") == "start"
    assert survey.meta_key("_submission_time") == "submission_time"
    assert survey.meta_key("X_uuid") == "uuid"
    assert survey.meta_key("meta/instanceID") == "instanceid"
    assert survey.meta_key("meta-instanceID") == "instanceid"


def test_surveycto_split_gps(tmp_path, fk_home):
    p = tmp_path / "scto.csv"
    p.write_text("SubmissionDate,KEY,formdef_version,gps.latitude,gps.longitude,gps.altitude,gps.accuracy\n"
                 "\"Jul 30, 2019 5:13:20 AM\",uuid:1,1907,12.5,-1.25,300,5\n")
    s = load_dataset(p).survey
    assert s.tool == "surveycto"
    assert s.gps[0]["latitude"] == "gps.latitude" and s.gps[0]["precision"] == "gps.accuracy"


def test_sample_generator_is_deterministic(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", SAMPLE_DATA / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.make_survey(tmp_path / "s.csv")
    mod.make_log(tmp_path / "l.log")
    assert (tmp_path / "s.csv").read_bytes() == (SAMPLE_DATA / "kobo_water_survey.csv").read_bytes()
    assert (tmp_path / "l.log").read_bytes() == (SAMPLE_DATA / "fieldsync_server.log").read_bytes()
    assert Path(SAMPLE_DATA / "README.md").read_text().count("Apache-2.0") >= 1


def test_ordinary_tables_are_not_mistaken_for_surveys(tmp_path, fk_home):
    p = tmp_path / "t.csv"
    p.write_text("key,id,value,timestamp\nk1,1,3.5,2024-01-02T03:04:05Z\n")
    ds = load_dataset(p)
    assert ds.survey is None
    assert ds.frame.collect_schema()["timestamp"] == pl.String  # not touched outside surveys
