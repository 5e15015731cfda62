"""Bring your own model: a local sentence-transformers folder -> int8 ONNX -> checked -> registered.

Needs the `reference` extra (torch, transformers, sentence-transformers) on the machine that
imports; the output folder (model.onnx, tokenizer.json, fieldkit-model.json with hashes) runs
anywhere with plain onnxruntime and is added on an air-gapped laptop with
`fieldkit models prepare ID --from FOLDER`.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fieldkit import files
from fieldkit.config import models_home
from fieldkit.errors import ModelError, UsageError
from fieldkit.inference.manifest import FOLDER_ENTRY_NAME, ModelEntry, all_entries
from fieldkit.inference.optimize import DEFAULT_ALPHA, calibrate, smooth_float
from fieldkit.inference.model_store import install_model_folder
from fieldkit.progress import Reporter


@dataclass
class ImportResult:
    entry_id: str
    folder: Path
    checked: int
    min_cosine: float
    mean_cosine: float


def builtin_check_texts(n: int = 320) -> list[str]:
    """Varied short English sentences built from templates (used when the user gives none)."""
    who = ["The nurse", "A farmer", "Our team", "The survey respondent", "My neighbour",
           "The engineer", "A teacher", "The driver"]
    what = ["reported that the water pump broke again", "liked the training sessions a lot",
            "could not reach the clinic during the flood", "said prices at the market doubled",
            "asked for better documentation and examples", "found the new software confusing",
            "praised the quick delivery of supplies", "complained about the noisy generator",
            "wants more help with data analysis", "thinks the community meetings are useful"]
    when = ["last week.", "every morning.", "after the rains.", "this year.", "yesterday."]
    texts = [f"{a} {b} {c}" for a, b, c in itertools.product(who, what, when)]
    rng = np.random.default_rng(0)
    return [texts[i] for i in rng.permutation(len(texts))[:n]]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _describe(folder: Path) -> dict:
    """Dimension, token limit and pooling from the sentence-transformers folder's config files."""
    if not (folder / "tokenizer.json").is_file():
        raise UsageError(f"{folder} has no tokenizer.json",
                         "give a sentence-transformers model folder (with tokenizer.json)")
    config = _read_json(folder / "config.json")
    if not config:
        raise UsageError(f"{folder} has no readable config.json",
                         "give a sentence-transformers model folder")
    pooling_cfg = {}
    for p in sorted(folder.glob("*Pooling*/config.json")):
        pooling_cfg = _read_json(p)
    if pooling_cfg and not pooling_cfg.get("pooling_mode_mean_tokens", False):
        raise ModelError(f"{folder.name} uses a pooling other than mean",
                         "fieldkit imports mean-pooling sentence-transformers models")
    st_cfg = _read_json(folder / "sentence_bert_config.json")
    return {
        "dim": int(config.get("hidden_size") or pooling_cfg.get("word_embedding_dimension") or 0),
        "max_tokens": int(st_cfg.get("max_seq_length") or config.get("max_position_embeddings") or 512),
        "normalize": any("Normalize" in m.get("type", "") for m in
                         (json.loads((folder / "modules.json").read_text())
                          if (folder / "modules.json").is_file() else [])),
    }


def _export_fp32(folder: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModel
    except ImportError as e:
        raise ModelError("importing a model needs torch and transformers",
                         "pip install 'fieldkit[reference]' (torch==2.13.0, the CPU build)") from e
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class TokenStates(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {k: {0: "batch", 1: "sequence"} for k in names + ["last_hidden_state"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about shapes; the cosine check is the judge
        torch.onnx.export(TokenStates(model), (ids, ids, torch.zeros_like(ids)), str(out),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


def _reference_vectors(folder: Path, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    return np.asarray(st.encode(texts, batch_size=32, normalize_embeddings=True), np.float32)


def import_sentence_transformer(path: str | Path, model_id: str | None = None,
                                out_dir: str | Path | None = None,
                                check_texts: str | Path | None = None,
                                reporter: Reporter | None = None) -> ImportResult:
    """Export, quantize (onnxruntime.quantization), check cosine vs the original, register."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from fieldkit.inference.embedder import TokenEmbedder

    folder = Path(path).expanduser().resolve()
    info = _describe(folder)
    model_id = model_id or re.sub(r"[^a-z0-9._-]+", "-", folder.name.lower()).strip("-")
    if any(e.id == model_id and e.origin == "fieldkit" for e in all_entries()):
        raise UsageError(f"{model_id!r} is a built-in model id", "pick another with --id")
    target = Path(out_dir).expanduser() if out_dir else models_home() / model_id
    texts = (Path(check_texts).read_text(encoding="utf-8").splitlines() if check_texts
             else builtin_check_texts())
    texts = [t for t in texts if t.strip()][:600]
    if len(texts) < 20:
        raise UsageError("need at least 20 non-empty texts for the check", "give more with --check-texts")
    calib, check = texts[0::2], texts[1::2]  # calibrate on half, check on the other half
    step = reporter.child("import") if reporter else None
    with tempfile.TemporaryDirectory(prefix="fieldkit-import-") as tmp:
        tmpdir = Path(tmp)
        fp32, smoothed, int8 = tmpdir / "fp32.onnx", tmpdir / "smoothed.onnx", tmpdir / "model.onnx"
        if step:
            step.update(0, "exporting to ONNX", force=True)
        _export_fp32(folder, fp32)
        if step:
            step.update(1, "calibrating", force=True)
        amax = calibrate(fp32, folder / "tokenizer.json", calib, info["max_tokens"])
        keep_float = smooth_float(fp32, smoothed, amax, DEFAULT_ALPHA)
        if step:
            step.update(2, "quantizing to int8", force=True)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic warns about optional pre-processing
        try:
            quantize_dynamic(str(smoothed), str(int8), weight_type=QuantType.QInt8,
                             per_channel=True, op_types_to_quantize=["MatMul", "Gather"],
                             nodes_to_exclude=keep_float)
        finally:
            root.setLevel(level)
        shutil.copyfile(folder / "tokenizer.json", tmpdir / "tokenizer.json")
        entry_dict = {
            "id": model_id, "task": "embed", "format": "onnx", "runtime": "bert-token-embeddings",
            "description": f"imported from {folder.name} (int8, onnxruntime dynamic quantization)",
            "licence": "see the source model's licence", "dim": info["dim"],
            "max_tokens": info["max_tokens"], "pooling": "mean", "normalize": True,
            "files": [
                {"name": n, "role": r, "sha256": files.sha256(tmpdir / n, force=True),
                 "size": (tmpdir / n).stat().st_size}
                for n, r in (("model.onnx", "model"), ("tokenizer.json", "tokenizer"))
            ],
        }
        if step:
            step.update(3, f"checking cosine on {len(check)} texts", force=True)
        entry = ModelEntry.from_dict(entry_dict, origin="user")
        ours = TokenEmbedder(entry, int8, tmpdir / "tokenizer.json",
                             entry_dict["files"][0]["sha256"]).embed_all(check)
        cos = (ours * _reference_vectors(folder, check)).sum(axis=1)
        entry_dict["import_check"] = {"texts": len(check), "min_cosine": round(float(cos.min()), 5),
                                      "mean_cosine": round(float(cos.mean()), 5),
                                      "kept_float": len(keep_float), "smoothing_alpha": DEFAULT_ALPHA}
        (tmpdir / FOLDER_ENTRY_NAME).write_text(json.dumps(entry_dict, indent=2), encoding="utf-8")
        target.mkdir(parents=True, exist_ok=True)
        for n in ("model.onnx", "tokenizer.json", FOLDER_ENTRY_NAME):
            shutil.copyfile(tmpdir / n, target / n)
    install_model_folder(target, model_id, reporter)
    return ImportResult(model_id, target, len(check), float(cos.min()), float(cos.mean()))
