"""`fieldkit merge` rules on real survey exports: keys, per-field winners, kept conflicts, order, idempotence.

Each laptop's copy is the real REACH Bangladesh Kobo export (498 rows, 587 columns, `X_uuid`)
or the R community survey (Google Forms, no record id: rows matched by their values), with
annotations added the way the TUI and `fieldkit code` save them.
"""

from __future__ import annotations

import itertools
import shutil

import polars as pl
import pytest

from fieldkit import pipelines
from fieldkit.conflicts import parse as parse_conflict
from fieldkit.annotate import journal_path_for, open_annotations
from fieldkit.errors import UsageError
from fieldkit.io.dataset import load_dataset
from fieldkit.store import read_provenance
from tests.conftest import shared

EMPTY = pl.lit([], dtype=pl.List(pl.String))


@pytest.fixture(scope="module")
def bgd() -> pl.DataFrame:
    """The Bangladesh export as fieldkit loads it (timestamps parsed): the 496 rows that have an `X_uuid`."""
    return load_dataset(shared("survey", "reach_bgd_hfc_sample_dataset.csv")).read().filter(
        pl.col("X_uuid").is_not_null())


@pytest.fixture(scope="module")
def rsurvey() -> pl.DataFrame:
    return load_dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv")).read()


def annotate(df: pl.DataFrame, tags: dict[int, list[str]] | None = None, notes: dict[int, str] | None = None,
             **extra: dict[int, object]) -> pl.DataFrame:
    """A laptop's copy: `tags` and `note` (and other annotation columns) on the given rows."""
    n = df.height
    tags = tags or {}
    cols = [pl.Series("tags", [tags.get(i, []) for i in range(n)], dtype=pl.List(pl.String)),
            pl.Series("note", [(notes or {}).get(i) for i in range(n)], dtype=pl.String)]
    for name, values in extra.items():
        cols.append(pl.Series(name, [values.get(i) for i in range(n)]))
    return df.with_columns(cols)


def write(tmp_path, name: str, df: pl.DataFrame):
    p = tmp_path / name
    df.write_parquet(p)
    return p


def merged(paths, tmp_path, name="out.parquet", **kw) -> tuple[pl.DataFrame, pipelines.MergeOutcome]:
    res = pipelines.merge(paths, tmp_path / name, **kw)
    return pl.read_parquet(tmp_path / name), res.outcome


def row(df: pl.DataFrame, uuid: str) -> dict:
    return df.filter(pl.col("X_uuid") == uuid).row(0, named=True)


def test_two_inputs_tag_on_one_side_note_on_the_other(bgd, tmp_path, fk_home):
    uid = bgd["X_uuid"]
    a = write(tmp_path, "a.parquet", annotate(bgd, tags={0: ["water"], 5: ["shelter", "water"]}))
    b = write(tmp_path, "b.parquet", annotate(bgd, tags={5: ["urgent"]}, notes={0: "latrine broken"}))
    out, res = merged([a, b], tmp_path)
    assert out.height == bgd.height and res.key == "survey id X_uuid"
    first = row(out, uid[0])
    assert first["tags"] == ["water"] and first["note"] == "latrine broken" and first["merge_conflicts"] == []
    assert row(out, uid[5])["tags"] == ["shelter", "urgent", "water"]
    assert out["merge_conflicts"].list.len().sum() == 0 and res.conflicts_per_field == {}
    # every input column kept, same values, same order
    assert out.columns[:bgd.width] == bgd.columns
    assert out.select(bgd.columns).equals(bgd)
    assert sorted((s.label, s.annotated) for s in res.sources) == [("a.parquet", 2), ("b.parquet", 2)]


def test_three_inputs_and_rows_present_in_one_only(bgd, tmp_path, fk_home):
    uid = bgd["X_uuid"]
    # each laptop got a different part of the export: rows 0-199, 150-349, 300-495 (+ row 0)
    a = write(tmp_path, "a.parquet", annotate(bgd.slice(0, 200), tags={10: ["a"]}))
    b = write(tmp_path, "b.parquet", annotate(bgd.slice(150, 200), tags={10: ["b"]}))  # row 160
    c = write(tmp_path, "c.parquet", annotate(pl.concat([bgd.slice(300), bgd.head(1)]),
                                                notes={bgd.height - 300: "c"}))
    out, res = merged([a, b, c], tmp_path)
    assert out.height == bgd.height
    assert set(out["X_uuid"]) == set(uid)
    assert row(out, uid[10])["tags"] == ["a"] and row(out, uid[160])["tags"] == ["b"]
    assert row(out, uid[0])["note"] == "c"
    assert row(out, uid[495])["tags"] == []  # present only in c, unannotated: kept
    assert out.select(bgd.columns).sort("X_uuid").equals(bgd.sort("X_uuid"))
    assert len(res.sources) == 3


def test_a_conflicting_note_keeps_every_side(bgd, tmp_path, fk_home):
    uid = bgd["X_uuid"]
    a = write(tmp_path, "a.parquet", annotate(bgd, notes={3: "pump fixed", 4: "same"}))
    b = write(tmp_path, "b.parquet", annotate(bgd, notes={3: "pump still broken", 4: "same"}))
    out, res = merged([a, b], tmp_path)
    r3 = row(out, uid[3])
    assert sorted(r3["merge_conflicts"]) == ["note: pump fixed (a.parquet)", "note: pump still broken (b.parquet)"]
    assert r3["note"] in ("pump fixed", "pump still broken")
    assert row(out, uid[4])["merge_conflicts"] == [] and row(out, uid[4])["note"] == "same"
    assert res.conflicts_per_field == {"note": 1} and res.rows_with_conflicts == 1
    assert [parse_conflict(e)[2] for e in r3["merge_conflicts"]] == ["a.parquet", "b.parquet"]


def test_the_latest_annotation_wins_and_a_human_code_beats_a_model_code(bgd, tmp_path, fk_home):
    uid = bgd["X_uuid"]
    early, late = pl.datetime(2026, 3, 1, time_zone="UTC"), pl.datetime(2026, 3, 2, time_zone="UTC")
    a = annotate(bgd, notes={1: "zzz older"}, code={2: "water"}, code_source={2: "human"}, code_score={2: 1.0})
    b = annotate(bgd, notes={1: "aaa newer"}, code={2: "shelter"}, code_source={2: "model"}, code_score={2: 0.7})
    a = a.with_columns(early.alias("annotated_at"))
    b = b.with_columns(late.alias("annotated_at"))
    out, res = merged([write(tmp_path, "a.parquet", a), write(tmp_path, "b.parquet", b)], tmp_path)
    r1, r2 = row(out, uid[1]), row(out, uid[2])
    assert r1["note"] == "aaa newer"  # the later one, although "zzz" would win the value tie-break
    assert (r2["code"], r2["code_source"], r2["code_score"]) == ("water", "human", 1.0)  # followers follow
    assert "code: shelter (b.parquet)" in r2["merge_conflicts"]
    assert res.conflicts_per_field == {"code": 1, "note": 1}


def test_the_result_does_not_depend_on_input_order(bgd, tmp_path, fk_home):
    paths = [write(tmp_path, f"{n}.parquet", annotate(bgd, tags=t, notes=nt).sample(fraction=0.8, seed=s, shuffle=True))
             for n, s, t, nt in [("x", 1, {0: ["p"], 9: ["q"]}, {2: "one"}),
                                 ("y", 2, {0: ["r"]}, {2: "two", 7: "seven"}),
                                 ("z", 3, {}, {2: "three", 9: "nine"})]]
    results = []
    for i, order in enumerate(itertools.permutations(paths)):
        out, _ = merged(list(order), tmp_path, name=f"o{i}.parquet")
        results.append(out)
    assert all(r.equals(results[0]) for r in results[1:])
    assert results[0]["merge_conflicts"].list.len().sum() >= 3


def test_merging_a_file_in_twice_changes_nothing(bgd, tmp_path, fk_home):
    a = write(tmp_path, "a.parquet", annotate(bgd, tags={0: ["w"]}, notes={3: "fixed", 8: "x"}))
    b = write(tmp_path, "b.parquet", annotate(bgd, tags={1: ["v"]}, notes={3: "broken"}))
    c = write(tmp_path, "c.parquet", annotate(bgd.head(100), notes={3: "unknown", 8: "y"}))
    once, _ = merged([a, b, c], tmp_path, name="m.parquet")
    shutil.copy(b, tmp_path / "b_copy.parquet")
    twice, res = merged([a, b, c, tmp_path / "b_copy.parquet"], tmp_path, name="m2.parquet")
    assert twice.equals(once) and any("counted once" in n for n in res.notes)
    # the merged file merged again with its own inputs: nothing changes, no conflict is renamed
    for again in ([tmp_path / "m.parquet", b], [tmp_path / "m.parquet", a, b, c], [tmp_path / "m.parquet"]):
        out, _ = merged(again, tmp_path, name="m3.parquet")
        assert out.equals(once)


def test_a_key_column_with_duplicates_is_refused_naming_them(bgd, tmp_path, fk_home):
    dup = bgd.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(pl.col("X_uuid").first())
                           .otherwise(pl.col("X_uuid")).alias("X_uuid"))
    a, b = write(tmp_path, "a.parquet", bgd), write(tmp_path, "b.parquet", dup)
    with pytest.raises(UsageError) as e:
        pipelines.merge([a, b], tmp_path / "out.parquet", key="X_uuid")
    assert bgd["X_uuid"][0] in e.value.message and "b.parquet" in e.value.message
    assert not (tmp_path / "out.parquet").exists()
    with pytest.raises(UsageError, match="not in"):
        pipelines.merge([a, b], tmp_path / "out.parquet", key="no_such_column")
    # detected (not asked for) and repeated: the export's other id matches the rows, said in a note,
    # and the two values of row 7's X_uuid are kept as a conflict
    out, res = merged([a, b], tmp_path)
    assert res.key == "survey id meta.instanceID" and any("X_uuid" in n and "repeats" in n for n in res.notes)
    assert out.height == bgd.height and res.conflicts_per_field == {"X_uuid": 1}
    r7 = out.filter(pl.col("meta.instanceID") == bgd["meta.instanceID"][7]).row(0, named=True)
    assert sorted(r7["merge_conflicts"]) == [f"X_uuid: {bgd['X_uuid'][0]} (b.parquet)",
                                             f"X_uuid: {bgd['X_uuid'][7]} (a.parquet)"]


def test_inputs_with_different_columns(bgd, tmp_path, fk_home):
    uid = bgd["X_uuid"]
    base = bgd.select(bgd.columns[:40] + ["X_uuid"])
    a = annotate(base, tags={0: ["w"]}).drop("enumerator_org")  # a laptop that dropped a column
    b = base.with_columns(pl.Series("code", ["food"] + [None] * (base.height - 1)),  # `fieldkit code` ran here
                          pl.Series("code_score", [0.9] + [None] * (base.height - 1)),
                          pl.col("enumerator_id").cast(pl.String))  # and a column saved as text
    out, _ = merged([write(tmp_path, "a.parquet", a), write(tmp_path, "b.parquet", b)], tmp_path)
    r0 = row(out, uid[0])
    assert r0["tags"] == ["w"] and r0["code"] == "food" and r0["code_score"] == 0.9
    assert set(base.columns) <= set(out.columns) and out["enumerator_org"].null_count() == base["enumerator_org"].null_count()
    assert out.height == base.height and out["merge_conflicts"].list.len().sum() == 0


def test_a_survey_id_with_empty_cells_falls_back_to_the_values(tmp_path, fk_home):
    full = load_dataset(shared("survey", "reach_bgd_hfc_sample_dataset.csv")).read()
    assert full["X_uuid"].null_count() == 2  # the real export: two submissions without a uuid
    a = write(tmp_path, "a.parquet", annotate(full, tags={0: ["a"]}))
    b = write(tmp_path, "b.parquet", annotate(full.reverse(), tags={full.height - 1: ["b"]}))
    out, res = merged([a, b], tmp_path)
    assert res.key == "row fingerprint" and any("X_uuid" in n and "empty" in n for n in res.notes)
    assert out.height == full.height and out["tags"][0].to_list() == ["a", "b"]


def test_rows_without_an_id_are_matched_by_their_values(rsurvey, tmp_path, fk_home):
    a = annotate(rsurvey, tags={0: ["python"], 20: ["teaching"]})
    b = annotate(rsurvey, notes={20: "quote this"}).reverse()  # the other laptop re-sorted its copy
    out, res = merged([write(tmp_path, "a.parquet", a), write(tmp_path, "b.parquet", b)], tmp_path)
    assert res.key == "row fingerprint" and out.height == rsurvey.height
    tagged = out.filter(pl.col("tags").list.len() > 0)
    assert tagged["tags"].to_list() == [["python"], ["teaching"]] or tagged["tags"].to_list() == [["teaching"], ["python"]]
    assert out.filter(pl.col("note").is_not_null())["tags"].to_list() == [["teaching"]]
    assert out.select(rsurvey.columns).sort(pl.all()).equals(rsurvey.sort(pl.all()))


def test_provenance_lists_every_input_with_its_sha256(bgd, tmp_path, fk_home):
    from fieldkit.files import sha256

    a = write(tmp_path, "a.parquet", annotate(bgd, tags={0: ["w"]}))
    b = write(tmp_path, "b.parquet", annotate(bgd.head(50)))
    pipelines.merge([a, b], tmp_path / "out.parquet")
    prov = read_provenance(tmp_path / "out.parquet")
    listed = {i["path"]: i["sha256"] for i in prov["source"]["inputs"]}
    assert listed == {str(a): sha256(a), str(b): sha256(b)}
    step = prov["steps"][-1]
    assert step["operation"] == "merge" and {i["sha256"] for i in step["parameters"]["inputs"]} == set(listed.values())


def test_journals_merge_by_row_key_even_when_the_copy_was_re_sorted(bgd, tmp_path, fk_home):
    uid = bgd["X_uuid"]
    office = write(tmp_path, "office.parquet", annotate(bgd, notes={4: "office note"}))
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    src = write(laptop, "survey.parquet", bgd.reverse())  # the laptop's copy is in another order
    ann, _ = open_annotations(src, pl.read_parquet(src))
    row_of = {u: i for i, u in enumerate(pl.read_parquet(src)["X_uuid"])}
    ann.toggle_tag(row_of[uid[4]], "follow-up")
    ann.set_note(row_of[uid[6]], "no water since Monday")
    ann.set_note(row_of[uid[4]], "laptop note")
    ann.journal.close()
    out, res = merged([office], tmp_path, journals=[journal_path_for(src)])
    r4, r6 = row(out, uid[4]), row(out, uid[6])
    assert r4["tags"] == ["follow-up"] and r6["note"] == "no water since Monday"
    # the journal's change has a time, the office file's note none: the journal's note wins, both kept
    assert r4["note"] == "laptop note"
    assert sorted(parse_conflict(e)[1] for e in r4["merge_conflicts"]) == ["laptop note", "office note"]
    assert [s.kind for s in res.sources] == ["parquet", "journal"] and res.sources[1].annotated == 2
    assert out.height == bgd.height


def test_rows_with_list_cells_get_journal_keys(bgd, tmp_path, fk_home):
    """A merged file (list column `merge_conflicts`) or a logs output (`params`) used to fail the row hash."""
    from fieldkit.rowkeys import RowKeys

    df = bgd.select("enumerator_id", "upazilla_name").with_columns(
        pl.Series("params", [["a", None], []] * (bgd.height // 2), dtype=pl.List(pl.String)))
    keys = RowKeys(df).all_keys()
    assert RowKeys(df).key(0) == keys[0] and keys[0] != RowKeys(df.with_columns(
        pl.Series("params", [["a", "b"], []] * (bgd.height // 2)))).key(0)
    src = write(tmp_path, "logs.parquet", df)
    ann, _ = open_annotations(src, pl.read_parquet(src))
    ann.toggle_tag(3, "x")
    ann.journal.close()
    out, _ = merged([src], tmp_path, journals=[journal_path_for(src)])
    assert out["tags"].list.len().sum() == 1 and out["tags"][3].to_list() == ["x"]


def test_files_saved_by_the_tui_carry_their_times_so_the_later_note_wins(bgd, tmp_path, fk_home):
    """Two laptops' TUI saves (Annotations.apply, as the TUI's save writes them): the later edit wins."""
    from fieldkit.annotate import Annotations

    uid = bgd["X_uuid"]
    first, second = Annotations(), Annotations()
    # laptop b edited row 7 first (its journal says so); laptop a edited it later
    second.replay([{"op": "note", "row": 7, "text": "aaa earlier", "at": "2026-03-01T08:00:00+00:00"}])
    first.replay([{"op": "note", "row": 7, "text": "zzz later", "at": "2026-03-01T09:30:00+03:00"},
                  {"op": "tag", "row": 8, "tag": "water", "on": True, "at": "2026-03-01T10:00:00+00:00"}])
    a = write(tmp_path, "a.parquet", first.apply(bgd).collect())
    b = write(tmp_path, "b.parquet", second.apply(bgd).collect())
    for order in ([a, b], [b, a]):
        out, res = merged(order, tmp_path)
        r7 = row(out, uid[7])
        # 09:30+03:00 is 06:30 UTC, before b's 08:00 UTC: b's note is the later one
        assert r7["note"] == "aaa earlier"
        assert sorted(r7["merge_conflicts"]) == ["note: aaa earlier (b.parquet)", "note: zzz later (a.parquet)"]
        assert str(r7["annotated_at"]) == "2026-03-01 08:00:00+00:00"
        assert row(out, uid[8])["tags"] == ["water"]
