"""Header inference on logs this test writes itself, one per header shape, and params that rebuild the message.

Each log mixes a few events with varied parameters (users, IPs, numbers, program names), so
the layout must be learnt from token statistics, and every line's template with its params
put back must give its message exactly.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import random
from datetime import datetime

import polars as pl
import pytest

from fieldkit.analysis.log_params import fill
from fieldkit.io.logs import file_layout, scan_log


def run_logs(paths, out, **kw):
    """The logs job as the CLI and the TUI run it (fieldkit.pipelines.logs); its outcome."""
    from fieldkit import pipelines

    return pipelines.logs(paths, out, **kw).outcome

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]
PROGS = ["chrome.exe", "Dropbox.exe", "svchost.exe", "outlook.exe"]


def _messages(rng: random.Random, n: int) -> list[str]:
    out = []
    for i in range(n):
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        kind = i % 4
        if kind == 0:
            out.append(f"Invalid user {rng.choice(USERS)} from {ip} port {rng.randint(1024, 65535)}")
        elif kind == 1:
            out.append(f"session opened for user {rng.choice(USERS)} by (uid={rng.randint(0, 999)})")
        elif kind == 2:
            out.append(f"connection to {ip}:{rng.randint(80, 9000)} closed, {rng.randint(1, 9999)} bytes sent")
        else:
            out.append(f"job export_{rng.randint(1, 99)} finished in {rng.randint(1, 900)}ms")
    return out


# name -> (header maker (i, rng) -> header text before the message, expected first timestamp, columns, check)
SHAPES = {
    "syslog": (lambda i, r: f"Jun {1 + i // 50:2d} 10:{i % 60:02d}:07 {r.choice(['web1', 'db-2'])} "
                            f"{r.choice(['sshd', 'cron'])}[{r.randint(100, 9999)}]: ",
               datetime(2021, 6, 1, 10, 0, 7), {"host", "process", "pid"}),
    "bracket_md": (lambda i, r: f"[10.30 16:{i % 60:02d}:06] {r.choice(PROGS)} - ",
                   datetime(2021, 10, 30, 16, 0, 6), {"component"}),
    "file_prefix": (lambda i, r: f"nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:{i % 60:02d}.008 "
                                 f"{r.randint(1000, 30000)} INFO nova.osapi.server [req-{r.randint(1, 9)}a - - -] ",
                    datetime(2017, 5, 16, 0, 0, 0, 8000), {"pid", "component", "context"}),
    "logcat": (lambda i, r: f"03-17 16:13:{i % 60:02d}.811  {r.randint(1000, 2000)}  {r.randint(2000, 9000)} "
                            f"{'DIWE'[i % 4]} {r.choice(['WindowManager', 'PowerManagerService'])}: ",
               datetime(2021, 3, 17, 16, 13, 0, 811000), {"pid", "thread", "component"}),
    "cbs": (lambda i, r: f"2016-09-28 04:30:{i % 60:02d}, {r.choice(['Info', 'Warning'])}                  "
                         f"{r.choice(['CBS', 'CSI'])}    ",
            datetime(2016, 9, 28, 4, 30, 0), {"component"}),
    "epoch_date_host": (lambda i, r: f"- {1131566461 + i} 2005.11.09 dn{r.randint(1, 300)} Nov  9 12:01:{i % 60:02d} "
                                     f"dn228/dn228 crond[{r.randint(100, 9000)}]: ",
                        datetime(2005, 11, 9, 12, 1, 0), {"host", "process", "pid", "context"}),
    "rfc3339": (lambda i, r: f"2024-03-01T10:00:{i % 60:02d}.5+02:00 {r.choice(['INFO', 'WARN'])} ",
                datetime(2024, 3, 1, 8, 0, 0, 500000), set()),
    "apache": (lambda i, r: f"[Sun Dec 04 04:47:{i % 60:02d} 2005] [{r.choice(['notice', 'error'])}] ",
               datetime(2005, 12, 4, 4, 47, 0), set()),
    "log4j": (lambda i, r: f"2015-10-18 18:01:{i % 60:02d},978 {r.choice(['INFO', 'ERROR'])} "
                           f"[{r.choice(['main', 'IPC Server handler 3'])}] org.apache.hadoop.Foo: ",
              datetime(2015, 10, 18, 18, 1, 0, 978000), {"thread", "component"}),
    "python": (lambda i, r: f"2024-01-02 03:04:{i % 60:02d},123 - myapp.{r.choice(['db', 'web'])} - "
                            f"{r.choice(['INFO', 'WARNING'])} - ",
               datetime(2024, 1, 2, 3, 4, 0, 123000), {"component"}),
    "epoch": (lambda i, r: f"{1700000000 + i}.250 {r.choice(['h1', 'h2'])} app[{r.randint(1, 99)}]: ",
              datetime(2023, 11, 14, 22, 13, 20, 250000), {"host", "process", "pid"}),
    "pipes": (lambda i, r: f"20171223-22:15:{i % 60:02d}:606|Step_{r.choice(['LSC', 'SPUtils'])}|{r.randint(1, 9)}|",
              datetime(2017, 12, 23, 22, 15, 0, 606000), {"component", "pid"}),
    # zone names are part of the timestamp (postgres; `date`'s output puts one before the year)
    "postgres_zone": (lambda i, r: f"2025-08-13 01:45:{i % 60:02d}.123 PDT [{r.randint(100, 99999)}] LOG:  ",
                      datetime(2025, 8, 13, 1, 45, 0, 123000), {"context"}),
    "ctime_zone": (lambda i, r: f"Wed May 19 08:00:{i % 60:02d} EST 2021 ", datetime(2021, 5, 19, 8, 0, 0), set()),
}


def _write_shape(tmp_path, name: str, n: int = 120):
    header, first_ts, cols = SHAPES[name]
    rng = random.Random(name)
    msgs = _messages(rng, n)
    text = "".join(header(i, rng) + m + "\n" for i, m in enumerate(msgs))
    p = tmp_path / f"{name}.log"
    p.write_text(text, encoding="utf-8")
    when = datetime(2021, 12, 31, 23, 0).timestamp()  # year-less stamps take the file's year
    os.utime(p, (when, when))
    return p, msgs, first_ts, cols


def test_zone_names_are_not_hosts(tmp_path):
    """`... 01:45:01.123 PDT [pid]` was read as host `PDT`; the zone name belongs to the timestamp."""
    p, msgs, first_ts, cols = _write_shape(tmp_path, "postgres_zone")
    df = scan_log(p).collect()
    assert "host" not in df.columns and df["context"].str.contains(r"^\d+$").all()
    assert df["timestamp"][0] == first_ts


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_header_shape_columns_timestamp_and_params(tmp_path, name):
    p, msgs, first_ts, cols = _write_shape(tmp_path, name)
    df = scan_log(p).collect()
    assert df.height == len(msgs)
    assert df["message"].to_list() == msgs  # the header is not in the message
    assert df["timestamp"].null_count() == 0 and df["timestamp"][0] == first_ts
    assert cols <= set(df.columns), df.columns
    out = tmp_path / "out.parquet"
    res = run_logs([p], out)
    lines = pl.read_parquet(out)
    assert all(fill(t, ps) == m for t, ps, m in zip(lines["template"], lines["params"], lines["message"]))
    # the four events are four templates: users, IPs and program names are parameters
    assert res.templates.height == 4, res.templates["template"].to_list()


def test_year_less_timestamps_say_where_the_year_came_from(tmp_path):
    p, *_ = _write_shape(tmp_path, "syslog")
    lay = file_layout(p)
    assert lay.year == 2021 and lay.year_source == "the file's modification time"
    res = run_logs([p], tmp_path / "o.parquet")
    assert any("carry no year" in n and "2021" in n for n in res.digest.extra["notes"])
    # a December line in a file last written in June is from the year before
    q = tmp_path / "late.log"
    q.write_text("Dec 30 23:59:01 h1 cron[1]: tick 1\nDec 30 23:59:02 h1 cron[1]: tick 2\n")
    june = datetime(2022, 6, 1).timestamp()
    os.utime(q, (june, june))
    assert scan_log(q).collect()["timestamp"][0] == datetime(2021, 12, 30, 23, 59, 1)
    # a date written elsewhere in the file wins over the modification time
    p2, *_ = _write_shape(tmp_path, "epoch_date_host")
    assert file_layout(p2).year_source == "a date written in the file"


def test_year_less_stamps_take_the_year_of_a_date_in_the_messages_in_any_usual_form(tmp_path):
    """HAProxy via syslog: 'Feb 25 16:19:49 host haproxy[7]: ip:port [25/Feb/2019:16:19:48.143] ...'
    took the year from the modification time (2026 here) though every message says 2019."""
    p = tmp_path / "haproxy.log"
    p.write_text("".join(f"Feb 25 16:19:{s:02d} lb1 haproxy[7]: 10.0.0.{s}:5333{s % 10} "
                         f"[25/Feb/2019:16:19:{s:02d}.143] http_in be/web 0/0/1/37/38 200 306\n"
                         for s in range(30)))
    june = datetime(2026, 6, 1).timestamp()
    os.utime(p, (june, june))
    lay = file_layout(p)
    assert (lay.year, lay.year_source) == (2019, "a date written in the file")
    assert scan_log(p).collect()["timestamp"][0] == datetime(2019, 2, 25, 16, 19, 0)
    for line, year in (("Date: Mon, 03 Mar 2020 10:00:00 GMT", 2020), ("built on Mar 3, 2021 by ci", 2021),
                       ("released 2018-05-16", 2018), ("Feb 25 16:19:38 host x[1]: no year", None)):
        q = tmp_path / f"y{year}.log"
        q.write_text("".join(f"Feb 25 16:19:{s:02d} h x[1]: {line}\n" for s in range(5)))
        os.utime(q, (june, june))
        assert file_layout(q).year == (year or 2026), line


def test_apt_history_records_keep_their_date_their_key_and_a_template(tmp_path):
    """/var/log/apt/history.log: `Start-Date: 2025-06-24  14:36:25` (two blanks) then the record's lines.
    The two blanks hid the date (the time was read alone and dated by the file's mtime, 2026), the
    `Start-Date:` key was dropped and every record's template was the empty first line."""
    recs = []
    for i in range(12):
        cmd = ["apt-get install -y curl", "apt-get -qqy upgrade", f"apt-get install -y pkg{i}"][i % 3]
        recs.append(f"Start-Date: 2025-06-{10 + i}  14:36:{i:02d}\nCommandline: {cmd}\n"
                    f"Install: pkg{i}:amd64 (1.{i}-1)\nEnd-Date: 2025-06-{10 + i}  14:37:{i:02d}\n")
    p = tmp_path / "history.log"
    p.write_text("\n" + "\n".join(recs))
    june = datetime(2026, 6, 1).timestamp()
    os.utime(p, (june, june))
    df = scan_log(p).collect()
    assert df["timestamp"][0] == datetime(2025, 6, 10, 14, 36, 0)
    assert df["context"].to_list()[:2] == ["Start-Date:", "End-Date:"]
    assert df["message"][0].startswith("Commandline: apt-get install -y curl\nInstall: pkg0:amd64")
    res = run_logs([p], tmp_path / "h.parquet")
    top = set(res.digest.templates["template"].to_list())
    assert "Commandline: apt-get install -y <*>" in top or "Commandline: apt-get install -y curl" in top
    from fieldkit.analysis.log_summary import _short
    assert _short("") == "(no message)"  # End-Date records: a header and no words


def test_node_loggers_silly_and_timing_are_levels(tmp_path):
    """npm's debug log (npmlog: `3 silly config load:file:...`): silly and timing lines had no level and
    kept the line number and level word in the message."""
    lines = ["verbose cli /usr/bin/node /usr/bin/npm", "info using npm@10.8.2", "silly config load:file:/root/.npmrc",
             "timing npm:load:whichnode Completed in 1ms", "verbose title npm pack npm@11.19.1",
             "silly logfile done cleaning log files", "notice Tarball Contents", "warn deprecated inflight@1.0.6",
             "silly tarball no local data for npm. Extracting by manifest.", "timing command:pack Completed in 90ms"]
    p = tmp_path / "npm-debug.log"
    p.write_text("".join(f"{i} {lines[i % 10]}\n" for i in range(40)))
    df = scan_log(p).collect()
    assert df["level"].null_count() == 0
    assert set(df["level"]) == {"TRACE", "INFO", "DEBUG", "NOTICE", "WARN"}
    assert df["message"][2] == "config load:file:/root/.npmrc"


def test_logcat_e_is_an_error_and_problems_without_levels(tmp_path):
    p, *_ = _write_shape(tmp_path, "logcat")
    df = scan_log(p).collect()
    assert set(df["level"].unique()) == {"DEBUG", "INFO", "WARN", "ERROR"}
    # syslog has no levels: failure words make problems, and a burst is called out first
    rows = [f"Dec 10 06:{m:02d}:00 LabSZ sshd[{100 + m}]: Accepted publickey for alice" for m in range(0, 60, 2)]
    rows += [f"Dec 10 06:30:{s % 60:02d} LabSZ sshd[{s}]: Failed password for {USERS[s % 7]} from 10.0.0.{s % 200} "
             f"port {2000 + s} ssh2" for s in range(300)]
    q = tmp_path / "auth.log"
    q.write_text("\n".join(sorted(rows)) + "\n")
    res = run_logs([q], tmp_path / "a.parquet")
    d = res.digest
    assert d.levels == {} and d.error_lines == 300
    assert d.problems["template"][0].startswith("Failed password for <*> from")
    assert res.summary.startswith("- Burst: 300 lines of `Failed password for <*> from")
    assert res.summary_model == "digest facts (deterministic)"


def _records(p):
    return scan_log(p).collect().drop("raw")


def test_compressed_and_utf16_logs_read_like_the_plain_one(tmp_path):
    p, msgs, *_ = _write_shape(tmp_path, "log4j")
    data = p.read_bytes()
    plain = _records(p)
    variants = {
        "a.log.gz": gzip.compress(data), "b.log.bz2": bz2.compress(data), "c.log.xz": lzma.compress(data),
        "e.log": b"\xff\xfe" + data.decode().encode("utf-16-le"),  # UTF-16 with a BOM
        "f.log": data.decode().encode("utf-16-le"),  # and without one (Windows tools write both)
        "g.log": data.decode().encode("utf-16-be"),
    }
    import zstandard

    variants["d.log.zst"] = zstandard.ZstdCompressor().compress(data)
    for name, blob in variants.items():
        q = tmp_path / name
        q.write_bytes(blob)
        assert _records(q).equals(plain), name


def test_rotated_set_is_read_oldest_first(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    days = {"app.log.2.gz": 1, "app.log.1": 2, "app.log": 3}
    for name, day in days.items():
        text = "".join(f"2024-01-0{day} 10:00:0{i} INFO tick {i}\n" for i in range(3)).encode()
        (folder / name).write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    res = run_logs([folder], tmp_path / "o.parquet")
    assert [f.name for f in res.files] == ["app.log.2.gz", "app.log.1", "app.log"]
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out["source"].to_list() == ["app.log.2.gz"] * 3 + ["app.log.1"] * 3 + ["app.log"] * 3
    assert out["timestamp"].is_sorted()


def test_json_lines_keys_are_chosen_from_their_values(tmp_path):
    import json

    rng = random.Random(7)
    msgs = _messages(rng, 40)
    rows = [{"when": f"2024-05-0{1 + i // 20}T08:00:{i % 60:02d}Z", "sev": ["info", "error"][i % 2],
             "svc": {"name": "api", "ver": 3}, "text": m, "n": i} for i, m in enumerate(msgs)]
    p = tmp_path / "app.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    lay = file_layout(p)
    assert (lay.json.ts_path, lay.json.level_path, lay.json.msg_path) == ("$.when", "$.sev", "$.text")
    df = scan_log(p).collect()
    assert df["message"].to_list()[:40] == msgs and df["message"][40] == "{not json"
    assert df["timestamp"][0] == datetime(2024, 5, 1, 8, 0) and df["level"][:2].to_list() == ["INFO", "ERROR"]


def test_the_message_key_is_words_not_a_long_id(tmp_path):
    """journald's export put its `__CURSOR` (one long unique token) in the message column, and
    pino's `trace_id` beat `msg`: the longest, most varied string won."""
    import json

    rng = random.Random(3)
    msgs = _messages(rng, 40)
    hexid = lambda: "".join(rng.choice("0123456789abcdef") for _ in range(32))
    journald = [{"__CURSOR": f"s={hexid()};i={i:x};b={hexid()};m={rng.randrange(10**7):x};t={hexid()}",
                 "__REALTIME_TIMESTAMP": str(1534860261221373 + i * 10**6), "_HOSTNAME": "medusa",
                 "SYSLOG_IDENTIFIER": "python", "MESSAGE": m} for i, m in enumerate(msgs)]
    # no conventional name: the key holding words wins over a longer id
    plain = [{"time": f"2024-05-01T08:00:{i % 60:02d}Z", "trace": hexid() + hexid(), "what": m}
             for i, m in enumerate(msgs)]
    for name, rows, key in (("journal.json", journald, "$.MESSAGE"), ("plain.jsonl", plain, "$.what")):
        p = tmp_path / name
        p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        assert file_layout(p).json.msg_path == key
        assert scan_log(p).collect()["message"].to_list() == msgs


def test_digest_never_prints_control_characters_from_the_log(tmp_path):
    from fieldkit.analysis.logs import digest_markdown

    p = tmp_path / "esc.log"
    p.write_text("".join(f"2024-01-01 10:00:0{i} ERROR \x1b[31mdisk {i} failed\x1b[0m\x07\n" for i in range(5)))
    res = run_logs([p], tmp_path / "o.parquet")
    text = digest_markdown(res.digest) + res.summary
    assert " failed?[<*>`" in text and "5 error lines" in text
    assert not any(ch in text for ch in "\x1b\x07")


def test_postgres_levels_after_the_header_are_levels(tmp_path):
    """PostgreSQL writes its level after the header (`[pid] ERROR:`), then `DETAIL:`/`STATEMENT:` lines of the same
    entry at that place: LOG, ERROR, FATAL ... are the level (LOG was read as a process `LOG`), the others start
    their message."""
    rng = random.Random(5)
    rows, want = [], []
    for i in range(90):
        head = f"2025-04-12 00:{i // 60:02d}:{i % 60:02d}.837 CEST [{rng.randint(1000, 99999)}] "
        kind = i % 3
        if kind == 0:
            rows.append(head + f"LOG:  checkpoint complete: wrote {rng.randint(1, 900)} buffers")
            want.append(("INFO", f"checkpoint complete: wrote {rows[-1].rsplit(' ', 2)[1]} buffers"))
        elif kind == 1:
            table = rng.choice(USERS)
            rows.append(head + f'ERROR:  relation "{table}" does not exist at character {rng.randint(1, 99)}')
            want.append(("ERROR", rows[-1].split("ERROR:  ")[1]))
        else:
            rows.append(head + f"STATEMENT:  select * from {rng.choice(USERS)};")
            want.append((None, rows[-1].split("] ")[1]))
    rows[-1] = rows[-1].replace("STATEMENT:", "FATAL:")
    want[-1] = ("FATAL", rows[-1].split("FATAL:  ")[1])
    p = tmp_path / "postgresql.log"
    p.write_text("\n".join(rows) + "\n")
    df = scan_log(p).collect()
    assert list(zip(df["level"], df["message"])) == want
    res = run_logs([p], tmp_path / "o.parquet")
    lines = pl.read_parquet(tmp_path / "o.parquet")
    assert all(fill(t, ps) == m for t, ps, m in zip(lines["template"], lines["params"], lines["message"]))
    assert res.digest.levels == {"INFO": 30, "ERROR": 30, "FATAL": 1} and res.digest.error_lines == 31


def test_a_header_inside_the_messages_is_split_too(tmp_path):
    """Syslog lines shipped as JSON lines, and one service's own header inside docker compose's `name | time`
    envelope: the inner header's host, program and pid are columns, the message is what follows it (left in,
    its time and ids made every line its own template)."""
    import json

    rng = random.Random(11)
    msgs = _messages(rng, 80)
    rows, inner = [], []
    for i, m in enumerate(msgs):
        host, prog, pid = rng.choice(["web1", "db-2"]), rng.choice(["sshd", "cron"]), rng.randint(100, 9999)
        inner.append((host, prog, str(pid)))
        rows.append(json.dumps({"ts": f"2024-06-01T10:{i % 60:02d}:07Z", "shipper": "vector",
                                "message": f"Jun  1 12:{i % 60:02d}:07 {host} {prog}[{pid}]: {m}"}))
    p = tmp_path / "shipped.jsonl"
    p.write_text("\n".join(rows) + "\n")
    df = scan_log(p).collect()
    assert df["message"].to_list() == msgs
    assert list(zip(df["host"], df["process"], df["pid"])) == inner
    assert df["timestamp"][0] == datetime(2024, 6, 1, 10, 0, 7)  # the envelope's time stays the timestamp
    res = run_logs([p], tmp_path / "o.parquet")
    lines = pl.read_parquet(tmp_path / "o.parquet")
    assert all(fill(t, ps) == m for t, ps, m in zip(lines["template"], lines["params"], lines["message"]))
    assert res.templates.height == 4, res.templates["template"].to_list()

    # docker compose: a web service writes bare messages, redis its own `pid:role date time level` header
    rows, want = [], []
    for i, m in enumerate(msgs[:40]):
        stamp = f"2024-04-25T05:32:{i % 60:02d}.584725130Z"
        if i % 2:
            rows.append(f"web-1    | {stamp} * {m}")
            want.append(f"* {m}")
        else:
            rows.append(f"redis-1  | {stamp} 1:M 25 Apr 2024 05:32:{i % 60:02d}.018 * {m}")
            want.append(f"* {m}")
    q = tmp_path / "compose.log"
    q.write_text("\n".join(rows) + "\n")
    assert scan_log(q).collect()["message"].to_list() == want
    res = run_logs([q], tmp_path / "c.parquet")
    assert res.templates.height == 4, res.templates["template"].to_list()
