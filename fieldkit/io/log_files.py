"""Opening log files as UTF-8 byte streams: compressed (.gz .bz2 .xz .zst), UTF-16, rotated sets.

Why: logs are kept rotated and compressed (`app.log`, `app.log.1`, `app.log.2.gz`) and Windows
writes UTF-16; the parser works on UTF-8 bytes, so decompression and re-encoding happen here,
streaming, and a damaged or empty archive becomes one clear InputError instead of a traceback.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import re
from pathlib import Path
from typing import BinaryIO, Iterator

from fieldkit.errors import InputError

COMPRESSED = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
_MAGIC = ((b"\x1f\x8b", ".gz"), (b"BZh", ".bz2"), (b"\xfd7zXZ\x00", ".xz"), (b"\x28\xb5\x2f\xfd", ".zst"))
_ROTATED = re.compile(r"^(?P<base>.+?)(?:[.-](?P<n>\d{1,4}))?(?P<z>\.(?:gz|bz2|xz|zst))?$")


def compression_of(path: Path) -> str | None:
    """The compression suffix (by magic bytes, else by name), or None for a plain file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError:
        return None
    for magic, suffix in _MAGIC:
        if head.startswith(magic):
            return suffix
    suffix = path.suffix.lower()
    return suffix if suffix in COMPRESSED else None


def _raw_stream(path: Path) -> BinaryIO:
    kind = compression_of(path)
    if kind is None:
        return open(path, "rb")
    if kind == ".gz":
        return gzip.open(path, "rb")
    if kind == ".bz2":
        return bz2.open(path, "rb")
    if kind == ".xz":
        return lzma.open(path, "rb")
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)


def text_encoding(head: bytes) -> str:
    """'utf-16-le' / 'utf-16-be' (with or without a BOM, by where the zero bytes fall), else 'utf-8'."""
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be"
    sample = head[:4096]
    if len(sample) >= 4:
        even = sample[0::2].count(0) / max(1, len(sample[0::2]))
        odd = sample[1::2].count(0) / max(1, len(sample[1::2]))
        if odd > 0.3 and even < 0.05:
            return "utf-16-le"
        if even > 0.3 and odd < 0.05:
            return "utf-16-be"
    return "utf-8"


class _Damaged(Exception):
    pass


def _zstd_chunks(path: Path, size: int) -> Iterator[bytes]:
    """zstd frames one after another; input that ends inside a frame is an error (the reader would say nothing)."""
    import zstandard

    with open(path, "rb") as fh:
        dobj, fed = zstandard.ZstdDecompressor().decompressobj(), False
        # small compressed reads keep each decompress() output bounded, so the bomb guard
        # sees a hostile frame before it fills memory
        while chunk := fh.read(min(size, 1 << 16)):
            while chunk:
                fed = True
                out = dobj.decompress(chunk)
                if out:
                    yield out
                if not dobj.eof:
                    break
                chunk = dobj.unused_data  # the next frame starts here
                dobj, fed = zstandard.ZstdDecompressor().decompressobj(), False
        if fed and not dobj.eof:
            raise _Damaged("the zstd stream ends inside a frame")


def _chunks(path: Path, size: int) -> Iterator[bytes]:
    """Decompressed chunks, stopped by the shared decompression-bomb guard (fieldkit.io.limits)."""
    if compression_of(path) is None:
        yield from _inflate(path, size)
        return
    from fieldkit.io.limits import DecompressionGuard

    guard = DecompressionGuard(path.name, path.stat().st_size)
    for chunk in _inflate(path, size):
        guard.add(len(chunk))
        yield chunk


def _inflate(path: Path, size: int) -> Iterator[bytes]:
    if compression_of(path) == ".zst":
        try:
            yield from _zstd_chunks(path, size)
        except _Damaged:
            raise
        except Exception as e:  # zstandard.ZstdError
            raise _Damaged(str(e)) from e
        return
    try:
        with _raw_stream(path) as fh:
            while True:
                chunk = fh.read(size)
                if not chunk:
                    return
                yield chunk
    except (EOFError, OSError, lzma.LZMAError, ValueError) as e:
        raise _Damaged(str(e)) from e
    except Exception as e:  # zstandard.ZstdError and friends
        if type(e).__module__.startswith("zstandard") or "zstd" in type(e).__name__.lower():
            raise _Damaged(str(e)) from e
        raise


def iter_utf8_chunks(path: str | Path, size: int = 16 << 20) -> Iterator[bytes]:
    """The file's text as UTF-8 byte chunks (decompressed, UTF-16 re-encoded, BOM dropped)."""
    p = Path(path)
    try:
        it = _chunks(p, size)
        first = next(it, b"")
        enc = text_encoding(first)
        if enc == "utf-8":
            if first.startswith(b"\xef\xbb\xbf"):
                first = first[3:]
            yield first
            yield from it
            return
        dec = codecs.getincrementaldecoder(enc)("replace")
        if first[:2] in (b"\xff\xfe", b"\xfe\xff"):
            first = first[2:]
        yield dec.decode(first).encode("utf-8")
        for chunk in it:
            yield dec.decode(chunk).encode("utf-8")
        yield dec.decode(b"", final=True).encode("utf-8")
    except _Damaged as e:
        raise InputError(f"{p.name} is damaged or truncated ({str(e).splitlines()[0][:80] or 'unexpected end'})",
                         "check the archive, e.g. gzip -t / zstd -t / xz -t, or pass the uncompressed log") from e


def read_head(path: str | Path, size: int = 64 << 10) -> bytes:
    """The first `size` bytes of the file's UTF-8 text (for sniffing and layout inference)."""
    out = b""
    try:
        for chunk in iter_utf8_chunks(path, size=min(size, 1 << 20)):
            out += chunk
            if len(out) >= size:
                break
    except InputError:
        if not out:
            raise
    return out[:size]


def is_binary(head: bytes) -> bool:
    """True when the (decoded) text has NUL or many control bytes: not a text log."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(1 for b in head[:8192] if b < 9 or 13 < b < 32 and b != 27)
    return ctrl / min(len(head), 8192) > 0.05


def rotation_order(files: list[Path]) -> list[Path]:
    """Rotated sets oldest first (`app.log.3.gz`, `app.log.2`, `app.log.1`, `app.log`); other files by name."""
    def key(p: Path):
        m = _ROTATED.match(p.name)
        base, n = (m.group("base"), m.group("n")) if m else (p.name, None)
        if n is not None and not re.search(r"\.(?:log|txt|out|err)$", base, re.I):
            base, n = p.name, None  # `x.log.1` is rotation 1 of x.log; `report-2024.log` is not
        return (str(p.parent), base, -(int(n) if n is not None else 0))
    return sorted(files, key=key)
