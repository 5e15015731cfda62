"""The prepared multilingual-e5 encoder: the token-graph embedder plus e5's text prefix.

Why apart: e5 was trained with "query: " / "passage: " in front of every text, and its files
are made at prepare time, so they are checked against the record written then (not the manifest).
"query: " is e5's own choice for symmetric tasks (similarity, clustering, classification), which
is what themes, dupes, coding and search over short answers are.
"""

from __future__ import annotations

from fieldkit.inference.embedder import TokenEmbedder
from fieldkit.inference.manifest import ModelEntry
from fieldkit.inference.model_store import MODEL_NAME, TOKENIZER_NAME, read_prepared_meta, verify_prepared


class PrefixedTokenEmbedder(TokenEmbedder):
    """A TokenEmbedder that puts the model's prefix (e5: "query: ") before every text."""

    def __init__(self, entry: ModelEntry, *args, **kwargs):
        super().__init__(entry, *args, **kwargs)
        self.prefix = str(entry.raw.get("text_prefix") or "")

    def _embed_window(self, texts, batch_size, stats, reporter, done):
        return super()._embed_window([self.prefix + t for t in texts], batch_size, stats, reporter, done)


def load_prepared_embedder(entry: ModelEntry, threads: int | None = None) -> PrefixedTokenEmbedder:
    """Verify the prepared files against their record and build the embedder (sha256 = model.onnx's)."""
    files = verify_prepared(entry)
    meta = read_prepared_meta(entry.install_dir) or {}
    sha = next(f["sha256"] for f in meta.get("files", []) if f.get("name") == MODEL_NAME)
    return PrefixedTokenEmbedder(entry, files[MODEL_NAME], files[TOKENIZER_NAME], sha, threads)
