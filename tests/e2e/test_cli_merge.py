"""`fieldkit merge` end to end: the printed summary, exit codes, and nothing written on bad input."""

from __future__ import annotations

import polars as pl
import pytest

from fieldkit.cli import main
from fieldkit.io.dataset import load_dataset
from tests.conftest import shared


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.fixture(scope="module")
def talafar() -> pl.DataFrame:
    """The REACH Tal Afar water survey (632 rows, `X_uuid`), as fieldkit loads it."""
    return load_dataset(shared("survey", "reach_irq_talafar_water_raw.xlsx")).read()


def laptops(df: pl.DataFrame, tmp_path):
    n = df.height
    idx = pl.int_range(pl.len())
    a = df.with_columns(pl.when(idx % 3 == 0).then(pl.lit(["water"])).otherwise(pl.lit([], dtype=pl.List(pl.String)))
                        .alias("tags"),
                        pl.when(idx < 5).then(pl.lit("tank leaks")).otherwise(None).alias("note"))
    b = df.head(n - 30).with_columns(pl.when(idx % 5 == 0).then(pl.lit(["urgent"]))
                                     .otherwise(pl.lit([], dtype=pl.List(pl.String))).alias("tags"),
                                     pl.when(idx < 2).then(pl.lit("no leak")).otherwise(None).alias("note"))
    a.write_parquet(tmp_path / "A.parquet")
    b.write_parquet(tmp_path / "B.parquet")
    return tmp_path / "A.parquet", tmp_path / "B.parquet"


def test_merge_prints_rows_annotated_per_source_and_conflicts_per_field(talafar, tmp_path, capsys, fk_home):
    a, b = laptops(talafar, tmp_path)
    out = tmp_path / "M.parquet"
    code, stdout, err = run(capsys, "merge", str(a), str(b), "-o", str(out))
    assert code == 0, err
    n = talafar.height
    annotated_a = len({i for i in range(n) if i % 3 == 0} | set(range(5)))
    annotated_b = len({i for i in range(n - 30) if i % 5 == 0} | set(range(2)))
    assert f"merged 2 input(s) by survey id X_uuid: {n:,} rows" in stdout
    assert f"  A.parquet: {n:,} rows, {annotated_a:,} annotated (parquet)" in stdout
    assert f"  B.parquet: {n - 30:,} rows, {annotated_b:,} annotated (parquet)" in stdout
    assert "conflicts: 2 row(s)\n  note: 2\n" in stdout
    merged = pl.read_parquet(out)
    assert merged.height == n and merged.filter(pl.col("merge_conflicts").list.len() > 0).height == 2


def test_duplicate_keys_exit_2_naming_them_and_write_nothing(talafar, tmp_path, capsys, fk_home):
    a, b = laptops(talafar, tmp_path)
    first, second = talafar["X_uuid"][0], talafar["X_uuid"][1]
    bad = pl.read_parquet(b).with_columns(pl.when(pl.int_range(pl.len()).is_in([10, 11]))
                                          .then(pl.lit(first)).otherwise(pl.col("X_uuid")).alias("X_uuid"))
    bad = bad.with_columns(pl.when(pl.int_range(pl.len()) == 12).then(pl.lit(second)).otherwise(pl.col("X_uuid"))
                           .alias("X_uuid"))
    bad.write_parquet(b)
    out = tmp_path / "M.parquet"
    out.write_bytes(b"an older merge")
    code, stdout, err = run(capsys, "merge", str(a), str(b), "--key", "X_uuid", "-o", str(out))
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: --key column 'X_uuid' repeats in B.parquet: ")
    assert repr(first) in lines[0] and repr(second) in lines[0]
    assert lines[1].startswith("hint: ")
    assert out.read_bytes() == b"an older merge"


@pytest.mark.parametrize("case", ["missing", "csv", "same_as_output", "not_parquet_bytes", "no_inputs"])
def test_bad_inputs_are_one_line_and_exit_2(case, talafar, tmp_path, capsys, fk_home):
    a, b = laptops(talafar, tmp_path)
    out = tmp_path / "M.parquet"
    args = {"missing": [str(a), str(tmp_path / "nope.parquet")],
            "csv": [str(a), str(shared("survey", "reach_bgd_hfc_sample_dataset.csv"))],
            "same_as_output": [str(a), str(b)],
            "not_parquet_bytes": [str(a), str(tmp_path / "junk.parquet")],
            "no_inputs": []}[case]
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    if case == "same_as_output":
        out = a
    code, stdout, err = run(capsys, "merge", *args, "-o", str(out))
    assert code == 2, err
    assert err.startswith("error: ") and "hint: " in err and "Traceback" not in err
    if case != "same_as_output":
        assert not out.exists()
