"""Decompression-bomb limits, shared by every reader of compressed input (zip members of
.xlsx/.ods, .gz/.bz2/.xz/.zst data and logs).

A few MB of crafted input can inflate to many GB: readers stop once the output passes
FIELDKIT_MAX_DECOMPRESSED bytes (default 8 GiB) or, past a 64 MiB floor, FIELDKIT_MAX_RATIO
times the compressed size (default 100; real CSV/XML compresses 3-20x). Both are checked
while reading (and before, where the format declares sizes), with one clear error that says
how to raise them for a genuinely huge file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO, Iterator

from fieldkit.errors import InputError

DEFAULT_MAX_BYTES = 8 << 30
DEFAULT_MAX_RATIO = 100.0
RATIO_FLOOR = 64 << 20  # below this much output the ratio is not checked (harmless anyway)

COMPRESSED_KINDS = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst"}


def _parse_bytes(text: str) -> int | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        return None
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))


def max_bytes() -> int:
    """FIELDKIT_MAX_DECOMPRESSED (e.g. 20G, 500M, or bytes), default 8 GiB."""
    env = os.environ.get("FIELDKIT_MAX_DECOMPRESSED")
    parsed = _parse_bytes(env) if env else None
    return parsed if parsed else DEFAULT_MAX_BYTES


def max_ratio() -> float:
    """FIELDKIT_MAX_RATIO (decompressed / compressed size), default 100."""
    try:
        value = float(os.environ.get("FIELDKIT_MAX_RATIO", ""))
    except ValueError:
        return DEFAULT_MAX_RATIO
    return value if value > 0 else DEFAULT_MAX_RATIO


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n}"


class DecompressionGuard:
    """Counts decompressed bytes and raises InputError once a limit is passed."""

    def __init__(self, name: str, compressed_size: int):
        self.name = name
        self.compressed = max(1, compressed_size)
        self.limit = max_bytes()
        self.ratio = max_ratio()
        self.total = 0

    def allowed(self) -> int:
        return min(self.limit, max(RATIO_FLOOR, int(self.ratio * self.compressed)))

    def add(self, n: int) -> None:
        self.total += n
        self.check(self.total)

    def check(self, total: int) -> None:
        if total <= self.allowed():
            return
        by_ratio = total > self.ratio * self.compressed and self.allowed() < self.limit
        why = (f"more than {self.ratio:g} times its compressed size" if by_ratio
               else f"more than {_size(self.limit)}")
        env = (f"FIELDKIT_MAX_RATIO={self.ratio * 10:g}" if by_ratio
               else f"FIELDKIT_MAX_DECOMPRESSED={-(-self.limit * 4 // (1 << 30))}G")
        raise InputError(
            f"{self.name} decompresses to {why} ({_size(self.compressed)} -> over "
            f"{_size(total)}); refused as a possible decompression bomb",
            f"if it is a real file that large, raise the limit: {env} fieldkit ...")


def guarded_blocks(stream: BinaryIO, guard: DecompressionGuard, block: int = 1 << 20) -> Iterator[bytes]:
    """Read a decompressing stream in blocks, checking the guard after each one."""
    while data := stream.read(block):
        guard.add(len(data))
        yield data


def open_decompressed(path: Path, kind: str) -> BinaryIO:
    """A binary stream of the decompressed content of a gzip/bzip2/xz/zstd file."""
    if kind == "gzip":
        import gzip

        return gzip.open(path, "rb")
    if kind == "bzip2":
        import bz2

        return bz2.open(path, "rb")
    if kind == "xz":
        import lzma

        return lzma.open(path, "rb")
    if kind == "zstd":
        try:
            import zstandard
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise InputError(f"{path.name} is zstd-compressed and the zstandard package is missing",
                             "pip install zstandard, or decompress it with `zstd -d` first") from e
        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    raise ValueError(kind)


def check_zip(path: Path) -> None:
    """Refuse a zip (.xlsx, .ods) whose members declare a bomb-sized total, before reading any."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # the reader reports a corrupt workbook in its own words
    guard = DecompressionGuard(path.name, path.stat().st_size)
    guard.check(sum(i.file_size for i in infos))
