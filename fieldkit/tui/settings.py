"""Interface settings kept in FIELDKIT_HOME/tui.json: recent files, tag names, light/dark theme."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fieldkit.config import fieldkit_home
from fieldkit.files import write_text_atomic

MAX_RECENT = 12


def settings_path() -> Path:
    return fieldkit_home() / "tui.json"


def load() -> dict[str, Any]:
    """The saved settings; a missing or damaged file gives defaults (never an error)."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def update(**changes: Any) -> dict[str, Any]:
    """Merge changes and write atomically (tmp + replace) so a crash cannot corrupt the file."""
    data = load()
    data.update(changes)
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=1))
    except OSError:
        pass  # a read-only home must not stop the interface
    return data


def recent() -> list[str]:
    return [p for p in load().get("recent", []) if isinstance(p, str)]


def add_recent(path: str | Path) -> list[str]:
    p = str(Path(path).resolve())
    items = [p] + [r for r in recent() if r != p]
    update(recent=items[:MAX_RECENT])
    return items[:MAX_RECENT]
