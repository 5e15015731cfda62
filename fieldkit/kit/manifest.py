"""The kit's MANIFEST: one line per file (sha256, size, relative path), checked as hostile input.

A path in a manifest is data from a carried stick: it must be a plain relative path made of
plain names, it must stay inside the kit, and it must be a regular file, never a symlink.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from fieldkit.errors import InputError
from fieldkit.files import sha256_fresh
from fieldkit.progress import Reporter

HEADER = "# fieldkit kit manifest 1"
SKIP = {"MANIFEST", "MANIFEST.sig"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
_LINE = re.compile(r"^([0-9a-f]{64})  ([0-9]{1,15})  (\S+)$")


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int
    path: str


def plain_relpath(rel: str) -> str:
    """rel itself when it is a relative POSIX path of plain names, else InputError."""
    parts = rel.split("/")
    if not rel or len(parts) > 8 or any(not _NAME.match(p) or p in (".", "..") for p in parts):
        raise InputError(f"the kit names an unsafe path {rel!r}",
                         "the kit was altered or is not a fieldkit kit; get it again from its source")
    return rel


def sha256_of(path: Path, reporter: Reporter | None = None) -> str:
    """Always rehash: a kit is checked against its bytes, never against a cached stamp."""
    return sha256_fresh(path, reporter)


def kit_files(root: Path) -> list[str]:
    """Every file under root (relative POSIX paths, sorted); a symlink or special file is refused."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                raise InputError(f"{rel} in the kit is a symlink", "a kit holds plain files only")
            if name in filenames:
                if not p.is_file():
                    raise InputError(f"{rel} in the kit is not a regular file", "a kit holds plain files only")
                if rel not in SKIP:
                    found.append(rel)
    return sorted(found)


def write_manifest(root: Path, comments: list[str], reporter: Reporter | None = None) -> str:
    """The MANIFEST text for every file under root (MANIFEST and its signature excluded)."""
    lines = [HEADER] + [f"# {c}" for c in comments]
    for rel in kit_files(root):
        plain_relpath(rel)
        p = root / rel
        lines.append(f"{sha256_of(p, reporter)}  {p.stat().st_size}  {rel}")
    return "\n".join(lines) + "\n"


def parse_manifest(text: str) -> tuple[list[Entry], dict[str, str]]:
    """Entries and `# key value` comments of a MANIFEST; anything malformed is InputError."""
    lines = text.splitlines()
    if not lines or lines[0] != HEADER:
        raise InputError("MANIFEST is not a fieldkit kit manifest", "get the kit again from its source")
    entries: list[Entry] = []
    meta: dict[str, str] = {}
    seen: set[str] = set()
    for n, line in enumerate(lines[1:], start=2):
        if line.startswith("# "):
            key, _, value = line[2:].partition(" ")
            meta[key] = value
            continue
        m = _LINE.match(line)
        if not m:
            raise InputError(f"MANIFEST line {n} is malformed", "get the kit again from its source")
        rel = plain_relpath(m.group(3))
        if rel in seen or rel in SKIP:
            raise InputError(f"MANIFEST lists {rel} twice or lists itself", "get the kit again from its source")
        seen.add(rel)
        entries.append(Entry(m.group(1), int(m.group(2)), rel))
    return entries, meta


def read_manifest(root: Path) -> tuple[list[Entry], dict[str, str], bytes]:
    path = root / "MANIFEST"
    if path.is_symlink() or not path.is_file():
        raise InputError(f"{root} has no MANIFEST", "is this a fieldkit kit folder? (`fieldkit kit build DIR`)")
    if path.stat().st_size > 16 * 1024 * 1024:
        raise InputError("MANIFEST is implausibly large", "get the kit again from its source")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError("MANIFEST is not UTF-8 text", "get the kit again from its source") from e
    entries, meta = parse_manifest(text)
    return entries, meta, raw


def check_files(root: Path, entries: list[Entry], reporter: Reporter | None = None) -> None:
    """InputError naming the first file that is missing, extra, changed or not a plain file."""
    listed = {e.path for e in entries}
    for rel in kit_files(root):
        if rel not in listed:
            raise InputError(f"{rel} is in the kit but not in its MANIFEST",
                             "the kit was altered; remove the file or get the kit again")
    base = root.resolve()
    for e in entries:
        p = root / e.path
        if p.is_symlink() or not p.is_file():
            raise InputError(f"{e.path} is missing from the kit", "copy the whole kit folder again")
        if base not in p.resolve().parents:
            raise InputError(f"{e.path} leaves the kit folder", "get the kit again from its source")
        if p.stat().st_size != e.size:
            raise InputError(f"{e.path} has {p.stat().st_size} bytes, MANIFEST says {e.size}",
                             "the file was damaged in transit; copy it again")
        if sha256_of(p, reporter) != e.sha256:
            raise InputError(f"{e.path} does not match its sha256 in MANIFEST",
                             "the file was damaged or altered; copy the kit again")
