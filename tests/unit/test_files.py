"""fieldkit.files: the stamped sha256, atomic writes (stale temps, failures) and cached derived files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

import pytest

from fieldkit import files


@pytest.fixture
def counted(monkeypatch):
    """The paths actually read to hash them (stamp hits read nothing)."""
    reads = []
    real = files._read_hash
    monkeypatch.setattr(files, "_read_hash", lambda p, r=None: reads.append(p) or real(p, r))
    return reads


def _old_file(path, data: bytes):
    path.write_bytes(data)
    time.sleep(files.RACY_NS / 1e9 * 2)  # older than the racy margin, like a user's real file
    return path


def test_sha256_is_remembered_until_the_file_changes(fk_home, tmp_path, counted):
    p = _old_file(tmp_path / "a.csv", b"x,y\n1,2\n")
    assert files.sha256(p) == hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    assert files.sha256(p) == files.sha256(p)
    assert counted == [p.resolve()]  # hashed once, then from the stamp
    assert files.sha256(p, force=True) and len(counted) == 2  # force always rereads


def test_rewrite_with_same_size_and_mtime_is_rehashed(fk_home, tmp_path, counted):
    p = _old_file(tmp_path / "a.csv", b"answer,1\n")
    first = files.sha256(p)
    st = p.stat()
    with open(p, "r+b") as f:  # same inode, same size
        f.write(b"ANSWER")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime set back; ctime cannot be
    assert (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert files.sha256(p) == hashlib.sha256(b"ANSWER,1\n").hexdigest() != first
    assert len(counted) == 2


def test_replaced_file_is_rehashed(fk_home, tmp_path):
    p = _old_file(tmp_path / "a.csv", b"one\n")
    files.sha256(p)
    other = tmp_path / "b.csv"
    other.write_bytes(b"two\n")
    os.replace(other, p)
    assert files.sha256(p) == hashlib.sha256(b"two\n").hexdigest()


def test_fresh_file_stamp_is_trusted_after_settling(fk_home, tmp_path, counted):
    p = tmp_path / "new.csv"
    p.write_bytes(b"just written\n")
    files.sha256(p)  # waits out the racy margin before reading, so the stamp is good
    files.sha256(p)
    assert len(counted) == 1


def test_stamps_live_with_files_not_the_model_store(fk_home, tmp_path):
    files.sha256(_old_file(tmp_path / "a.csv", b"a\n"))
    assert list(files.stamp_dir().glob("*.json"))
    assert files.stamp_dir().is_relative_to(fk_home / "cache" / "files")
    assert not (fk_home / "cache" / "verified-files.json").exists()


def test_atomic_failure_leaves_old_file_intact(tmp_path):
    target = tmp_path / "out.parquet"
    target.write_bytes(b"old complete output")
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_bytes(b"half of the new")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old complete output"
    assert os.listdir(tmp_path) == ["out.parquet"]


def test_atomic_write_keeps_mode_and_uses_umask(tmp_path):
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    files.write_text_atomic(kept, "new")
    assert (kept.read_text(), kept.stat().st_mode & 0o777) == ("new", 0o640)
    old = os.umask(0o027)
    try:
        files.write_text_atomic(tmp_path / "fresh.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "fresh.txt").stat().st_mode & 0o777 == 0o640


def test_temp_name_carries_the_pid(tmp_path):
    with files.atomic_path(tmp_path / "out.csv") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(f"{files.TMP_PREFIX}{os.getpid()}-")
        assert tmp.name.endswith(".out.csv")  # the suffix is kept for writers that look at it
        tmp.write_text("x")


def test_stale_temps_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"{files.TMP_PREFIX}{dead_pid}-0a1b2c3d.out.parquet"
    stale.write_bytes(b"left by a killed run")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f"{files.TMP_PREFIX}{alive.pid}-0a1b2c3d.out.parquet"
        live.write_bytes(b"another run still writing")
        unrelated = tmp_path / ".fieldkit-tmp-notes.txt"
        unrelated.write_text("not ours")
        files.write_text_atomic(tmp_path / "out.parquet", "done")
        assert not stale.exists()
        assert live.exists() and unrelated.exists()
    finally:
        alive.kill()
        alive.wait()


def test_cached_file_builds_once_and_never_leaves_half(fk_home, tmp_path):
    src = _old_file(tmp_path / "src.txt", b"source")
    target = files.derived_path("io", [files.source_id(src), "upper"], ".txt")
    builds = []

    def build(tmp):
        builds.append(tmp)
        tmp.write_bytes(src.read_bytes().upper())

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise OSError("no space left")

    with pytest.raises(OSError):
        files.cached_file(target, broken)
    assert not target.exists() and os.listdir(target.parent) == []
    assert files.cached_file(target, build).read_bytes() == b"SOURCE"
    assert files.cached_file(target, build) == target and len(builds) == 1
    src.write_bytes(b"changed")
    assert files.derived_path("io", [files.source_id(src), "upper"], ".txt") != target


def test_a_killed_logs_run_leaves_scratch_that_the_next_run_removes(tmp_path):
    """`logs` keeps GBs of parts in a scratch folder: SIGKILL skips every cleanup, so the folder is
    named by the pid and the next run removes folders of dead runs (never live ones, never links)."""
    import signal

    from tests.conftest import shared

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    big = tmp_path / "big.log"
    lines = shared("logs", "HDFS_2k.log").read_bytes()
    big.write_bytes(lines * 150)  # 300k real lines: long enough to be killed mid-run
    env = {**os.environ, "TMPDIR": str(scratch)}
    run = subprocess.Popen([sys.executable, "-m", "fieldkit", "logs", str(big), "-o", str(tmp_path / "a.parquet")],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(scratch.glob(f"fieldkit-logs-{run.pid}-*")) and run.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before it could be killed"
        run.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        if run.poll() is None:
            run.kill()
    left = list(scratch.glob(f"fieldkit-logs-{run.pid}-*"))
    assert len(left) == 1 and left[0].is_dir()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = scratch / f"fieldkit-logs-{alive.pid}-keep"
        live.mkdir()
        outside = tmp_path / "not-scratch"
        outside.mkdir()
        (outside / "precious").write_text("x")
        link = scratch / "fieldkit-logs-999999999-link"
        link.symlink_to(outside, target_is_directory=True)
        done = subprocess.run([sys.executable, "-m", "fieldkit", "logs", str(shared("logs", "HDFS_2k.log")),
                               "-o", str(tmp_path / "b.parquet")], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert not left[0].exists()
        assert live.is_dir() and link.is_symlink() and (outside / "precious").exists()
        assert {p.name for p in scratch.glob("fieldkit-logs-*")} == {live.name, link.name}  # its own went too
    finally:
        alive.kill()
        alive.wait()
