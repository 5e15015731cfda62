"""The interface driven for real in tmux: open a file, Ctrl+P, run themes, quit during it.

Checks what a Pilot test cannot: that the process itself is gone within 2 s of Ctrl+Q while
a themes job is running (job threads used to keep it alive for a minute at 100% CPU), and
that the command palette opens on a table screen without crashing. Prints what it saw and
exits 1 on a failure.

    python3 bench/tui_tmux_quit.py [FILE [COLUMN]]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "coding" / "banking77_train.csv"
DEFAULT_COLUMN = "text"
LIMIT = 2.0


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_for(session: str, needle: str, timeout: float = 60.0) -> str:
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = screen(session)
        if needle in text:
            return text
        time.sleep(0.1)
    raise SystemExit(f"FAIL: {needle!r} not on screen after {timeout:.0f} s:\n{text}")


def wait_gone(session: str, needle: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while needle in screen(session):
        if time.monotonic() > end:
            raise SystemExit(f"FAIL: {needle!r} still on screen after {timeout:.0f} s")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for the user's purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def main() -> int:
    if shutil.which("tmux") is None:
        print("tmux is not installed; nothing checked")
        return 0
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FILE
    column = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_COLUMN
    work = Path(tempfile.mkdtemp(prefix="fk-tmux-"))
    data = work / src.name
    shutil.copy(src, data)  # journals never land beside shared data
    session = f"fkquit{os.getpid()}"
    env = f"PYTHONPATH={ROOT} FIELDKIT_HOME={os.environ.get('FIELDKIT_HOME', work / 'home')}"
    tmux("new-session", "-d", "-s", session, "-x", "130", "-y", "40",
         f"cd {ROOT} && exec env {env} {sys.executable} -m fieldkit open {data}")
    pid = int(tmux("list-panes", "-t", session, "-F", "#{pane_pid}").split()[0])
    try:
        wait_for(session, "rows")
        wait_for(session, "^P commands")
        time.sleep(1.0)  # the full read finishes
        tmux("send-keys", "-t", session, "C-p")
        palette = wait_for(session, "Search for commands")
        assert alive(pid), "FAIL: the process died when the command palette opened"
        print("palette open:\n" + "\n".join(palette.splitlines()[:8]))
        tmux("send-keys", "-t", session, "Escape")
        wait_gone(session, "Search for commands")
        tmux("send-keys", "-t", session, "\\;")  # a bare ";" ends a tmux command
        wait_for(session, "Go to column")
        tmux("send-keys", "-t", session, "-l", column)
        tmux("send-keys", "-t", session, "Enter")
        wait_gone(session, "Go to column")
        tmux("send-keys", "-t", session, "t")
        running = wait_for(session, "Esc cancels")
        print("job running:\n" + "\n".join(line for line in running.splitlines() if "Esc cancels" in line))
        time.sleep(1.0)  # well into the job
        t0 = time.monotonic()
        tmux("send-keys", "-t", session, "C-q")
        while alive(pid) and time.monotonic() - t0 < 30:
            time.sleep(0.02)
        gone = time.monotonic() - t0
        ok = not alive(pid) and gone <= LIMIT
        print(f"process gone {gone:.2f} s after Ctrl+Q during a themes job (limit {LIMIT:.0f} s): "
              f"{'ok' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        if alive(pid):
            os.kill(pid, 9)
        tmux("kill-session", "-t", session)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
