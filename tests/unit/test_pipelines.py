"""The pipeline layer: one shape for every job's result and provenance, read once / hash once,
the public API on a DataFrame or a path, and worker-thread use (cancel, no prints)."""

from __future__ import annotations

import threading

import numpy as np
import polars as pl
import pytest

from fieldkit import files, pipelines
from fieldkit.errors import Cancelled, UsageError
from fieldkit.io import Dataset, load_dataset
from fieldkit.progress import Reporter
from fieldkit.store import read_provenance
from tests.conftest import shared

LEAST = "What do you like least about using R?"
RECOMMEND = "How likely are you to recommend R to a colleague, friend, or family member?"
STEP_KEYS = {"operation", "parameters", "started", "seconds"}
MODEL_KEYS = STEP_KEYS | {"model", "model_sha256"}


@pytest.fixture(scope="module")
def answers() -> pl.DataFrame:
    """250 real "like least" answers (with their empties) and the recommendation score."""
    ds = load_dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv"))
    return ds.frame.select(pl.col(LEAST).alias("answer"), pl.col(RECOMMEND).alias("score")).head(250).collect()


@pytest.fixture
def answers_csv(answers, tmp_path, fk_home):
    path = tmp_path / "answers.csv"
    answers.write_csv(path)
    return path


def test_api_on_a_dataframe_and_on_a_path_agree(answers, answers_csv):
    from_frame = pipelines.themes(answers, "answer", k=4)
    from_path = pipelines.themes(answers_csv, "answer", k=4)
    for r in (from_frame, from_path):
        assert list(r.columns) == ["theme_id", "theme_label", "theme_score"]
        assert all(len(c) == answers.height for c in r.columns.values())
        assert set(r.step) == MODEL_KEYS and r.step["operation"] == "themes"
        assert r.step["parameters"]["k"] == r.outcome.result.k == 4
    assert from_frame.columns["theme_id"].to_list() == from_path.columns["theme_id"].to_list()
    out = pipelines.annotated(answers, from_frame.columns)
    assert out.columns == ["answer", "score", "theme_id", "theme_label", "theme_score"]
    assert out.filter(pl.col("answer").is_null())["theme_label"].unique().to_list() == ["other"]


def test_dataframe_datasets_are_identified_by_content(answers):
    a, b = Dataset.from_frame(answers), Dataset.from_frame(answers.clone())
    c = Dataset.from_frame(answers.with_columns(pl.col("score") + 1))
    assert a.sha256 == b.sha256 != c.sha256 and len(a.sha256) == 64


def test_save_annotated_keeps_every_column_and_one_step_shape(answers_csv, tmp_path):
    ds = pipelines.dataset(answers_csv)
    steps = []
    for job in (pipelines.themes(ds, "answer", k=3), pipelines.dupes(ds, "answer", exact_only=True)):
        steps.append(job.step)
        out = tmp_path / f"{job.step['operation']}.parquet"
        pipelines.save_annotated(ds, job.columns, [job.step], out)
        df = pl.read_parquet(out)
        assert df.columns[:2] == ["answer", "score"] and df.height == 250
        assert df.select(["answer", "score"]).equals(pl.read_csv(answers_csv))
        prov = read_provenance(out)
        assert prov["source"]["sha256"] == files.sha256(answers_csv)
        assert prov["steps"] == [job.step]
    assert set(steps[0]) == MODEL_KEYS and set(steps[1]) == STEP_KEYS  # exact dupes ran no model
    assert steps[1]["parameters"] == {"column": "answer", "threshold": 0.95, "exact_only": True}


def test_dupes_columns_are_null_for_unique_rows(answers):
    copy = answers.head(1).with_columns(pl.col("answer").str.to_uppercase())
    r = pipelines.dupes(pl.concat([answers, copy]), "answer", exact_only=True)
    groups = r.columns["dup_group"]
    assert groups.dtype == pl.Int64 and groups.null_count() > 0
    assert groups[0] is not None and groups[0] == groups[-1]  # case-folded copy found
    assert r.columns["dup_size"][0] >= 2


def test_a_scanned_file_is_read_once_for_the_job_and_once_for_the_write(tmp_path, fk_home, monkeypatch):
    """dupes on a file the loader scans in place: one projected read, one streamed write, one hash."""
    import fieldkit.io.delimited as delimited

    monkeypatch.setattr(delimited, "SMALL_BYTES", 1024)
    path = tmp_path / "big.csv"
    rows = [f"{i},answer number {i % 40},{'x' * 50}" for i in range(3000)]
    path.write_text("id,answer,filler\n" + "\n".join(rows) + "\n")
    ds = load_dataset(path)
    assert ds.mode == "scan"
    monkeypatch.setattr("fieldkit.io.dataset.IN_MEMORY_BYTES", 1024)
    scans, hashes = _count_scans(monkeypatch, path), []
    real_hash = files._read_hash
    monkeypatch.setattr(files, "_read_hash", lambda p, r=None: hashes.append(p) or real_hash(p, r))
    r = pipelines.dupes(ds, "answer", exact_only=True)
    assert scans == ["collect"]  # the answer column, projected
    pipelines.save_annotated(ds, r.columns, [r.step], tmp_path / "out.parquet")
    assert scans == ["collect", "write"] and len(hashes) == 1
    assert r.outcome.result.groups == 40
    assert pl.read_parquet(tmp_path / "out.parquet").height == 3000


def _count_scans(monkeypatch, path) -> list[str]:
    """Record each Polars execution whose plan scans `path`."""
    seen: list[str] = []
    real_collect, real_sink = pl.LazyFrame.collect, pl.LazyFrame.sink_parquet

    def collect(self, *a, **k):
        if str(path) in self.explain():
            seen.append("collect")
        return real_collect(self, *a, **k)

    def sink(self, *a, **k):
        if str(path) in self.explain():
            seen.append("write")
        return real_sink(self, *a, **k)

    monkeypatch.setattr(pl.LazyFrame, "collect", collect)
    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", sink)
    return seen


def test_themes_reads_a_small_file_once_and_hashes_it_once(answers_csv, tmp_path, monkeypatch):
    hashes = []
    real_hash = files._read_hash
    monkeypatch.setattr(files, "_read_hash", lambda p, r=None: hashes.append(p) or real_hash(p, r))
    ds = pipelines.dataset(answers_csv)
    r = pipelines.themes(ds, "answer", k=3, by="score")
    assert ds.table is not None  # read whole, once; --by and the write reuse it
    scans = _count_scans(monkeypatch, answers_csv)
    pipelines.save_annotated(ds, r.columns, [r.step], tmp_path / "t.parquet")
    assert scans == [] and len(hashes) == 1
    assert r.outcome.breakdown is not None and r.outcome.breakdown.height > 1


def test_jobs_run_in_a_worker_thread_cancel_and_never_print(answers, capsys):
    cancel = threading.Event()
    cancel.set()
    errors = []

    def work():
        try:
            pipelines.themes(answers, "answer", reporter=Reporter("themes", cancel=cancel))
        except Cancelled as e:
            errors.append(e)

    t = threading.Thread(target=work)
    t.start()
    t.join(120)
    assert len(errors) == 1
    seen = []
    r = pipelines.search(answers, "answer", "error messages are hard to understand", top=5,
                         reporter=Reporter("embed", callback=seen.append))
    assert len(r.outcome) == 5 and r.columns == {} and r.step["parameters"]["top"] == 5
    assert any("error" in h.text.lower() for h in r.outcome)
    assert capsys.readouterr() == ("", "")


def test_embed_vectors_stream_into_the_output(answers_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(pipelines.core, "STREAM_ROWS", 100)
    ds = pipelines.dataset(answers_csv)
    r = pipelines.embed(ds, "answer")
    assert isinstance(r.columns["embedding"], np.ndarray) and r.columns["embedding"].shape == (250, 384)
    assert r.outcome.stats.empty == ds.text_column("answer").is_null().sum()
    out = pipelines.save_annotated(ds, r.columns, [r.step], tmp_path / "e.parquet")
    df = pl.read_parquet(out)
    assert df.schema["embedding"] == pl.Array(pl.Float32, 384)
    assert np.allclose(df["embedding"].to_numpy(), r.columns["embedding"], atol=0)


def test_summaries_per_group_largest_first_with_their_own_table(answers):
    r = pipelines.summarize(answers, "answer", by="score", sentences=2)
    sizes = [g.n_rows for g in r.outcome.groups]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == answers.height
    table = r.outcome.table()
    assert table.columns == ["group", "n_rows", "summary", "mode", "model"]
    assert set(r.step) == MODEL_KEYS and r.step["parameters"]["by"] == "score"


def test_resolve_model_is_the_one_seam_for_auto():
    from fieldkit.inference.manifest import default_embedder_id

    assert pipelines.resolve_model(["an answer"], None) == default_embedder_id()
    assert pipelines.resolve_model(["an answer"], "all-MiniLM-L6-v2") == "all-minilm-l6-v2"


def test_bad_input_is_a_clean_error(answers):
    with pytest.raises(UsageError) as e:
        pipelines.themes(answers, "anser")
    assert "answer" in (e.value.hint or "")
    with pytest.raises(UsageError):
        pipelines.themes(answers.with_columns(pl.lit(None).alias("blank")), "blank")  # no values
    with pytest.raises(UsageError) as e:
        pipelines.dupes(answers.with_columns(pl.lit("  ").alias("blank")), "blank", exact_only=True)
    assert "has no text" in e.value.message
    with pytest.raises(UsageError):
        pipelines.dataset(42)
