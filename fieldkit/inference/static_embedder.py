"""A distilled static embedding model's inference: the mean of its tokens' rows, L2-normalised.

This is the whole runtime of a model made by `fieldkit models distill` (fieldkit.inference.distill),
a few lines of numpy as in model2vec; apart from distill.py so the embedder can load it lazily
without an import cycle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fieldkit.errors import ModelError
from fieldkit.inference.chunk_ids import ChunkIds
from fieldkit.inference.embed_base import Embedder, _l2
from fieldkit.inference.manifest import ModelEntry

RUNTIME = "static-embeddings"


class StaticEmbedder(Embedder):
    """A distilled static model: mean of token rows, L2-normalised (model2vec's inference)."""

    graph_kind = RUNTIME

    def __init__(self, entry: ModelEntry, vectors_path: Path, tokenizer_path: Path, sha256: str):
        from tokenizers import Tokenizer

        table = np.load(vectors_path, allow_pickle=False)
        if table.ndim != 2 or table.dtype != np.float32:
            raise ModelError(f"{entry.id}: {vectors_path.name} is not a float32 table",
                             f"distil it again with `fieldkit models distill ... -o {entry.id}`")
        super().__init__(entry, sha256, int(table.shape[1]))
        self.table = table
        tok = Tokenizer.from_file(str(tokenizer_path))
        tok.no_padding()
        tok.no_truncation()
        self.tokenizer = tok
        self.distilled_from = (entry.raw.get("distilled_from") or {}).get("model")
        self.chunks = ChunkIds(tok)  # each distinct chunk of text tokenized once

    def provenance(self) -> dict:
        info = super().provenance()
        info["runtime"] = RUNTIME
        if self.distilled_from:
            info["distilled_from"] = self.distilled_from
        return info

    def _embed_window(self, texts, batch_size, stats, reporter, done):
        from scipy import sparse

        # one sparse product: np.add.reduceat over the gathered rows took 70-120 ms for 2,000 answers,
        # the product 2-8 ms; the tokenizer (per distinct chunk, ChunkIds) is the rest
        ids, lengths = self.chunks.ids(list(texts))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        counts = sparse.csr_matrix((np.ones(len(ids), np.float32), ids, indptr),
                                   shape=(len(texts), self.table.shape[0]))
        out = np.asarray(counts @ self.table, np.float32)
        # e.g. Chinese with an English WordPiece vocabulary: every token [UNK], whose row is zero
        stats.unknown += int((~out.any(axis=1)).sum())
        if reporter is not None:
            reporter.update(done + len(texts), stats.message())
        return _l2(out)
