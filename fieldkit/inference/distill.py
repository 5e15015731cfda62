"""Static embedding models distilled from an installed embedder, the way model2vec does it.

Each vocabulary token goes once through the teacher (fieldkit's own onnxruntime session, no
torch), the token vectors are reduced by PCA and weighted by a Zipf estimate of how common each
token is (SIF: w = a / (a + p), rare tokens count more); a text's vector is then the mean of its
tokens' rows, L2-normalised: a table lookup instead of a transformer, for fast first passes.

The result is an ordinary model folder (vectors.npy + the teacher's tokenizer.json +
fieldkit-model.json) installed and verified like an imported model, usable with `--model ID`.
`StaticEmbedder` is the whole inference path (a few lines of numpy, as in model2vec).

With refit texts, the table is then refitted so that each text's mean of rows approaches the
teacher's vector of that text (ridge toward the distilled table; the strength picked on a held-out
fifth of those texts): refitted on news sentences + dialogue turns, the Spearman of survey-answer
similarities against the teacher rose 0.499 -> 0.597, banking77 recall@10 against the teacher
0.298 -> 0.329 and banking77 coding accuracy 0.881 -> 0.888 (bench/distill_refit.py; none of
those sets among the refit texts).
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
# ridge strengths tried for the refit, picked on a held-out fifth of the refit texts
REFIT_LAMS = (1e-3, 1e-2, 1e-1)
MIN_REFIT_TEXTS = 100


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


def pca_axes(vectors: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, top `dim` principal axes) of `vectors` (numpy SVD, deterministic signs)."""
    mean = vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(vectors - mean, full_matrices=False)
    axes = vt[:dim]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    return mean, axes


def token_means(tokenizer, texts: list[str], vocab: int):
    """Sparse (texts x vocab): each row the mean of its tokens' one-hot rows (what the static model sums)."""
    from scipy import sparse

    encs = tokenizer.encode_batch(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encs), np.int64, len(encs))
    ids = np.fromiter((i for e in encs for i in e.ids), np.int64, int(lengths.sum()))
    vals = np.repeat(1.0 / np.maximum(lengths, 1), lengths)
    return sparse.csr_matrix((vals, ids, np.concatenate([[0], np.cumsum(lengths)])),
                             shape=(len(texts), vocab))


def ridge_toward(x, y: np.ndarray, t0: np.ndarray, lam: float, iters: int = 150) -> np.ndarray:
    """T minimising ||x T - y||^2 + lam ||T - t0||^2 (conjugate gradients, every column at once)."""
    xt = x.T.tocsr()
    r = xt @ (y - x @ t0)
    d = np.zeros_like(r)
    p = r.copy()
    rs = (r * r).sum(axis=0)
    for _ in range(iters):
        ap = xt @ (x @ p) + lam * p
        alpha = rs / np.maximum((p * ap).sum(axis=0), 1e-30)
        d += p * alpha
        r -= ap * alpha
        new = (r * r).sum(axis=0)
        if np.sqrt(new.max()) < 1e-8:
            break
        p = r + p * (new / np.maximum(rs, 1e-30))
        rs = new
    return t0 + d


def refit_table(table: np.ndarray, teacher: TokenEmbedder, axes: np.ndarray,
                texts: list[str], reporter: Reporter | None = None) -> tuple[np.ndarray, float]:
    """The table refitted toward the teacher's vectors of `texts`; (table, ridge strength picked).

    The teacher's vectors are projected on the table's PCA axes without centring (so the static
    cosines approach the teacher's own; centred on the token mean, a tiny teacher's Spearman fell)
    at the table's own scale; the strength is the one whose fit on four fifths of the texts gives
    the best mean cosine on the last fifth.
    """
    x = token_means(teacher.tokenizer, texts, len(table))
    y = teacher.embed_all(texts, reporter=reporter).astype(np.float64) @ axes.T
    t0 = table.astype(np.float64)
    y *= float(((x @ t0) * y).sum() / max((y * y).sum(), 1e-30))
    held = np.random.default_rng(0).random(len(texts)) < 0.2

    def cosine(t: np.ndarray) -> float:
        a, b = x[held] @ t, y[held]
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        ok = (na > 0) & (nb > 0)
        return float(((a * b).sum(axis=1)[ok] / (na * nb)[ok]).mean())

    lam = max(REFIT_LAMS, key=lambda v: cosine(ridge_toward(x[~held], y[~held], t0, v)))
    return ridge_toward(x, y, t0, lam).astype(np.float32), lam


def read_refit_texts(path) -> list[str]:
    """Non-empty lines of a UTF-8 text file (one text per line), for `distill --refit-texts`."""
    from pathlib import Path as _Path

    try:
        raw = _Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}", "give a text file, one text per line")
    texts = [t.strip() for t in raw.splitlines() if t.strip()]
    if len(texts) < MIN_REFIT_TEXTS:
        raise UsageError(f"{path}: {len(texts)} texts; the refit needs at least {MIN_REFIT_TEXTS}",
                         "give more texts, one per line (not the texts you will evaluate on)")
    return texts


def zipf_weights(ranks: np.ndarray, a: float = SIF_A) -> np.ndarray:
    """SIF weights from Zipf probabilities p(rank) ~ 1 / (rank + 1)."""
    p = 1.0 / (ranks + 1.0)
    p /= p.sum()
    return (a / (a + p)).astype(np.float32)


def distill(source_id: str | None, out_id: str, dim: int = 256,
            reporter: Reporter | None = None, refit_texts: list[str] | None = None) -> ModelEntry:
    """Distil `source_id` into a static model registered as `out_id` (verified like any model).

    `refit_texts` (optional) refits the table toward the teacher's vectors of those texts.
    """
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
    mean, axes = pca_axes(vecs, dim)
    table[ids] = ((vecs - mean) @ axes.T) * zipf_weights(ranks)[:, None]
    refit = None
    if refit_texts:
        table, lam = refit_table(table, teacher, axes, refit_texts,
                                 reporter.child("refit texts") if reporter else None)
        refit = {"texts": len(refit_texts), "lam": lam}
    with tempfile.TemporaryDirectory(prefix="fieldkit-distill-") as tmp:
        folder = Path(tmp)
        np.save(folder / "vectors.npy", table, allow_pickle=False)
        tok_src = verified_file(teacher.entry, "tokenizer")
        (folder / "tokenizer.json").write_bytes(tok_src.read_bytes())
        entry = {
            "id": out_id, "task": "embed", "format": "npy", "runtime": RUNTIME,
            "description": f"static embeddings distilled from {teacher.model_id} "
                           f"(vocabulary through the teacher, PCA to {dim}, Zipf/SIF weights"
                           + (f", refitted on {len(refit_texts)} texts)" if refit else ")"),
            "licence": f"derived from {teacher.model_id}: {teacher.entry.licence}",
            "dim": dim, "max_tokens": None, "pooling": "mean", "normalize": True,
            "distilled_from": {"model": teacher.model_id, "sha256": teacher.sha256,
                               "graph_sha256": teacher.graph_sha256, "tokens": int(len(ids)),
                               "sif_a": SIF_A, "refit": refit},
            "files": [{"name": n, "role": r, "sha256": files.sha256(folder / n, force=True),
                       "size": (folder / n).stat().st_size}
                      for n, r in (("vectors.npy", "model"), ("tokenizer.json", "tokenizer"))],
        }
        (folder / FOLDER_ENTRY_NAME).write_text(json.dumps(entry, indent=2), encoding="utf-8")
        return install_model_folder(folder, out_id, reporter)
