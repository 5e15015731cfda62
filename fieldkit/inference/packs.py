"""Model packs: one model's ready files in a folder, carried by hand from laptop to laptop.

`export_pack` copies a verified, installed model with a `fieldkit-pack.json` listing every
file's sha256. `install_pack` treats the pack as hostile: plain names only, no symlinks, every
byte checked, built-in models only with the bytes the manifest expects; the new version is
staged beside the old one and swapped in only once it verifies, so a bad pack never breaks the
model that was there.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fieldkit import __version__
from fieldkit.config import models_home
from fieldkit.errors import InputError, ModelError, UsageError
from fieldkit.files import sha256_fresh
from fieldkit.inference.manifest import plain_name
from fieldkit.progress import Reporter

PACK_FILE = "fieldkit-pack.json"
GENERATOR_META = "fieldkit-generator.json"
_MAX_JSON = 1 << 20


@dataclass
class PackInfo:
    id: str
    task: str
    files: list[dict]
    folder: Path
    meta: dict = field(default_factory=dict, repr=False)  # the pack description as read once

    @property
    def size(self) -> int:
        return sum(int(f["size"]) for f in self.files)


def _model_files(entry) -> dict[str, Path]:
    """name -> verified path of every file the installed model loads (rehashed, no stamps)."""
    from fieldkit.inference.model_store import candidate_paths, check_file, is_installed

    if not is_installed(entry):
        raise ModelError(f"model {entry.id} is not installed here",
                         f"run `fieldkit models prepare {entry.id}` first")
    if entry.prepared:
        from fieldkit.inference.model_store import verify_prepared

        files = verify_prepared(entry, force=True)
        out = {Path(p).name: Path(p) for p in files.values()}
        out[GENERATOR_META] = Path(entry.install_dir) / GENERATOR_META
        return out
    out = {}
    for f in entry.files:
        paths = candidate_paths(entry, f)
        out[f.name] = check_file(paths[0], f.sha256, force=True, label=entry.id)
    return out


def export_pack(model_id: str, out: Path, reporter: Reporter | None = None) -> PackInfo:
    """Write the installed model `model_id` as a pack folder at out (which must not exist)."""
    from fieldkit.inference.manifest import get_entry

    entry = get_entry(model_id)
    if out.exists() or out.is_symlink():
        raise UsageError(f"{out} already exists", "give a new folder for the pack")
    if not out.parent.is_dir():
        raise UsageError(f"folder {out.parent} does not exist", "create it first")
    files = _model_files(entry)
    tmp = out.with_name(f".{out.name}.fk-tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        listed = []
        for name, src in sorted(files.items()):
            if reporter is not None:
                reporter.check()
                reporter.update(0, f"{entry.id}/{name}", force=True)
            dst = tmp / plain_name(name, "file name")
            shutil.copyfile(src, dst)
            listed.append({"name": name, "sha256": sha256_fresh(dst), "size": dst.stat().st_size})
        meta = {"format": 1, "id": entry.id, "task": entry.task, "fieldkit": __version__,
                "entry": entry.raw if entry.origin == "user" else None, "files": listed}
        (tmp / PACK_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PackInfo(entry.id, entry.task, listed, out, meta)


def read_pack(pack: Path) -> PackInfo:
    """The checked description of a pack folder: every name plain, every file present and unchanged."""
    meta_path = pack / PACK_FILE
    if not pack.is_dir() or meta_path.is_symlink() or not meta_path.is_file():
        raise InputError(f"{pack} is not a model pack (no {PACK_FILE})",
                         "make one with `fieldkit models export ID -o PACK`")
    if meta_path.stat().st_size > _MAX_JSON:
        raise InputError(f"{PACK_FILE} is implausibly large", "the pack was altered")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        model_id = plain_name(meta["id"], "model id")
        files = meta["files"]
        if meta.get("format") != 1 or not isinstance(files, list) or not files:
            raise ValueError("format")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{PACK_FILE} in {pack} is malformed", "export the pack again") from None
    names = set()
    for f in files:
        if not isinstance(f, dict):
            raise InputError(f"{PACK_FILE} in {pack} is malformed", "export the pack again")
        name = plain_name(f.get("name"), "file name")
        if name in names or name == PACK_FILE:
            raise InputError(f"the pack lists {name} twice", "the pack was altered")
        names.add(name)
        p = pack / name
        if p.is_symlink() or not p.is_file():
            raise InputError(f"{name} is missing from the pack (or is not a plain file)",
                             "copy the whole pack folder again")
        if p.stat().st_size != f.get("size") or sha256_fresh(p) != f.get("sha256"):
            raise InputError(f"{name} in the pack does not match its sha256",
                             "the file was damaged or altered; copy the pack again")
    extra = {q.name for q in pack.iterdir()} - names - {PACK_FILE}
    if extra:
        raise InputError(f"the pack holds files it does not list: {sorted(extra)[0]}",
                         "the pack was altered; export it again")
    return PackInfo(model_id, str(meta.get("task", "")), files, pack, meta)


def _expect_builtin(info: PackInfo, entry) -> None:
    """A pack for a built-in model may only carry the bytes that model is known by."""
    got = {f["name"]: f["sha256"] for f in info.files}
    if entry.prepared:
        meta = json.loads((info.folder / GENERATOR_META).read_text(encoding="utf-8")) \
            if GENERATOR_META in got else None
        src = entry.files[0].sha256 if entry.files else None
        if not meta or meta.get("source_sha256") != src:
            raise InputError(f"the pack's {entry.id} was not prepared from the known source file",
                             "export the pack again from a laptop that prepared it")
        listed = {f.get("name"): f.get("sha256") for f in meta.get("files", [])}
        for name, sha in listed.items():
            if got.get(plain_name(name, "file name")) != sha:
                raise InputError(f"{name} in the pack does not match the generator's record",
                                 "the pack was altered")
        return
    for f in entry.files:
        if got.get(f.name) != f.sha256:
            raise InputError(f"{f.name} in the pack is not the known {entry.id} file (sha256 differs)",
                             "the pack was altered or is for another version")


def install_pack(pack: Path, reporter: Reporter | None = None) -> PackInfo:
    """Install a checked pack; the previous version stays until the new one verifies."""
    from fieldkit.inference.manifest import ModelEntry, all_entries, save_user_entry

    info = read_pack(pack)
    meta = info.meta  # one read: what was checked is what is installed
    builtin = {e.id: e for e in all_entries() if e.origin == "fieldkit"}
    user_entry = None
    if info.id in builtin:
        _expect_builtin(info, builtin[info.id])
    else:
        raw = meta.get("entry")
        if not isinstance(raw, dict) or raw.get("id") != info.id:
            raise InputError(f"the pack's model {info.id!r} is unknown here and the pack does not describe it",
                             "export the pack again with `fieldkit models export`")
        user_entry = ModelEntry.from_dict(raw, origin="user")
        for f in user_entry.files:
            plain_name(f.name, "file name")
            if next((g["sha256"] for g in info.files if g["name"] == f.name), None) != f.sha256:
                raise InputError(f"{f.name} in the pack does not match its model entry", "the pack was altered")
    home = models_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / info.id
    if home.resolve() not in target.resolve().parents:
        raise InputError(f"model id {info.id!r} would leave the model store", "the pack was altered")
    stage = home / f".{info.id}.fk-new-{os.getpid()}"
    old = home / f".{info.id}.fk-old-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        for f in info.files:
            if reporter is not None:
                reporter.check()
                reporter.update(0, f"{info.id}/{f['name']}", force=True)
            shutil.copyfile(pack / f["name"], stage / f["name"])
            os.chmod(stage / f["name"], 0o644)
            if sha256_fresh(stage / f["name"]) != f["sha256"]:
                raise ModelError(f"{f['name']} changed while it was copied into the store",
                                 "check the disk, then install the pack again")
        had_old = target.exists()
        if had_old:
            os.replace(target, old)
        os.replace(stage, target)
        try:
            _check_installed(user_entry or builtin[info.id])
            if user_entry is not None:  # registered only once its files verify in place
                save_user_entry(meta["entry"])
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            if had_old:
                os.replace(old, target)
            raise
        if had_old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return info


def _check_installed(entry) -> None:
    from fieldkit.inference.model_store import is_installed, verified_files

    if not is_installed(entry):
        raise ModelError(f"{entry.id} did not install completely", "export the pack again")
    verified_files(entry)
