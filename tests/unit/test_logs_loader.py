"""The text-log loader on the 8 real loghub samples and on hand-made edge cases."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from fieldkit.io.logs import iter_log_batches, looks_like_log, scan_log
from tests.conftest import shared

SETS = ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Spark", "Zookeeper"]
HEADER_TRUTH = {"Apache": {}, "BGL": {"host": "Node"}, "HDFS": {"pid": "Pid", "component": "Component"},
                "HPC": {"host": "Node"}, "Hadoop": {"thread": "Process", "component": "Component"},
                "HealthApp": {"component": "Component", "pid": "Pid"}, "Spark": {"component": "Component"},
                "Zookeeper": {}}


@pytest.mark.parametrize("name", SETS)
def test_loghub_sample_loads_2000_records_with_timestamps(name):
    path = shared("logs", f"{name}_2k.log")
    df = scan_log(path).collect()
    truth = pl.read_csv(shared("logs", f"{name}_2k.log_structured.csv"), infer_schema=False)
    assert df.columns[:3] == ["line_no", "timestamp", "level"] and df.columns[-2:] == ["message", "raw"]
    # the header fields the layout inference split out are loghub's own header columns
    for ours, theirs in HEADER_TRUTH[name].items():
        assert (df[ours] == truth[theirs]).mean() >= 0.99, (ours, theirs)
    assert df.height == 2000
    assert df["line_no"].to_list() == list(range(1, 2001))
    assert df["timestamp"].null_count() == 0
    # the message is the loghub Content (what follows the header) on nearly every line
    same = (df["message"] == truth["Content"].str.strip_chars()).mean()
    assert same >= 0.998, same
    assert looks_like_log(path)


def test_spot_values_against_structured_truth():
    hdfs = scan_log(shared("logs", "HDFS_2k.log")).collect()
    assert hdfs.row(0)[:3] == (1, datetime(2008, 11, 9, 20, 36, 15), "INFO")
    bgl = scan_log(shared("logs", "BGL_2k.log")).collect()
    assert bgl["timestamp"][0] == datetime(2005, 6, 3, 15, 42, 50, 675872)
    assert set(bgl["level"].unique()) == {"INFO", "FATAL", "ERROR", "SEVERE", "WARN"}
    zk = scan_log(shared("logs", "Zookeeper_2k.log")).collect()
    assert zk["timestamp"][0] == datetime(2015, 7, 29, 17, 41, 44, 747000)
    assert zk["message"][0] == "Notification time out: 3200"
    hpc = scan_log(shared("logs", "HPC_2k.log")).collect()
    assert hpc["timestamp"][0] == datetime.utcfromtimestamp(1077804742)
    assert hpc["level"].null_count() == 2000
    health = scan_log(shared("logs", "HealthApp_2k.log")).collect()
    # HealthApp writes milliseconds and seconds without zero padding: 22:16:0:119
    row = health.filter(pl.col("raw").str.starts_with("20171223-22:16:0:119")).row(0)
    assert row[1] == datetime(2017, 12, 23, 22, 16, 0, 119000)
    apache = scan_log(shared("logs", "Apache_2k.log")).collect()
    assert apache.row(1)[1:4] == (datetime(2005, 12, 4, 4, 47, 44), "ERROR",
                                  "mod_jk child workerEnv in error state 6")
    spark = scan_log(shared("logs", "Spark_2k.log")).collect()
    assert spark["timestamp"][0] == datetime(2017, 6, 9, 20, 10, 40)


def _write(tmp_path, data: bytes):
    p = tmp_path / "app.log"
    p.write_bytes(data)
    return p


def test_stack_traces_join_and_other_forms(tmp_path):
    p = _write(tmp_path, (
        b"2024-03-01T10:00:00+02:00 ERROR [main] com.acme.Server: boom id=7\n"
        b"\tat com.acme.Server.run(Server.java:10)\n"
        b"Caused by: java.io.IOException: disk\n"
        b"\t... 3 more\n"
        b"\n"
        b"2024-03-01T10:00:01Z INFO ready\r\n"
        b"Jun  4 07:01:02 host sshd[123]: Accepted password for bob\n"
        b'127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326\n'
        b"plain line \xff\n"))
    df = scan_log(p).collect()
    # each writer's timestamp starts a record; the plain line after the access-log line continues it
    assert df["line_no"].to_list() == [1, 6, 7, 8]
    first = df.row(0, named=True)
    assert first["timestamp"] == datetime(2024, 3, 1, 8, 0, 0)  # offset converted to UTC
    assert first["level"] == "ERROR"
    assert first["message"].startswith("boom id=7\n\tat com.acme")
    assert first["raw"].count("\n") == 3
    assert df["timestamp"][1] == datetime(2024, 3, 1, 10, 0, 1)
    assert df["raw"][1].endswith("ready")  # CR stripped
    assert df["message"][2] == "Accepted password for bob"
    assert df["timestamp"][2].month == 6 and df["timestamp"][2] <= datetime.now()
    assert df["timestamp"][3] == datetime(2000, 10, 10, 20, 55, 36)
    assert df["message"][3].endswith("\nplain line \ufffd")


def test_batches_equal_whole_scan_with_cut_inside_stack_trace(tmp_path):
    lines = []
    for i in range(300):
        lines.append(f"2024-03-01 10:00:{i % 60:02d},123 WARN [t{i}] a.b.C: step {i}")
        if i % 7 == 0:
            lines += ["java.lang.Error: x", f"    at a.b.C.f(C.java:{i})", "    at a.b.D.g(D.java:1)"]
    p = _write(tmp_path, ("\n".join(lines) + "\n").encode())
    whole = scan_log(p).collect()
    batched = pl.concat(list(iter_log_batches(p, batch_bytes=500)))
    assert whole.equals(batched)
    # the unindented "java.lang.Error" line has no timestamp, so it continues the record too
    assert whole.height == 300
    assert whole["message"][0] == "step 0\njava.lang.Error: x\n    at a.b.C.f(C.java:0)\n    at a.b.D.g(D.java:1)"


def test_empty_file_and_non_log(tmp_path):
    p = _write(tmp_path, b"")
    assert scan_log(p).collect().height == 0
    assert not looks_like_log(p)
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,c\n1,2,3\n4,5,6\n")
    assert not looks_like_log(csv)


def test_logs_job_does_not_load_pandas(tmp_path):
    """pyarrow's `pa.array` and `Array.to_numpy` import pandas (+40 MB RSS, a sixth of the 2 GB run's peak);
    the logs job (one file, and several merged by time) goes through Polars instead."""
    import subprocess
    import sys

    code = ("import sys; from fieldkit import pipelines; "
            f"pipelines.logs([{str(shared('logs', 'HDFS_2k.log'))!r}], {str(tmp_path / 'a.parquet')!r}); "
            f"pipelines.logs([{str(shared('logs', 'HDFS_2k.log'))!r}, {str(shared('logs', 'Spark_2k.log'))!r}], "
            f"{str(tmp_path / 'b.parquet')!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pandas'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert pl.read_parquet(tmp_path / "b.parquet").height == 4000
