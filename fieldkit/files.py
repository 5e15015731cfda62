"""Files: the one sha256 (with one stamp cache), atomic writes, and cached derived files.

Why one module: every write in fieldkit must leave either the old file or the complete new one
(never half a file), and every hash of a big input should be computed once per change, whoever
asks for it (the dataset's provenance, the embedding cache, the model store).

A stamp maps a file's path to its sha256 together with the file's size, mtime_ns, ctime_ns
and inode. A user can set mtime back (`touch -d`, `os.utime`) but not ctime, so any rewrite
changes the stamp's signature and forces a rehash. Like git's "racy clean" rule, a stamp is
only trusted when the file's ctime is clearly older than the moment hashing began, so a write
in the same clock tick as the hash is never missed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from fieldkit.config import cache_home
from fieldkit.progress import Reporter

CHUNK = 1 << 20
TMP_PREFIX = ".fieldkit-tmp-"
_TMP_RE = re.compile(re.escape(TMP_PREFIX) + r"(\d+)-[0-9a-f]+\.")
# file-system timestamps come from a coarse clock (one kernel tick, at most 10 ms); a stamp
# whose file changed within this margin of the hash is not trusted (a later write might share
# the tick). File systems with whole-second timestamps (FAT, old ext3) get two seconds.
RACY_NS = 20_000_000
RACY_COARSE_NS = 2_000_000_000


# ---------------------------------------------------------------- sha256 with one stamp cache

def _read_hash(path: Path, reporter: Reporter | None) -> str:
    """Read the whole file once and return its sha256 (reports bytes read)."""
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
            done += len(block)
            if reporter is not None:
                reporter.update(done)
    return h.hexdigest()


def sha256_fresh(path: str | os.PathLike, reporter: Reporter | None = None) -> str:
    """sha256 read from the bytes, never from or into a stamp: for carried kits and model packs."""
    return _read_hash(Path(path), reporter)


def signature(path: str | os.PathLike) -> str:
    """size:mtime_ns:ctime_ns:inode:device of a file; any rewrite or replacement changes it."""
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}"


def stamp_dir() -> Path:
    return cache_home() / "files" / "sha256"


def _stamp_file(path: Path) -> Path:
    return stamp_dir() / (hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:32]
                          + ".json")


def _racy_margin(ctime_ns: int) -> int:
    return RACY_COARSE_NS if ctime_ns % 1_000_000_000 == 0 else RACY_NS


def _trusted(stamp: dict, sig: str) -> str | None:
    if stamp.get("sig") != sig or not isinstance(stamp.get("sha256"), str):
        return None
    ctime_ns = int(sig.split(":")[2])
    if ctime_ns > int(stamp.get("hashed_at_ns", 0)) - _racy_margin(ctime_ns):
        return None  # changed too close to the hash to tell a later rewrite apart
    return stamp["sha256"]


def _settle(path: Path, sig: str) -> str:
    """Wait out the racy margin of a file changed a few ms ago, so its stamp can be trusted."""
    ctime_ns = int(sig.split(":")[2])
    wait = _racy_margin(ctime_ns) - (time.time_ns() - ctime_ns)
    if 0 < wait <= RACY_NS:
        time.sleep(wait / 1e9)
        return signature(path)
    return sig


def sha256(path: str | os.PathLike, *, reporter: Reporter | None = None, force: bool = False) -> str:
    """sha256 of a file, from its stamp when the file is unchanged; `force` always rereads it.

    Hashing a 1 GB export takes seconds, so a second command on the same file reuses the
    stamp; a stamp that cannot be written (read-only home) only costs a rehash next time.
    """
    path = Path(path).resolve()
    sig = signature(path)
    record = _stamp_file(path)
    if not force:
        with contextlib.suppress(OSError, ValueError, TypeError):
            known = _trusted(json.loads(record.read_text(encoding="utf-8")), sig)
            if known is not None:
                if reporter is not None:
                    reporter.finish("from stamp")
                return known
    sig = _settle(path, sig)
    started = time.time_ns()
    digest = _read_hash(path, reporter)
    if signature(path) == sig:  # unchanged while we read it; otherwise do not remember
        with contextlib.suppress(OSError):
            record.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(record, json.dumps({"path": str(path), "sig": sig, "sha256": digest,
                                                  "hashed_at_ns": started}), durable=False)
    return digest


# ---------------------------------------------------------------- atomic writes

def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but not ours, or cannot tell: leave its file alone
    return True


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files and folders (`temp_name`) left in `folder` by writers that died (killed, power cut)."""
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as it:
        for e in it:
            m = _TMP_RE.match(e.name)
            if m and not _pid_alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    if e.is_dir(follow_symlinks=False):  # a folder of parts, a Ray run's scratch
                        shutil.rmtree(e.path)
                    else:
                        os.unlink(e.path)
                    removed.append(Path(e.path))
    return removed


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A scratch folder in the system temp dir named by this process's pid, removed on exit; the
    same prefix's folders of dead processes (a run killed with SIGKILL, a power cut) go first.

    Why: a 2 GB log's run keeps GBs of parts there; tempfile's random names could never be swept."""
    base = Path(tempfile.gettempdir())
    pattern = re.compile(re.escape(prefix) + r"(\d+)-")
    with contextlib.suppress(OSError), os.scandir(base) as it:
        for e in it:
            m = pattern.match(e.name)
            if not m or _pid_alive(int(m.group(1))):
                continue
            with contextlib.suppress(OSError):  # only our own real folders, never a link out
                if e.is_dir(follow_symlinks=False) and e.stat(follow_symlinks=False).st_uid == os.getuid():
                    shutil.rmtree(e.path)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def temp_name(target: Path) -> Path:
    """A hidden name beside `target` carrying the writer's pid (so a dead writer's file can go)."""
    return target.with_name(f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.{target.name}")


def _new_file_mode(target: Path) -> int:
    """Keep a replaced file's permissions; otherwise 0o666 less the umask (what `open` gives)."""
    with contextlib.suppress(OSError):
        return os.stat(target).st_mode & 0o7777
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; when the block ends normally, move it into place.

    On any exception (including KeyboardInterrupt and Cancelled) the temporary file is removed
    and `target` is left exactly as it was. `durable` fsyncs the file and the folder (outputs
    and model files); caches skip it, since losing one only costs recomputing it.
    """
    target = Path(target)
    folder = target.parent
    remove_stale_temps(folder)
    tmp = temp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode(target))
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, target)
        if durable:
            _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(target: str | os.PathLike, data: bytes, *, durable: bool = True) -> Path:
    with atomic_path(target, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text_atomic(target: str | os.PathLike, text: str, *, durable: bool = True) -> Path:
    with atomic_path(target, durable=durable) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def copy_atomic(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy a (large) file into place atomically, e.g. a model file into the store."""
    import shutil

    with atomic_path(target) as tmp:
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    return Path(target)


# ---------------------------------------------------------------- cached derived files

def source_id(path: str | os.PathLike) -> str:
    """Identity of a source file for cache keys: its resolved path and its signature."""
    p = Path(path).resolve()
    return f"{p}|{signature(p)}"


def derived_path(kind: str, parts: Iterable[str], suffix: str) -> Path:
    """Where the derived file of `kind` for these key parts lives in the cache."""
    key = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return cache_home() / kind / f"{key}{suffix}"


def cached_file(target: Path, build: Callable[[Path], None]) -> Path:
    """`target` if it exists; otherwise `build(tmp)` writes it and it is moved into place whole.

    Used for files derived from a source (a decompressed or re-encoded copy, an int8 graph):
    a crash mid-build leaves no file, so a half-built cache is never picked up later.
    """
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, durable=False) as tmp:
        build(tmp)
    return target
