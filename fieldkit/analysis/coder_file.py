"""The saved coder: a folder of plain numpy arrays and one JSON file, so coders can travel and merge.

Why a folder of .npy + JSON: no pickle anywhere (arrays are read with `allow_pickle=False`, the
JSON with the standard library), any tool can read it, and a coordinator can average several
laptops' coders (FedAvg) without the answers that taught them.

FORMAT `fieldkit-coder/3` (a folder, written atomically: built beside the target, then renamed;
folders of format /2, which is /3 without the statistics, are read too):

    coder.json    {"format": "fieldkit-coder/3",
                   "model": embedding model id (e.g. "all-minilm-l6-v2"),
                   "model_sha256": sha256 of the model's shipped weights (null if unknown),
                   "graph_sha256": sha256 of the ONNX graph actually run, when derived (else null),
                   "dim": embedding size d,
                   "labels": [code, ...]                 (L codes, in row order of the arrays),
                   "n_labelled": [int, ...]              (L: coded answers that taught each code;
                                                          0 = taught by the codebook only),
                   "temperature": float                  (logits are divided by it),
                   "multi_code": bool                    (false: softmax over codes, one code per
                                                          answer; true: one sigmoid per code),
                   "code_threshold": float               (several codes: the probability a
                                                          further code needs; optional, 0.5),
                   "settings": {...}                     (how it was trained: C, blend, ...),
                   "info": {...},                        (coded answers, held-out calibration)
                   "stats": {"min_answers": k, "withheld": codes} or null (no statistics)}
    weight.npy    float32 (L, d)   logits = x @ weight.T + bias, x the L2-normalised embedding
    bias.npy      float32 (L,)     a code never taught has bias -1e4 (never predicted)
  and, when "stats" is not null (one code per answer; analysis/coding_stats.py):
    class_sum.npy    float32 (L, d)  per-code sum of the coded answers' embeddings
    class_count.npy  float32 (L,)    answers in each sum (0 for a code with fewer than k answers:
                                     its answers stay on the laptop, out of all three arrays)
    moment.npy       float32 (d, d)  sum of x x^T over the same answers

Merging (federated): coders with the same `model` (and `model_sha256`) that all carry statistics
are merged exactly: the statistics add up, and the office fits one head on the sums
(analysis/merge_models.py). Otherwise rows are averaged per label, weighting each coder's row by
its `n_labelled` for that label (FedAvg); a label a coder lacks contributes nothing.

Loading treats the folder as hostile: only the six fixed names are opened, never a name
from the JSON; symlinks leading out of the folder, pickled/object arrays, wrong shapes or
dtypes, non-finite numbers, and labels that are not short printable strings are refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from fieldkit.errors import InputError, UsageError

FORMAT = "fieldkit-coder/3"
READS = ("fieldkit-coder/2", FORMAT)  # /2 is /3 without statistics
META, WEIGHT, BIAS = "coder.json", "weight.npy", "bias.npy"
SUM, COUNT, MOMENT = "class_sum.npy", "class_count.npy", "moment.npy"
MAX_JSON = 16 << 20  # a coder's JSON is a few kB per code; refuse anything absurd
MAX_LABEL = 200
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_HINT = "give the folder `fieldkit code --save-model DIR` wrote"


def save(coder: Any, target: str | os.PathLike, *, model_sha256: str | None = None,
         graph_sha256: str | None = None) -> Path:
    """Write `coder` as a coder folder; an existing coder folder is replaced, anything else refused."""
    from fieldkit.files import temp_name

    target = check_target(target)
    meta = {"format": FORMAT, "model": coder.model_id,
            "model_sha256": model_sha256 or coder.info.get("model_sha256"),
            "graph_sha256": graph_sha256 or coder.info.get("graph_sha256"),
            "dim": coder.dim, "labels": list(coder.labels),
            "n_labelled": [int(n) for n in coder.n_labelled],
            "temperature": float(coder.temperature), "multi_code": bool(coder.multi_code),
            "code_threshold": float(getattr(coder, "threshold", 0.5)),
            "settings": dict(coder.info.get("settings", {})),
            "info": {k: v for k, v in coder.info.items()
                     if k not in ("settings", "model_sha256", "graph_sha256")}, "stats": None}
    arrays = [(WEIGHT, coder.weight), (BIAS, coder.bias)]
    stats = getattr(coder, "stats", None)
    if stats is not None:
        from fieldkit.analysis.coding_stats import MIN_ANSWERS

        meta["stats"] = {"min_answers": MIN_ANSWERS, "withheld": int(stats.withheld)}
        arrays += [(SUM, stats.class_sum), (COUNT, stats.class_count), (MOMENT, stats.moment)]
    tmp = temp_name(target)
    old = temp_name(target)
    tmp.mkdir(mode=0o755)
    try:
        for name, arr in arrays:
            with open(tmp / name, "wb") as f:
                np.save(f, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        with open(tmp / META, "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():  # swap: the old coder stays whole until the new one is in place
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target


def check_target(target: str | os.PathLike) -> Path:
    """Where a coder may be saved: a new folder, or an old coder folder (replaced); else UsageError."""
    target = Path(target)
    if target.exists() and not (target.is_dir() and (target / META).is_file()):
        raise UsageError(f"{target} exists and is not a saved coder",
                         "give a new folder name for --save-model (an old coder folder is replaced)")
    if not target.parent.is_dir():
        raise UsageError(f"folder {target.parent} does not exist", "create it first, or give another path")
    return target


def _inside(folder: Path, name: str) -> Path:
    p = folder / name
    if not p.is_file():
        raise InputError(f"{folder.name} is not a saved coder (no {name})", _HINT)
    if p.resolve().parent != folder.resolve():
        raise InputError(f"{folder.name}/{name} leads out of the coder folder", _HINT)
    return p


def _array(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode=None)
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"{path.parent.name}/{path.name} is not a plain array ({type(e).__name__})",
                         _HINT) from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f" or arr.shape != shape:
        raise InputError(f"{path.parent.name}/{path.name} has the wrong shape or type "
                         f"({getattr(arr, 'shape', '?')}, expected {shape} floats)",
                         "save the coder again with --save-model")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InputError(f"{path.parent.name}/{path.name} holds non-finite numbers",
                         "save the coder again with --save-model")
    return arr


def _label(x: Any) -> str:
    if not isinstance(x, str) or not x.strip() or len(x) > MAX_LABEL or not x.isprintable():
        raise ValueError("labels must be short printable strings")
    return x


def read(source: str | os.PathLike) -> dict[str, Any]:
    """The fields of a coder folder written by `save` (`Coder(**fields)`); anything else is refused."""
    folder = Path(source)
    if not folder.is_dir():
        what = "is a file, not a coder folder" if folder.exists() else "does not exist"
        raise InputError(f"coder {folder} {what}", _HINT)
    meta_path = _inside(folder, META)
    if meta_path.stat().st_size > MAX_JSON:
        raise InputError(f"{folder.name}/{META} is too large for a coder", _HINT)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") not in READS:
            raise InputError(f"{folder.name} is not a {FORMAT} coder "
                             f"(format {str(meta.get('format') if isinstance(meta, dict) else None)[:40]!r})",
                             _HINT)
        model = meta["model"]
        if not isinstance(model, str) or not _MODEL_ID.match(model):
            raise ValueError("bad model id")
        labels = [_label(x) for x in meta["labels"]]
        if len(set(labels)) != len(labels) or len(labels) < 2:
            raise ValueError("labels must be two or more distinct codes")
        n_labelled = np.asarray([int(n) for n in meta["n_labelled"]], dtype=np.int64)
        if n_labelled.shape != (len(labels),) or (n_labelled < 0).any():
            raise ValueError("n_labelled must give one count >= 0 per label")
        dim = int(meta["dim"])
        temperature = float(meta.get("temperature", 1.0))
        threshold = float(meta.get("code_threshold", 0.5))  # absent in older folders
        if not (0 < dim <= 65_536) or not (1e-3 <= temperature <= 1e3) or not 0 < threshold < 1:
            raise ValueError("dim, temperature or code_threshold out of range")
        shas = {k: meta.get(k) for k in ("model_sha256", "graph_sha256")}
        if any(v is not None and not (isinstance(v, str) and _SHA.match(v)) for v in shas.values()):
            raise ValueError("sha256 values must be 64 hex digits")
        settings = meta.get("settings") or {}
        info = meta.get("info") or {}
        if not isinstance(settings, dict) or not isinstance(info, dict):
            raise ValueError("settings and info must be objects")
        has_stats = meta.get("format") == FORMAT and meta.get("stats") is not None
        withheld = int(meta["stats"]["withheld"]) if has_stats else 0
        if has_stats and (bool(meta.get("multi_code")) or not 0 <= withheld <= len(labels)):
            raise ValueError("statistics are kept for one-code coders only, with 0..L withheld codes")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as e:
        raise InputError(f"{folder.name}/{META} is not a valid coder description ({e})"[:300],
                         _HINT) from None
    weight = _array(_inside(folder, WEIGHT), (len(labels), dim))
    bias = _array(_inside(folder, BIAS), (len(labels),))
    info = {**info, "settings": settings, **{k: v for k, v in shas.items() if v}}
    stats = _stats(folder, len(labels), dim, n_labelled, withheld) if has_stats else None
    return {"model_id": model, "labels": labels, "weight": weight, "bias": bias,
            "n_labelled": n_labelled, "temperature": temperature,
            "multi_code": bool(meta.get("multi_code", False)), "info": info, "stats": stats,
            "threshold": threshold}


def _stats(folder: Path, n_labels: int, dim: int, n_labelled: np.ndarray, withheld: int):
    """The label statistics of a /3 folder, checked like the weights (and counts <= coded answers)."""
    from fieldkit.analysis.coding_stats import LabelStats

    class_sum = _array(_inside(folder, SUM), (n_labels, dim)).astype(np.float64)
    count = _array(_inside(folder, COUNT), (n_labels,)).astype(np.float64)
    moment = _array(_inside(folder, MOMENT), (dim, dim)).astype(np.float64)
    if (count < 0).any() or (count > n_labelled + 1e-6).any():
        raise InputError(f"{folder.name}/{COUNT} counts more answers than the coder was taught",
                         "save the coder again with --save-model")
    return LabelStats(class_sum, count, moment, withheld)


def check_model(coder: Any, embedder: Any) -> None:
    """Refuse applying a coder to vectors of another embedding model (ids or weights differ)."""
    want = coder.info.get("model_sha256")
    if coder.model_id != embedder.model_id or (want and embedder.sha256 and want != embedder.sha256):
        raise UsageError(f"the saved coder was trained on {coder.model_id} "
                         f"({(want or 'unknown')[:12]}), not on {embedder.model_id} "
                         f"({(embedder.sha256 or 'unknown')[:12]})",
                         f"leave out --model so the coder's own model is used "
                         f"(`fieldkit models prepare {coder.model_id}` if it is missing), "
                         "or train a new coder with --labels")
