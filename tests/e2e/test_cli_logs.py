"""`fieldkit logs` end to end: outputs, baseline, several files, folders, bad input, cancel."""

from __future__ import annotations

import threading

import polars as pl
import pytest

from fieldkit.cli import main
from fieldkit.errors import Cancelled
from fieldkit.progress import Reporter
from fieldkit.store import read_provenance
from tests.conftest import shared


def run_logs(paths, out, **kw):
    """The logs job as the CLI and the TUI run it (fieldkit.pipelines.logs); its outcome."""
    from fieldkit import pipelines

    return pipelines.logs(paths, out, **kw).outcome


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_logs_hdfs_outputs(capsys, tmp_path, fk_home):
    out, md, tpl = tmp_path / "hdfs.parquet", tmp_path / "hdfs.md", tmp_path / "t.parquet"
    code, stdout, err = run(capsys, "logs", str(shared("logs", "HDFS_2k.log")), "-o", str(out),
                            "--summary-out", str(md), "--templates-out", str(tpl), "--no-model")
    assert code == 0, err
    assert "2,000 lines, 14 templates" in stdout
    assert "Got exception while serving" in stdout and "## Summary" in stdout
    df = pl.read_parquet(out)
    assert df.height == 2000 and df["line_no"].to_list() == list(range(1, 2001))
    assert df["template_id"].n_unique() == 14
    assert df.filter(pl.col("level") == "WARN")["template"].unique().to_list() == [
        "<*>:Got exception while serving <*> to /<*>:"]
    prov = read_provenance(out)
    assert prov["steps"][-1]["operation"] == "logs" and prov["source"]["format"] == "log"
    # the one step shape every job writes (fieldkit.pipelines.core.make_step), with when and how long
    step = prov["steps"][-1]
    assert set(step) == {"operation", "parameters", "started", "seconds"} and step["seconds"] > 0
    assert step["parameters"]["templates"] == 14 and prov["source"]["sha256"] is not None
    assert read_provenance(tpl)["steps"] == prov["steps"]  # the template table says where it came from
    text = md.read_text()
    assert text.startswith("# Log summary") and "80 warning lines" in text and "### Top templates" in text
    assert pl.read_parquet(tpl).height == 14


def test_logs_baseline_reports_new_templates(capsys, tmp_path, fk_home):
    lines = shared("logs", "Zookeeper_2k.log").read_text().splitlines()
    day1, day2 = tmp_path / "day1.log", tmp_path / "day2.log"
    day1.write_text("\n".join(lines[:1000]) + "\n")
    day2.write_text("\n".join(lines[1000:]) + "\n")
    assert run(capsys, "logs", str(day1), "-o", str(tmp_path / "d1.parquet"), "--no-model")[0] == 0
    code, stdout, err = run(capsys, "logs", str(day2), "-o", str(tmp_path / "d2.parquet"), "--no-model",
                            "--baseline", str(tmp_path / "d1.parquet"))
    assert code == 0, err
    d1 = pl.read_parquet(tmp_path / "d1.parquet")
    d2 = pl.read_parquet(tmp_path / "d2.parquet")
    known = set(d1["template_id"].to_list())
    new_ids = set(d2["template_id"].to_list()) - known
    assert new_ids, "the second half of the Zookeeper sample has events the first half lacks"
    assert "### New since the baseline" in stdout
    assert f"New since the baseline: {len(new_ids)} template" in stdout
    # lines of an event seen yesterday keep yesterday's template id
    same = d2.filter(pl.col("message") == "Notification time out: 400")
    if same.height:
        assert same["template_id"][0] in known


def test_logs_several_files_merged_by_time_and_folder(capsys, tmp_path, fk_home):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.log").write_text("2024-01-01 10:00:00 INFO start A\n2024-01-01 10:00:05 ERROR disk 3 failed\n")
    (folder / "b.log").write_text("2024-01-01 10:00:02 INFO start B\n2024-01-01 10:00:07 WARN slow 7 ms\n")
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    out = tmp_path / "merged.parquet"
    code, stdout, err = run(capsys, "logs", str(folder), "-o", str(out), "--no-model")
    assert code == 0, err
    df = pl.read_parquet(out)
    assert df.columns[0] == "source"
    assert df["source"].to_list() == ["a.log", "b.log", "a.log", "b.log"]
    assert df["message"].to_list() == ["start A", "start B", "disk 3 failed", "slow 7 ms"]
    assert "a.log, b.log" in stdout


@pytest.mark.parametrize("case", ["missing", "binary", "no_folder", "bad_baseline", "empty_gz", "truncated_zst",
                                  "binary_in_gz"])
def test_logs_bad_input_is_one_clean_error(capsys, tmp_path, fk_home, case):
    log = tmp_path / "x.log"
    log.write_text("2024-01-01 10:00:00 INFO hello 1\n")
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous output")
    args = ["logs", str(log), "-o", str(out), "--no-model"]
    if case == "missing":
        args[1] = str(tmp_path / "nope.log")
    elif case == "binary":
        log.write_bytes(b"\x00\x01\x02binary\x00" * 10)
    elif case == "no_folder":
        args[3] = str(tmp_path / "no" / "out.parquet")
    elif case == "empty_gz":
        import gzip

        args[1] = str(tmp_path / "x.log.gz")
        (tmp_path / "x.log.gz").write_bytes(gzip.compress(b""))
    elif case == "truncated_zst":
        import zstandard

        blob = zstandard.ZstdCompressor().compress(b"2024-01-01 10:00:00 INFO hello 1\n" * 5000)
        args[1] = str(tmp_path / "x.log.zst")
        (tmp_path / "x.log.zst").write_bytes(blob[: len(blob) // 2])
    elif case == "binary_in_gz":
        import gzip

        args[1] = str(tmp_path / "x.log.gz")
        (tmp_path / "x.log.gz").write_bytes(gzip.compress(bytes(range(256)) * 50))
    else:
        (tmp_path / "b.parquet").write_text("not parquet")
        args += ["--baseline", str(tmp_path / "b.parquet")]
    code, stdout, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert "Traceback" not in err and len(lines) == 2
    assert out.read_bytes() == b"previous output"


def test_cancel_leaves_nothing(tmp_path):
    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "o.parquet"
    with pytest.raises(Cancelled):
        run_logs([shared("logs", "BGL_2k.log")], out, use_model=False, reporter=Reporter("logs", cancel=cancel))
    assert not out.exists() and list(tmp_path.iterdir()) == []
