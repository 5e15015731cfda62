"""Build an air-gapped kit on a connected machine: wheels, ready models, scripts, signed MANIFEST."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from fieldkit import __version__
from fieldkit.errors import InputError, UsageError
from fieldkit.kit import manifest as mf
from fieldkit.kit import wheels as wh
from fieldkit.progress import Reporter

DEFAULT_MODELS = ("all-minilm-l6-v2", "smollm2-135m-instruct")
# models whose files all come inside a pinned run-time wheel or fieldkit itself: no pack needed
IN_WHEELS = {"all-minilm-l6-v2"}


@dataclass
class KitResult:
    folder: Path
    parts: dict[str, int] = field(default_factory=dict)  # part -> bytes
    files: int = 0
    seconds: float = 0.0
    signed: bool = False
    base: str | None = None

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def _models(spec: str | None) -> list[str]:
    from fieldkit.inference.manifest import all_entries, get_entry

    if spec is None:
        return list(DEFAULT_MODELS)
    if spec.strip().lower() == "all":
        return [e.id for e in all_entries()]
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    return [get_entry(i).id for i in ids]


def _requirements(per_target: list[tuple[wh.Target, list[Path]]], own: Path) -> str:
    """requirements.txt: every wheel pinned with --hash; markers where only some targets need it."""
    files: dict[tuple[str, str], list[Path]] = {}
    needed: dict[tuple[str, str], set[str]] = {}
    for target, wheels in per_target:
        for w in wheels:
            key = wh.wheel_name_version(w.name)
            files.setdefault(key, [])
            if w.name not in {f.name for f in files[key]}:
                files[key].append(w)
            needed.setdefault(key, set()).add(target.tag)
    lines = ["# fieldkit kit: install with pip --no-index --find-links wheels --require-hashes -r requirements.txt"]
    tags = {t.tag: t for t, _ in per_target}
    for (name, version), ws in sorted(files.items()):
        marker = ""
        if needed[(name, version)] != set(tags):
            marker = " ; " + " or ".join(f"({tags[t].marker})" for t in sorted(needed[(name, version)]))
        hashes = " ".join(f"--hash=sha256:{mf.sha256_of(w)}" for w in sorted(ws))
        lines.append(f"{name}=={version}{marker} {hashes}")
    name, version = wh.wheel_name_version(own.name)
    lines.append(f"{name}=={version} --hash=sha256:{mf.sha256_of(own)}")
    return "\n".join(lines) + "\n"


def ensure_prepared(model_id: str, reporter: Reporter | None = None) -> None:
    """Prepare (download and convert) a model on this connected machine unless it is ready."""
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import is_installed
    from fieldkit.inference.prepare import prepare

    if not is_installed(get_entry(model_id)):
        prepare(model_id, None, reporter)


def _template(name: str, subs: dict[str, str]) -> str:
    text = resources.files("fieldkit.kit").joinpath("templates", name).read_text(encoding="utf-8")
    for k, v in subs.items():
        text = text.replace(f"@{k}@", v)
    return text


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def _drop_unchanged(work: Path, old: Path) -> str:
    """Remove what the old kit already carries (whole model packs, single wheels); the base's sha256."""
    entries, _, raw = mf.read_manifest(old)
    mf.check_files(old, entries)
    have = {(e.path, e.sha256) for e in entries}
    for w in sorted((work / "wheels").glob("*.whl")):
        if (f"wheels/{w.name}", mf.sha256_of(w)) in have:
            w.unlink()
    models = work / "models"
    for pack in sorted(models.iterdir()) if models.is_dir() else []:
        files = [p for p in pack.iterdir()]
        if all((f"models/{pack.name}/{p.name}", mf.sha256_of(p)) in have for p in files):
            shutil.rmtree(pack)
    import hashlib

    return hashlib.sha256(raw).hexdigest()


def build_kit(dest: Path, models: str | None = None, python: str | None = None,
              platforms: list[str] | None = None, sign_key: Path | None = None,
              since: Path | None = None, reporter: Reporter | None = None) -> KitResult:
    """Build the kit folder dest (new or empty); nothing is left at dest if anything fails."""
    from fieldkit.inference.packs import export_pack

    started = time.monotonic()
    python = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    targets = [wh.Target.make(p, python) for p in (platforms or [wh.NATIVE])]
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} exists and is not an empty folder", "give a new folder for the kit")
    if not dest.parent.is_dir():
        raise UsageError(f"folder {dest.parent} does not exist", "create it first")
    if sign_key is not None and not sign_key.is_file():
        raise UsageError(f"signing key {sign_key} does not exist", "make one with `fieldkit kit keygen KEY`")
    if since is not None and not (since / "MANIFEST").is_file():
        raise UsageError(f"{since} is not a kit (no MANIFEST)", "give the folder of the kit this one updates")
    model_ids = _models(models)
    rep = reporter or Reporter("kit")
    work = dest.parent / f".{dest.name}.fk-build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        wheels_dir = work / "wheels"
        wheels_dir.mkdir()
        own_dir = work / ".own"
        own = wh.build_own_wheel(_project_root(), own_dir, rep.child("fieldkit wheel"))
        roots = wh.wheel_requirements(own)  # run-time only: extras' lines fail their marker
        per_target = []
        for i, target in enumerate(targets):
            dl = work / f".dl-{i}"
            wh.download(target, roots, dl, rep.child(f"wheels {target.tag}"))
            got = sorted(dl.glob("*.whl"))
            if len(got) != len(list(dl.iterdir())):
                raise InputError("pip fetched a file that is not a wheel", "every package must have a wheel")
            kept = []
            for w in got:
                final = wheels_dir / w.name
                if not final.exists():
                    os.replace(w, final)
                kept.append(final)
            shutil.rmtree(dl)
            per_target.append((target, kept))
        own = Path(shutil.move(str(own), wheels_dir / own.name))
        shutil.rmtree(own_dir)
        (work / "requirements.txt").write_text(_requirements(per_target, own), encoding="utf-8")
        (work / "models").mkdir()
        for model_id in model_ids:
            if model_id in IN_WHEELS:
                continue
            rep.check()
            ensure_prepared(model_id, rep.child(f"prepare {model_id}"))
            export_pack(model_id, work / "models" / model_id, rep.child(f"pack {model_id}"))
        base = _drop_unchanged(work, since) if since is not None else None
        built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        tags = ", ".join(t.tag if t.tag != wh.NATIVE else f"{sys.platform} (this machine's)" for t in targets)
        subs = {"PYTHON": python, "VERSION": __version__, "BUILT": built, "PLATFORMS": tags,
                "MODELS": ", ".join(model_ids) or "none",
                "DELTA": (f"This is an UPDATE kit: it holds only what changed since the kit whose MANIFEST "
                          f"has sha256 {base}.\n") if base else ""}
        for name in ("install.sh", "install.ps1", "README.txt"):
            (work / name).write_text(_template(name, subs), encoding="utf-8")
        os.chmod(work / "install.sh", 0o755)
        comments = [f"fieldkit {__version__}", f"python {python}", f"platforms {tags}",
                    f"models {','.join(model_ids)}", f"built {built}"]
        if base:
            comments.append(f"base {base}")
        text = mf.write_manifest(work, comments)
        (work / "MANIFEST").write_text(text, encoding="utf-8")
        if sign_key is not None:
            from fieldkit.kit.signing import sign

            (work / "MANIFEST.sig").write_bytes(sign(sign_key, text.encode("utf-8")))
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return _summarise(dest, started, sign_key is not None, base)


def _summarise(dest: Path, started: float, signed: bool, base: str | None) -> KitResult:
    res = KitResult(dest, seconds=time.monotonic() - started, signed=signed, base=base)
    for rel in mf.kit_files(dest):
        part = rel.split("/")[0]
        if part == "models":
            part = "/".join(rel.split("/")[:2])
        elif "/" not in rel:
            part = "scripts and manifest"
        res.parts[part] = res.parts.get(part, 0) + (dest / rel).stat().st_size
        res.files += 1
    for extra in ("MANIFEST", "MANIFEST.sig"):
        if (dest / extra).is_file():
            res.parts["scripts and manifest"] = res.parts.get("scripts and manifest", 0) + (dest / extra).stat().st_size
    return res


def verify_kit(folder: Path, pubkey: Path | None = None, reporter: Reporter | None = None) -> dict[str, str]:
    """Check every file and, with pubkey, the signature; InputError naming the first bad file."""
    entries, meta, raw = mf.read_manifest(folder)
    if pubkey is not None:
        from fieldkit.kit.signing import verify

        sig = folder / "MANIFEST.sig"
        if sig.is_symlink() or not sig.is_file():
            raise InputError("the kit has no MANIFEST.sig", "ask for a signed kit (kit build --sign-key KEY)")
        if not verify(pubkey, raw, sig.read_bytes()[:1024]):
            raise InputError("MANIFEST.sig does not verify with this public key",
                             "do not install this kit; get it again from its source")
    mf.check_files(folder, entries, reporter)
    return meta
