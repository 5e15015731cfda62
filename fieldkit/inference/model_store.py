"""The model store: find model files, check them against the manifest's sha256, install them.

Nothing is loaded from a file whose hash has not been checked. Hashes come from
`fieldkit.files.sha256`, whose stamps let later loads skip the rehash of an unchanged file;
`verify_all` always rehashes. Fetching and converting models is `fieldkit.inference.prepare`.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from fieldkit import files
from fieldkit.config import manifest_dir
from fieldkit.errors import ModelError, UsageError
from fieldkit.inference.manifest import (
    plain_name,
    FOLDER_ENTRY_NAME,
    ModelEntry,
    ModelFile,
    all_entries,
    save_user_entry,
)
from fieldkit.progress import Reporter

# a prepared (converted) folder, generator or e5 encoder: these files, described by META_NAME, written last
META_NAME = "fieldkit-generator.json"
MODEL_NAME = "model.onnx"
TOKENIZER_NAME = "tokenizer.json"


def check_file(path: Path, expected: str, *, force: bool = False,
               reporter: Reporter | None = None, label: str | None = None) -> Path:
    """Return `path` if its sha256 is `expected`; ModelError naming the file and both hashes."""
    expected = expected.lower()
    actual = files.sha256(path, reporter=reporter, force=force)
    if actual != expected:
        raise ModelError(
            f"{path}: sha256 is {actual} but the manifest expects {expected}",
            f"the file is corrupt or was changed; reinstall it with "
            f"`fieldkit models prepare {label}`" if label else
            "the file is corrupt or was changed; reinstall it",
        )
    return path


def read_prepared_meta(folder: Path) -> dict | None:
    """The record of a prepared generator folder, or None when it is missing or incomplete."""
    p = Path(folder) / META_NAME
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(meta, dict):
        return None
    if all((Path(folder) / f["name"]).exists() for f in meta.get("files", [])):
        return meta
    return None


def verify_prepared(entry: ModelEntry, force: bool = False,
                    reporter: Reporter | None = None) -> dict[str, Path]:
    """Check a prepared generator's files against the sha256 recorded when they were made."""
    d = Path(entry.install_dir)
    meta = read_prepared_meta(d)
    if meta is None:
        raise ModelError(f"the model {entry.id} is not prepared",
                         hint=f"fieldkit models prepare {entry.id}")
    out = {}
    for f in meta["files"]:
        p = d / f["name"]
        out[f["name"]] = check_file(p, f["sha256"], force=force, label=entry.id,
                                    reporter=reporter.child(f"verify {entry.id}/{f['name']}", p.stat().st_size)
                                    if reporter is not None else None)
    return out


def prepared_model(entry: ModelEntry) -> tuple[Path, Path, str]:
    """(model.onnx, tokenizer.json, model.onnx's sha256) of a prepared model, checked against its record."""
    files = verify_prepared(entry)
    meta = read_prepared_meta(entry.install_dir) or {}
    sha = next((f["sha256"] for f in meta.get("files", []) if f.get("name") == MODEL_NAME), None)
    if sha is None or MODEL_NAME not in files or TOKENIZER_NAME not in files:
        raise ModelError(f"the prepared {entry.id} is incomplete", f"run `fieldkit models prepare {entry.id}` again")
    return files[MODEL_NAME], files[TOKENIZER_NAME], sha


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
    if entry.prepared:  # prepared (converted) files, checked against their own record
        return verify_prepared(entry, reporter=reporter)
    return {f.role: verified_file(entry, f, reporter) for f in entry.files}


def is_installed(entry: ModelEntry) -> bool:
    if entry.prepared:
        return read_prepared_meta(entry.install_dir) is not None
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
        if installed and e.prepared:
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


# ---------------------------------------------------------------- installing

def _store_target(entry: ModelEntry, name: str) -> Path:
    """`install_dir / name`, checked to stay inside the model's store folder."""
    folder = entry.install_dir
    target = folder / plain_name(name, "model file name")
    if target.parent.resolve() != folder.resolve():
        raise ModelError(f"{name!r} would be written outside {folder}", "get the model again")
    return target


def install_file(path: Path, f: ModelFile, entry: ModelEntry, reporter: Reporter | None = None) -> Path:
    """Check a fetched file's hash, then copy it atomically into the store."""
    if Path(path).is_symlink():
        raise ModelError(f"{path} is a symbolic link; model files must be real files",
                         "copy the real file into the folder (cp -L) and try again")
    check_file(path, f.sha256, force=True, label=entry.id,
               reporter=reporter.child(f"verify {f.name}", path.stat().st_size) if reporter else None)
    entry.install_dir.mkdir(parents=True, exist_ok=True)
    target = files.copy_atomic(path, _store_target(entry, f.name))
    # re-check the installed copy so a bad disk cannot slip through; this also stamps it
    return check_file(target, f.sha256, force=True, label=entry.id)


def install_model_folder(folder: Path, model_id: str | None = None,
                         reporter: Reporter | None = None) -> ModelEntry:
    """Install a carried model folder (from `models import`): check every hash, register it.

    Every id and file name must be a plain name, no file may be a symbolic link, and a failed
    install removes what it copied and registers nothing.
    """
    try:
        with open(folder / FOLDER_ENTRY_NAME, encoding="utf-8") as fh:
            data = json.load(fh)
        entry = ModelEntry.from_dict(data, origin="user")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ModelError(f"{folder / FOLDER_ENTRY_NAME} is not a readable model description: {e}",
                         "export the model again with `fieldkit models import`") from e
    if model_id and model_id.lower() != entry.id.lower():
        raise UsageError(f"{folder} holds model {entry.id!r}, not {model_id!r}",
                         f"run `fieldkit models prepare {entry.id} --from {folder}`")
    known = {e.id for e in all_entries() if e.origin == "fieldkit"}
    if entry.id in known:
        raise UsageError(f"{entry.id!r} is a built-in model id", "import it under another name")
    for f in entry.files:
        p = folder / f.name
        if p.is_symlink():
            raise ModelError(f"{p} is a symbolic link; model files must be real files",
                             "copy the real file into the folder (cp -L) and try again")
        if not p.is_file():
            raise ModelError(f"{p} is missing", "copy the whole model folder again")
        check_file(p, f.sha256, force=True, label=entry.id)
    existed = entry.install_dir.exists()
    try:
        for f in entry.files:
            install_file(folder / f.name, f, entry, reporter)
        save_user_entry(data)
    except BaseException:
        if not existed:
            shutil.rmtree(entry.install_dir, ignore_errors=True)
        raise
    return entry


def iter_model_files(entry: ModelEntry) -> Iterator[tuple[ModelFile, Path | None]]:
    for f in entry.files:
        paths = candidate_paths(entry, f)
        yield f, (paths[0] if paths else None)
