"""Formats the header inference used to miss, one test each: real samples (logs/formats/) and logs written here."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from fieldkit.io.logs import file_layout, scan_log
from tests.conftest import shared


def run_logs(paths, out, **kw):
    """The logs job as the CLI and the TUI run it (fieldkit.pipelines.logs); its outcome."""
    from fieldkit import pipelines

    return pipelines.logs(paths, out, **kw).outcome


def _fmt(name: str):
    return shared("logs", "formats", name)


@pytest.mark.parametrize("name", ["logfile_w3c.0", "logfile_w3c.2", "logfile_w3c.3", "logfile_w3c_big.0"])
def test_w3c_directives_are_not_entries(name):
    """`#Software:`/`#Fields:` lines describe the file: every entry has its timestamp, none is a directive."""
    p = _fmt(name)
    text = p.read_text(encoding="utf-8", errors="replace")
    data = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    df = scan_log(p).collect()
    assert file_layout(p).comments
    assert df.height == len(data)
    assert df["timestamp"].null_count() == 0
    assert not any(m.startswith("#") or "\n#" in m for m in df["message"])


def test_w3c_directives_between_entries_written_here(tmp_path):
    """A server restart writes its directives again mid-file: they join no entry's timestamp count."""
    head = "#Software: test\n#Version: 1.0\n#Date: 2024-03-01 10:00:00\n#Fields: date time c-ip cs-method sc-status\n"
    rows = [f"2024-03-01 10:00:{s:02d} 10.0.0.{s} GET {200 + s % 3}" for s in range(20)]
    p = tmp_path / "u_ex240301.log"
    p.write_text(head + "\n".join(rows[:10]) + "\n" + head + "\n".join(rows[10:]) + "\n")
    df = scan_log(p).collect()
    assert df.height == 20 and df["timestamp"].null_count() == 0
    assert df["timestamp"][10] == datetime(2024, 3, 1, 10, 0, 10)
    assert df["message"].to_list() == [r.split(" ", 2)[2] for r in rows]
    res = run_logs([p], tmp_path / "o.parquet")
    assert any("lines starting with # are directives" in n for n in res.digest.extra["notes"])


def test_day_of_year_timestamps():
    """ISO 8601 ordinal dates (`2012-025T10:22:40,672`): day 25 is January 25th, day 333 of 2014 is November 29th."""
    df = scan_log(_fmt("logfile_yday.0")).collect()
    assert df["timestamp"].to_list() == [datetime(2012, 1, 25, 10, 22, 40, 672000),
                                         datetime(2014, 11, 29, 16, 56, 38, 344000)]
    assert df["level"].to_list() == ["DEBUG", "WARN"] and df["message"].to_list() == ["foo bar baz"] * 2


@pytest.mark.parametrize("name,entries", [("logfile_generic_with_header.0", 2), ("logfile_syslog_with_header.0", 3),
                                          ("logfile_mysql_gen.0", 12)])
def test_a_header_before_the_first_entry_is_not_an_entry(tmp_path, name, entries):
    p = _fmt(name)
    df = scan_log(p).collect()
    assert df["timestamp"].null_count() == 0 and df.height >= entries
    assert file_layout(p).preamble >= 2 and not file_layout(p).comments
    res = run_logs([p], tmp_path / "o.parquet")
    assert any("before the first timestamp are the file's header" in n for n in res.digest.extra["notes"])


def test_a_log_starting_without_a_header_loses_no_line(tmp_path):
    """Only the lines before the first timestamp go, and only in a file whose entries carry one."""
    p = tmp_path / "app.log"
    p.write_text("2024-01-01 00:00:01 INFO start\n  continued\n2024-01-01 00:00:02 WARN slow\n")
    df = scan_log(p).collect()
    assert file_layout(p).preamble == 0
    assert df["message"].to_list() == ["start\n  continued", "slow"]


def test_invalid_json_lines_keep_their_fields():
    """A cut or hand-broken JSON line among valid ones still gives its timestamp and level by key."""
    df = scan_log(_fmt("logfile_json_invalid.json")).collect()
    assert df["timestamp"].null_count() == 0
    cut = df.filter(pl.col("raw").str.contains("DEBUG4"))
    assert cut["timestamp"][0] == datetime(2013, 9, 6, 22, 0, 59, 124817)
    assert cut["message"][0].startswith("D\\bDe\\betails")  # read by key, as written
    nested = scan_log(_fmt("logfile_invalid_json2.json")).collect()  # the keys sit under "@fields"
    assert nested["timestamp"].null_count() == 0 and nested["level"].to_list() == ["TRACE", "INFO", "INFO"]


def test_quoted_timestamps():
    """`"2014-06-15 01:04:52"<TAB>...` (tab-separated audit logs quote their fields)."""
    df = scan_log(_fmt("logfile_openam.0")).collect()
    assert df["timestamp"].to_list() == [datetime(2014, 6, 15, 1, 4, 52)] * df.height


def test_hash_lines_that_carry_the_time_stay_entries():
    """In a MySQL slow log the `# Time:` lines start the entries: `#` is not always a comment."""
    p = _fmt("logfile_mysql_slow.0")
    df = scan_log(p).collect()
    assert not file_layout(p).comments
    assert df["timestamp"].null_count() / df.height < 0.05
    assert df["raw"][0].startswith("# Time: 2021-01-26T23:45:57")


def test_numbers_shaped_like_a_date_are_not_the_timestamp(tmp_path):
    """`262144 262144` has the yymmdd shape but month 21, hour 26: the syslog stamp before it is the timestamp."""
    p = tmp_path / "sizes.log"
    p.write_text("Mar 24 15:17:38.999  00000000026F I shmem.res 262144 262144 1 pool ready\n"
                 "Mar 24 15:17:40.120  00000000026F I shmem.res 131072 262144 2 pool ready\n", encoding="utf-8")
    assert file_layout(p).form.name == "syslog"
    df = scan_log(p).collect()
    assert df["timestamp"].dt.strftime("%m-%d %H:%M:%S%.3f").to_list() == ["03-24 15:17:38.999", "03-24 15:17:40.120"]
    assert all("262144" in m for m in df["message"])
    real = scan_log(_fmt("logfile_cxx.0")).collect()  # the real sample with such numbers
    assert real["timestamp"].null_count() == 0


def test_numbered_debug_levels_name_the_json_level_key():
    """lnav's JSON sample writes DEBUG2..DEBUG5 beside the usual words under `lvl`: that key is the level."""
    p = _fmt("logfile_json.json")
    assert file_layout(p).json.level_path.endswith("lvl")
    levels = scan_log(p).collect()["level"]
    assert levels.null_count() == 0 and {"TRACE", "DEBUG3", "WARN", "FATAL"} <= set(levels)
