"""Static embedding models distilled from an installed embedder, the way model2vec does it.

Each vocabulary token goes once through the teacher (fieldkit's own onnxruntime session, no
torch), the token vectors are reduced by PCA and weighted by a Zipf estimate of how common each
token is (SIF: w = a / (a + p), rare tokens count more); a text's vector is then the mean of its
tokens' rows, L2-normalised: a table lookup instead of a transformer, for fast first passes.

The result is an ordinary model folder (vectors.npy + the teacher's tokenizer.json +
fieldkit-model.json) installed and verified like an imported model, usable with `--model ID`.
`StaticEmbedder` is the whole inference path (a few lines of numpy, as in model2vec).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from fieldkit.errors import ModelError, UsageError
from fieldkit.inference.embedder import TokenEmbedder, get_embedder
from fieldkit.inference.static_embedder import RUNTIME, StaticEmbedder  # noqa: F401  (re-exported)
from fieldkit.inference.manifest import FOLDER_ENTRY_NAME, ModelEntry, all_entries
from fieldkit.progress import Reporter

# SIF weight a / (a + p): model2vec's default smoothing for Zipf-estimated token probabilities
SIF_A = 1e-4
TOKENS_PER_RUN = 512  # vocabulary tokens per teacher batch ([CLS] tok [SEP] rows)


def _vocabulary(tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """(token ids in vocabulary order, rank by that order) without special and unused tokens.

    WordPiece vocabularies list tokens roughly by frequency after the specials, so the order
    stands in for a corpus count (model2vec makes the same assumption).
    """
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    special = {t for t in vocab if (t.startswith("[") and t.endswith("]"))
               or (t.startswith("<") and t.endswith(">"))}
    ids = np.array(sorted(i for t, i in vocab.items() if t not in special), np.int64)
    return ids, np.arange(len(ids))


def teacher_token_vectors(teacher: TokenEmbedder, ids: np.ndarray,
                          reporter: Reporter | None = None) -> np.ndarray:
    """The teacher's vector for each token alone ([CLS] token [SEP], its own pooling)."""
    tok = teacher.tokenizer
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        cls_id, sep_id = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    if cls_id is None or sep_id is None:
        raise ModelError(f"{teacher.model_id}: its tokenizer has no [CLS]/[SEP] or <s>/</s> tokens",
                         "distil from a BERT- or RoBERTa-style embedding model")
    if reporter is not None:
        reporter.total = len(ids)
    batches = []
    for start in range(0, len(ids), TOKENS_PER_RUN):
        chunk = ids[start:start + TOKENS_PER_RUN]
        rows = np.stack([np.full(len(chunk), cls_id), chunk, np.full(len(chunk), sep_id)], axis=1)
        batches.append((rows.astype(np.int64), np.ones((len(chunk), 3), np.int64)))
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if reporter is not None:
            reporter.update(done, "tokens through the teacher")

    vecs = teacher.run_rows(batches, reporter, progress)
    return np.concatenate(vecs, axis=0) if vecs else np.empty((0, teacher.dim), np.float32)


def pca(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Centre and project onto the top `dim` principal axes (numpy SVD, deterministic signs)."""
    x = vectors - vectors.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:dim]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    return (x @ axes.T).astype(np.float32)


def zipf_weights(ranks: np.ndarray, a: float = SIF_A) -> np.ndarray:
    """SIF weights from Zipf probabilities p(rank) ~ 1 / (rank + 1)."""
    p = 1.0 / (ranks + 1.0)
    p /= p.sum()
    return (a / (a + p)).astype(np.float32)


def distill(source_id: str | None, out_id: str, dim: int = 256,
            reporter: Reporter | None = None) -> ModelEntry:
    """Distil `source_id` into a static model registered as `out_id` (verified like any model)."""
    from fieldkit import files
    from fieldkit.inference.manifest import plain_name
    from fieldkit.inference.model_store import install_model_folder, verified_file

    plain_name(out_id, "model id")
    if any(e.id.lower() == out_id.lower() and e.origin == "fieldkit" for e in all_entries()):
        raise UsageError(f"{out_id!r} is a built-in model id", "pick another with -o")
    teacher = get_embedder(source_id)
    if not isinstance(teacher, TokenEmbedder):
        raise UsageError(f"{teacher.model_id} keeps its tokenizer inside the graph, so it has no "
                         "vocabulary to distil", "distil a token model such as all-minilm-l6-v2")
    if not 8 <= dim <= teacher.dim:
        raise UsageError(f"--dim must be between 8 and {teacher.dim}", "for example --dim 256")
    ids, ranks = _vocabulary(teacher.tokenizer)
    vecs = teacher_token_vectors(teacher, ids, reporter.child("vocabulary") if reporter else None)
    table = np.zeros((teacher.tokenizer.get_vocab_size(with_added_tokens=True), dim), np.float32)
    table[ids] = pca(vecs, dim) * zipf_weights(ranks)[:, None]
    with tempfile.TemporaryDirectory(prefix="fieldkit-distill-") as tmp:
        folder = Path(tmp)
        np.save(folder / "vectors.npy", table, allow_pickle=False)
        tok_src = verified_file(teacher.entry, "tokenizer")
        (folder / "tokenizer.json").write_bytes(tok_src.read_bytes())
        entry = {
            "id": out_id, "task": "embed", "format": "npy", "runtime": RUNTIME,
            "description": f"static embeddings distilled from {teacher.model_id} "
                           f"(vocabulary through the teacher, PCA to {dim}, Zipf/SIF weights)",
            "licence": f"derived from {teacher.model_id}: {teacher.entry.licence}",
            "dim": dim, "max_tokens": None, "pooling": "mean", "normalize": True,
            "distilled_from": {"model": teacher.model_id, "sha256": teacher.sha256,
                               "graph_sha256": teacher.graph_sha256, "tokens": int(len(ids)),
                               "sif_a": SIF_A},
            "files": [{"name": n, "role": r, "sha256": files.sha256(folder / n, force=True),
                       "size": (folder / n).stat().st_size}
                      for n, r in (("vectors.npy", "model"), ("tokenizer.json", "tokenizer"))],
        }
        (folder / FOLDER_ENTRY_NAME).write_text(json.dumps(entry, indent=2), encoding="utf-8")
        return install_model_folder(folder, out_id, reporter)
