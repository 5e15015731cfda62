"""A Ray run that is stopped (SIGTERM, Ctrl+C), crashes (a worker killed) or is killed outright leaves no scratch.

The command runs as a user runs it (`python -m fieldkit logs ... --parts --engine ray`, joining
the tests' Ray with --address); the signal comes once the workers hold their shards on disk.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import shared
from tests.e2e.test_cli_text import run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = ".fieldkit-tmp-"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Two log files of 160,000 real loghub lines each: seconds of reading per worker."""
    folder = tmp_path_factory.mktemp("fleet")
    paths = []
    for name in ("BGL", "HDFS"):
        lines = Path(shared("logs", f"{name}_2k.log")).read_text(encoding="utf-8", errors="replace")
        p = folder / f"{name.lower()}.log"
        p.write_text(lines * 80, encoding="utf-8")
        paths.append(p)
    return paths


def _scratch(home: Path) -> list[Path]:
    root = home / "cache" / "scale"
    return sorted(root.iterdir()) if root.is_dir() else []


def _start(fleet, out: Path, home: Path, address: str) -> subprocess.Popen:
    env = {**os.environ, "FIELDKIT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "fieldkit", "logs", *map(str, fleet), "-o", str(out), "--parts",
                             "--engine", "ray", "--address", address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _when_sharding(proc: subprocess.Popen, home: Path) -> list[Path]:
    """The workers' shard folders, once they exist (the run is then well under way)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        held = [p for p in _scratch(home) if p.name.endswith(".shards")]
        if held:
            return held
        time.sleep(0.05)
    out, err = proc.communicate()
    raise AssertionError(f"the workers never held a shard (exit {proc.returncode}): {err[-2000:]}")


def _left(out: Path, home: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(HIDDEN)] + _scratch(home)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "worker killed"])
def test_a_stopped_or_crashed_ray_run_leaves_no_scratch_and_no_output(how, fleet, tmp_path, local_ray):
    address = local_ray.get_runtime_context().gcs_address
    home, out = tmp_path / "home", tmp_path / "out" / "parts"
    out.parent.mkdir()
    proc = _start(fleet, out, home, address)
    held = _when_sharding(proc, home)
    if how == "worker killed":  # a crash on the workers: the shard folder is named after its actor's process
        os.kill(int(re.match(re.escape(HIDDEN) + r"(\d+)-", held[0].name).group(1)), signal.SIGKILL)
    else:
        proc.send_signal(getattr(signal, how))
    _, err = proc.communicate(timeout=240)
    expected = {"SIGTERM": 128 + signal.SIGTERM, "SIGINT": 128 + signal.SIGINT, "worker killed": 1}[how]
    assert proc.returncode == expected, err[-2000:]
    said = [line for line in err.splitlines() if line.startswith(("error:", "hint:"))]
    assert said and said[0].startswith("error:") and "Traceback" not in err, err[-2000:]
    if how == "worker killed":  # one error line and what to do, not "a bug in fieldkit"
        assert "worker was lost" in said[0] and said[1].startswith("hint:") and "bug" not in err, err[-2000:]
    assert not out.exists()  # nothing that looks like a finished folder of parts
    assert _left(out, home) == []


def test_a_killed_driver_leaves_scratch_that_the_next_run_removes(fleet, tmp_path, local_ray, capsys, monkeypatch):
    address = local_ray.get_runtime_context().gcs_address
    home, out = tmp_path / "home", tmp_path / "out" / "parts"
    out.parent.mkdir()
    proc = _start(fleet, out, home, address)
    _when_sharding(proc, home)
    proc.kill()  # SIGKILL: no handler, no finally
    proc.communicate(timeout=60)
    assert not out.exists() and _left(out, home)  # the hidden folder beside the output, the shards
    deadline = time.monotonic() + 60  # Ray ends the dead driver's actors
    while time.monotonic() < deadline and any(_alive(p) for p in _left(out, home)):
        time.sleep(0.2)
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    code, stdout, err = run(capsys, "logs", *map(str, fleet), "-o", str(out), "--parts", "--engine", "ray")
    assert code == 0, err
    assert (out / "manifest.json").is_file()
    assert _left(out, home) == []


def _alive(path: Path) -> bool:
    pid = int(re.match(re.escape(HIDDEN) + r"(\d+)-", path.name).group(1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
