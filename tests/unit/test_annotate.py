"""Annotation core: journal replay, undo, torn lines, columns on save, restore from saved Parquet."""

from __future__ import annotations

import json
import os
import shutil

import polars as pl
import pytest

from fieldkit.annotate import Annotations, Journal, journal_path_for, open_annotations, read_journal
from fieldkit.store import make_provenance, read_provenance, write_frame
from tests.conftest import SAMPLE_DATA, shared


@pytest.fixture
def survey_copy(tmp_path):
    src = SAMPLE_DATA / "kobo_water_survey.csv"
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    return dst


def test_changes_are_journaled_and_replayed_after_a_crash(survey_copy):
    ann, notes = open_annotations(survey_copy)
    assert notes == []
    ann.toggle_tag(3, "follow-up")
    ann.toggle_tag(3, "water")
    ann.toggle_tag(7, "water")
    ann.set_note(7, "pump broken since May — مضخة معطلة")
    # no close(): the process dies here; every op was flushed as it was made
    ops = read_journal(journal_path_for(survey_copy))
    assert [o["op"] for o in ops] == ["header", "tag", "tag", "tag", "note"]

    again, notes = open_annotations(survey_copy)
    assert again.tags == {3: {"follow-up", "water"}, 7: {"water"}}
    assert again.notes == {7: "pump broken since May — مضخة معطلة"}
    assert any("restored 4" in n for n in notes)
    ann.journal.close()
    again.journal.close()


def test_undo_reverts_and_is_itself_journaled(survey_copy):
    ann, _ = open_annotations(survey_copy)
    ann.toggle_tag(1, "a")
    ann.set_note(1, "first")
    ann.set_note(1, "second")
    assert ann.undo()["text"] == "first"
    assert ann.notes[1] == "first"
    ann.undo()
    ann.undo()
    assert ann.tags == {} and ann.notes == {}
    assert ann.undo() is None
    ann.journal.close()
    restored, _ = open_annotations(survey_copy)
    assert restored.tags == {} and restored.notes == {}
    restored.journal.close()


def test_torn_last_line_is_skipped(survey_copy):
    ann, _ = open_annotations(survey_copy)
    ann.toggle_tag(2, "x")
    ann.journal.close()
    path = journal_path_for(survey_copy)
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"op":"tag","row":9,"ta')  # power cut mid-write
    restored, _ = open_annotations(survey_copy)
    assert restored.tags == {2: {"x"}}
    restored.journal.close()


def test_journal_fsyncs_on_sync(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    j = Journal(tmp_path / "j.jsonl", {"source": "x"})
    assert not (tmp_path / "j.jsonl").exists()  # nothing written until the first change
    n = len(synced)
    j.append({"op": "tag", "row": 1, "tag": "a", "on": True})
    assert j.dirty
    j.sync()
    assert len(synced) == n + 1 and not j.dirty
    j.close()
    assert json.loads((tmp_path / "j.jsonl").read_text().splitlines()[1])["row"] == 1


def test_themes_rename_review_and_columns(survey_copy):
    ann, _ = open_annotations(survey_copy)
    ann.set_themes("feedback/comment", {0: 1, 1: 2, 2: 1, 5: -1}, {1: "pumps", 2: "queues", -1: "other"},
                   {0: 0.8, 1: 0.7, 2: 0.9})
    ann.rename_theme(1, "broken pumps")
    ann.set_reviewed(1, True)
    ann.toggle_tag(1, "check")
    frame = pl.read_csv(survey_copy)
    out = ann.apply(frame).collect()
    assert out.height == frame.height
    assert out.columns[: frame.width] == frame.columns
    assert out["theme_label"].to_list()[:3] == ["broken pumps", "queues", "broken pumps"]
    assert out["theme_reviewed"].to_list()[:3] == [True, False, True]
    assert out["tags"].to_list()[1] == ["check"]
    assert out["tags"].to_list()[0] == []
    assert out["theme_id"][3] is None and out["theme_id"][5] == -1
    ann.undo()  # untag
    ann.undo()  # unreview
    ann.undo()  # rename back
    assert ann.themes.labels[1] == "pumps" and not ann.themes.reviewed
    ann.journal.close()


def test_saved_parquet_round_trips_annotations(survey_copy, tmp_path):
    ann, _ = open_annotations(survey_copy)
    ann.toggle_tag(4, "a")
    ann.toggle_tag(4, "b")
    ann.set_note(10, "check GPS")
    frame = pl.read_csv(survey_copy)
    target = tmp_path / "out.parquet"
    write_frame(ann.apply(frame), target, make_provenance({"path": str(survey_copy)}, [{"operation": "annotate"}]))
    assert read_provenance(target)["steps"][0]["operation"] == "annotate"
    saved = pl.read_parquet(target)
    assert saved.schema["tags"] == pl.List(pl.String)
    restored, _ = open_annotations(target, saved)
    assert restored.tags == {4: {"a", "b"}}
    assert restored.notes == {10: "check GPS"}
    ann.journal.close()
    restored.journal.close()


def test_apply_on_real_survey_keeps_every_row_and_order(tmp_path):
    src = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    from fieldkit.io import load_dataset

    frame = load_dataset(src).frame.collect()
    ann = Annotations()
    ann.toggle_tag(0, "x")
    ann.toggle_tag(frame.height - 1, "y")
    out = ann.apply(frame).collect()
    assert out.height == frame.height
    assert out.drop("tags", "note", "annotated_at").equals(frame)
    assert out["tags"][0].to_list() == ["x"] and out["tags"][-1].to_list() == ["y"]
    # the two edited rows carry when they were annotated (merge's latest-wins reads it), no other
    edited = out.select(pl.col("annotated_at").is_not_null().arg_true())["annotated_at"].to_list()
    assert edited == [0, frame.height - 1]
    assert tmp_path.exists()


def test_annotated_at_survives_reopen_and_a_later_edit_wins(tmp_path):
    """Saved times come back from the file; a new edit of a row moves its time forward only."""
    frame = pl.DataFrame({"answer": ["a", "b", "c"]})
    ann = Annotations()
    ann.set_note(0, "first")
    ann.toggle_tag(2, "t")
    saved = ann.apply(frame).collect()
    again = Annotations()
    again.load_columns(saved)
    assert again.edited_at == ann.edited_at
    again.set_note(2, "later")
    out = again.apply(saved).collect()
    assert out["annotated_at"][0] == saved["annotated_at"][0]
    assert out["annotated_at"][2] > saved["annotated_at"][2]
    assert out["annotated_at"][1] is None
    # a journal op with an older time does not move a row's time back
    again.replay([{"op": "note", "row": 0, "text": "old", "at": "2001-01-01T00:00:00+00:00"}])
    assert again.apply(saved).collect()["annotated_at"][0] == saved["annotated_at"][0]


def test_saving_over_the_source_resets_its_journal(tmp_path):
    frame = pl.DataFrame({"answer": ["a", "b", "c"]})
    src = tmp_path / "answers.parquet"
    frame.write_parquet(src)
    ann, _ = open_annotations(src, frame)
    ann.toggle_tag(1, "x")
    write_frame(ann.apply(frame), src)
    from fieldkit.annotate import file_fingerprint

    ann.journal.reset({"source": str(src), **file_fingerprint(src)})
    ann.journal.close()
    saved = pl.read_parquet(src)
    again, notes = open_annotations(src, saved)
    assert again.tags == {1: {"x"}}
    assert notes == []  # nothing replayed, no "file changed" warning
    again.journal.close()


def _reopen(path, part=None):
    from fieldkit.annotate import open_annotations
    from fieldkit.io import load_dataset

    return open_annotations(path, load_dataset(path).frame.collect(), part)


def test_tags_follow_their_rows_when_two_same_size_rows_are_swapped(tmp_path):
    # Review finding (issue 14 item 9): swapping two same-size rows put the tag on the wrong row.
    src = tmp_path / "answers.csv"
    rows = ["id,answer", "1,pump broken", "2,road closed", "3,water dirty"]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ann, _ = _reopen(src)
    ann.toggle_tag(1, "follow-up")  # "2,road closed"
    ann.set_note(2, "check the filter")  # "3,water dirty"
    ann.journal.close()
    src.write_text("\n".join([rows[0], rows[1], rows[3], rows[2]]) + "\n", encoding="utf-8")  # same size
    ann, notes = _reopen(src)
    assert ann.tags == {2: {"follow-up"}} and ann.notes == {1: "check the filter"}
    assert any("moved to their rows" in n for n in notes)
    # a record that is gone takes its annotation with it, with a note (never onto another row)
    src.write_text("\n".join([rows[0], rows[1], rows[3], rows[2]]).replace("road closed", "road open") + "\n",
                   encoding="utf-8")
    ann, notes = _reopen(src)
    assert ann.tags == {} and ann.notes == {1: "check the filter"}
    assert any("not restored" in n for n in notes)


def test_survey_rows_are_matched_by_their_uuid_after_a_re_export(tmp_path):
    import polars as pl

    from tests.conftest import SAMPLE_DATA

    src = tmp_path / "kobo.csv"
    df = pl.read_csv(SAMPLE_DATA / "kobo_water_survey.csv")
    df.write_csv(src)
    ann, _ = _reopen(src)
    ann.toggle_tag(5, "check")
    ann.journal.close()
    uuid = df["_uuid"][5]
    # the re-export has the records in another order and one answer corrected
    df.sort("_uuid").with_columns(pl.when(pl.col("_uuid") == uuid).then(pl.lit("fixed"))
                                  .otherwise(pl.col("feedback/comment")).alias("feedback/comment")).write_csv(src)
    ann, _ = _reopen(src)
    now = pl.read_csv(src)["_uuid"].to_list().index(uuid)
    assert ann.tags == {now: {"check"}}


def test_journal_times_compare_in_utc_and_a_forged_future_time_is_ignored():
    """Journals come from other laptops: offsets are compared as times, far-future times dropped."""
    from fieldkit.analysis.merge import KEY
    from fieldkit.analysis.merge_journal import replay

    ann = Annotations()
    ann.replay([{"op": "note", "row": 0, "text": "a", "at": "2026-03-01T08:00:00+00:00"},
                {"op": "note", "row": 0, "text": "b", "at": "2026-03-01T09:30:00+03:00"},  # 06:30 UTC
                {"op": "note", "row": 1, "text": "c", "at": "9999-01-01T00:00:00+00:00"},
                {"op": "note", "row": 1, "text": "d", "at": "not a time"}])
    assert ann.edited_at[0] == "2026-03-01T08:00:00.000000+00:00"
    assert 1 not in ann.edited_at and ann.notes[1] == "d"  # the annotation itself is kept
    ops = [{"op": "note", "row": 0, "key": "k", "text": "a", "at": "2026-03-01T08:00:00+00:00"},
           {"op": "note", "row": 0, "key": "k", "text": "b", "at": "2026-03-01T09:30:00+03:00"},
           {"op": "note", "row": 1, "key": "f", "text": "c", "at": "9999-01-01T00:00:00+00:00"}]
    times = dict(replay(ops).frame.select(KEY, "annotated_at").iter_rows())
    assert times["k"].startswith("2026-03-01T08:00:00") and times["f"] is None
