"""The Ray engine: starts or joins Ray, feeds rows to actor pools and collects results in row order.

Rows are read on the driver by fieldkit's own loaders (the same encodings, delimiters and
tolerant CSV repair as a local run, so both engines see the same rows) and shipped as Arrow
blocks carrying their row number; the work that grows with the rows runs on the workers;
the driver puts the results back in row order and writes through the same `save_annotated`.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fieldkit.errors import FieldkitError, UsageError
from fieldkit.inference.embedder import EmbedStats
from fieldkit.pipelines.engine import use_engine
from fieldkit.progress import Reporter
from fieldkit.scale.workers import ROW, TEXT, EmbedWorker, _env, from_arrow, pair_block, vectors_of

BLOCKS_PER_WORKER = 4  # at least this many blocks per worker when the rows allow it (uneven blocks even out)
MAX_WINDOWS_PER_BLOCK = 8  # 16,384 rows: a fast model's blocks big enough that Ray's per-block cost stays small
PAIR_TASKS_PER_WORKER = 4  # near-duplicate blocks per worker, so uneven blocks even out


@dataclass
class ModelView:
    """What provenance needs of the model the workers ran (no ONNX session on the driver).

    Anything else a job asks of its embedder (embedding a codebook's few texts, the derived
    graph's sha256) is answered by the same model loaded on the driver, once, when first asked.
    """

    model_id: str
    sha256: str
    dim: int
    last_stats: EmbedStats

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        from fieldkit.inference.embedder import get_embedder

        return getattr(get_embedder(self.model_id), name)


class RayEngine:
    """Runs the row-heavy parts of the jobs on Ray Data (see fieldkit.pipelines.engine)."""

    name = "ray"

    def __init__(self, address: str | None, workers: int, block_rows: int | None = None):
        self.address = address
        self.workers = workers
        self.block_rows = block_rows  # None: chosen per job (`block_bounds`)
        self._tmp: str | None = None

    def describe(self) -> dict[str, Any]:
        import ray

        return {"name": "ray", "ray": ray.__version__, "address": self.address or "local",
                "workers": self.workers}

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # --- rows in, results out ------------------------------------------------------------
    def block_bounds(self, n: int, window: int) -> list[int]:
        """Block boundaries (row numbers, 0 .. n): whole sort windows spread evenly over a multiple of the workers.

        Why: a block holds whole windows (a local run's batches, hence its vectors); one window
        per block cost a fast (static) model +71% per row over local on 200,000 rows in Ray's
        per-block work, so at most 8 windows; and the block count is a multiple of the workers
        with sizes differing by at most one window (the bigger ones first), so no worker idles
        at the end: fixed 4,096-row blocks made 5 blocks of 20,000 MiniLM answers for 2
        workers, one worker embedding 11,808 rows while the other waited after 8,192.
        """
        windows = -(-n // window)
        if self.block_rows:
            per = max(1, -(-self.block_rows // window))
            return [min(n, s * window) for s in range(0, windows, per)] + [n] if n else [0]
        rounds = max(BLOCKS_PER_WORKER, -(-windows // (self.workers * MAX_WINDOWS_PER_BLOCK)))
        blocks = max(1, min(windows, self.workers * rounds))
        size, extra = divmod(windows, blocks)
        bounds, at = [0], 0
        for b in range(blocks):
            at += size + (b < extra)
            bounds.append(min(n, at * window))
        return bounds

    def dataset(self, texts: Sequence[Any], bounds: Sequence[int]):
        """A Ray dataset of (row number, text), one block per pair of consecutive `bounds`."""
        blocks = [pa.table({ROW: pa.array(np.arange(s, e), pa.int64()),
                            TEXT: pa.array([None if t is None else str(t) for t in texts[s:e]], pa.string())})
                  for s, e in zip(bounds, bounds[1:]) if e > s]
        return from_arrow(blocks or [pa.table({ROW: pa.array([], pa.int64()), TEXT: pa.array([], pa.string())})])

    def embedded(self, texts: Sequence[Any], model_id: str, batch_size: int = 32, keep: bool = False):
        """A Ray dataset of (row, text, embedding), made by a pool of embedding actors.

        `keep` materializes it in the cluster's object store (spilled to disk when large), so
        later steps (the themes fit sample, the assignment) read it there instead of embedding again.
        """
        import ray

        from fieldkit.inference.embedder import SORT_WINDOW

        window = max(SORT_WINDOW, batch_size)  # a local run's sort window: a block holds whole windows
        out = self.dataset(texts, self.block_bounds(len(texts), window)).map_batches(
            EmbedWorker, batch_format="pyarrow", batch_size=None,
            fn_constructor_kwargs={"env": _env(), "model_id": model_id, "batch_size": batch_size},
            compute=ray.data.ActorPoolStrategy(size=self.workers), num_cpus=1)
        return out.materialize() if keep else out

    @staticmethod
    def collect(ds, total: int, reporter: Reporter | None = None) -> Iterator[pa.Table]:
        """The result batches of a Ray dataset (in any order; each carries its row numbers)."""
        done = 0
        if reporter is not None:
            reporter.total = total
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None, prefetch_batches=1):
            done += batch.num_rows
            if reporter is not None:
                reporter.update(done)  # raises Cancelled when asked to stop; Ray stops the rest
            yield batch

    def scratch(self) -> str:
        """A private folder for arrays too big to keep in memory (removed when the session ends)."""
        from fieldkit.scale.workers import scratch_folder

        if self._tmp is None:
            self._tmp = str(scratch_folder("driver"))
        return self._tmp

    # --- the Engine protocol ---------------------------------------------------------------
    def vectors(self, ds, col: str, texts: list, model_id: str | None, reporter: Reporter | None,
                batch_size: int = 32) -> tuple[ModelView, np.ndarray]:
        """Embeddings of `texts` from an actor pool, in row order (memory-mapped on the driver)."""
        from fieldkit.pipelines.core import resolve_model

        view = self.model_view(resolve_model(texts, model_id))
        return view, self._gather(self.embedded(texts, view.model_id, batch_size), view, texts, reporter)

    def coded(self, texts: list, model_id: str | None, reporter: Reporter | None, *, need_vectors: bool,
              batch_size: int = 32):
        """(model view, vectors or None, apply) for `code`: `apply(coder, reporter)` runs the coder on the workers.

        With `need_vectors` (a coder is learnt here) the embedded rows stay on the cluster and
        their vectors come back for the fit; without (a saved coder), no vector leaves the workers.
        """
        from fieldkit.pipelines.core import resolve_model
        from fieldkit.scale.coder import apply_coder

        view = self.model_view(resolve_model(texts, model_id))
        embedded = self.embedded(texts, view.model_id, batch_size, keep=need_vectors)
        vecs = self._gather(embedded, view, texts, reporter) if need_vectors else None
        return view, vecs, lambda coder, rep=None: apply_coder(self, embedded, len(texts), coder, rep)

    def _gather(self, embedded, view: ModelView, texts: list, reporter: Reporter | None) -> np.ndarray:
        """The embedded dataset's vectors in row order (memory-mapped on the driver); its stats on `view`."""
        vecs: np.ndarray | None = None
        stats = EmbedStats(texts=len(texts))
        path = os.path.join(self.scratch(), f"vectors-{id(texts)}.npy")
        for batch in self.collect(embedded, len(texts), reporter):
            part = vectors_of(batch)
            if vecs is None:
                vecs = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                                 shape=(len(texts), part.shape[1]))
            vecs[batch.column(ROW).to_numpy()] = part
            stats.empty += int(pc.sum(batch.column("_empty")).as_py() or 0)
            stats.truncated += int(pc.sum(batch.column("_truncated")).as_py() or 0)
        if vecs is None:
            vecs = np.zeros((0, view.dim), np.float32)
        if reporter is not None:
            reporter.finish(stats.message())
        view.last_stats = stats
        view.dim = int(vecs.shape[1])
        return vecs

    @staticmethod
    def model_view(model_id: str) -> ModelView:
        """The model's id, sha256 and size, its files verified here before any worker starts."""
        from fieldkit.errors import ModelError
        from fieldkit.inference.manifest import get_entry
        from fieldkit.inference.model_store import prepared_model, verified_file

        entry = get_entry(model_id)
        if entry.task != "embed":
            raise ModelError(f"{entry.id} is a {entry.task} model, not an embedding model",
                             "see `fieldkit models list` for embedding models")
        if entry.prepared:  # converted here (multilingual-e5): its graph's sha256 from its own record
            sha = prepared_model(entry)[2]
        else:
            path = verified_file(entry, "model")
            sha = next(f.sha256 for f in entry.files if f.role == "model")
            if entry.optimize and entry.runtime not in ("string-sentence-embeddings", "static-embeddings"):
                from fieldkit.inference.optimize import derived_graph

                derived_graph(entry, path, sha)  # the int8 rewrite built once here, not by every actor at once
        return ModelView(entry.id, sha, int(entry.dim or 0), EmbedStats())

    def embed_file(self, ds, column: str, out, **kwargs):
        """`embed -o OUT` with the driver writing each block as the workers finish it (fieldkit.scale.embed_file)."""
        from fieldkit.scale.embed_file import embed_file

        return embed_file(self, ds, column, out, **kwargs)

    def embed_parts(self, ds, column: str, out, rows: int, **kwargs):
        """`embed --parts ROWS` with each part embedded and written by a worker (fieldkit.scale.embed_parts)."""
        from fieldkit.scale.embed_parts import embed_parts

        return embed_parts(self, ds, column, out, rows, **kwargs)

    def mine_logs(self, paths, tmp, *, baseline=None, reporter: Reporter | None = None, parts=None):
        """The logs job's mining pass with one shard per file on the workers (fieldkit.scale.logs)."""
        from fieldkit.scale.logs import mine_logs_on_ray

        return mine_logs_on_ray(paths, tmp, baseline=baseline, reporter=reporter, workers=self.workers, parts=parts)

    def near_pairs(self, vectors: np.ndarray, threshold: float, reporter: Reporter | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The local blocked pair search, one block per Ray task over one shared copy of the vectors."""
        import ray

        from fieldkit.analysis.dupes import pair_block as block_rows

        n = len(vectors)
        if n == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        block = max(1, min(block_rows(n), math.ceil(n / (self.workers * PAIR_TASKS_PER_WORKER))))
        ref = ray.put(v)  # one copy in the object store; tasks on a node share it without copying
        task = ray.remote(num_cpus=1)(pair_block)
        pending = [task.remote(ref, s, block, threshold) for s in range(0, n, block)]
        rows, cols = [], []
        total = len(pending)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            r, c = ray.get(ready[0])
            rows.append(r)
            cols.append(c)
            if reporter is not None:
                reporter.update(int(n * (total - len(pending)) / total))
        order = None
        i, j = np.concatenate(rows), np.concatenate(cols)
        order = np.lexsort((j, i))  # the local loop's order, so the result does not depend on timing
        return i[order], j[order]


def _quiet_ray() -> None:
    """Ray's own banners and progress bars would mix with fieldkit's one-line progress on stderr."""
    import ray

    for name in ("ray", "ray.data", "ray._private", "ray.util"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    for attr in ("enable_progress_bars", "enable_operator_progress_bars", "print_on_execution_start",
                 "enable_auto_log_stats", "verbose_stats_logs", "enable_rich_progress_bars"):
        if hasattr(ctx, attr):
            setattr(ctx, attr, False)
    warnings.filterwarnings("ignore", module="ray")


def _token_auth_like_ray_start() -> None:
    """Ask for token authentication when a Ray token exists, as `ray start --head` then does.

    Why: Ray 2.60's `ray start` turns token authentication on whenever ~/.ray/auth_token (or
    RAY_AUTH_TOKEN[_PATH]) exists, but a driver joining it does not, and is refused with an
    authentication error; an explicit RAY_AUTH_MODE is left as it is.
    """
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(path):
        os.environ["RAY_AUTH_MODE"] = "token"


@contextmanager
def session(address: str | None = None, workers: int | None = None) -> Iterator[RayEngine]:
    """Start a local Ray (or join the cluster at `address`) and run the jobs inside on it.

    A Ray already started in this process (a notebook, the test session) is used as it is
    and left running; one started here is shut down at the end.
    """
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ray Data's own lines on stderr ("Progress bars disabled", "execution finished") are not for
    # a field user: fieldkit reports progress itself (RAY_DATA_LOG_LEVEL=INFO shows them again).
    # The C++ core's error-level note that the actors' constructor arguments sit in the object
    # store stays: hiding it means RAY_BACKEND_LOG_LEVEL, which prints a line of its own.
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
    if address:  # an unreachable address makes Ray's C++ client retry loudly for ~20 s
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    _token_auth_like_ray_start()
    import ray

    started = False
    if not ray.is_initialized():
        ours = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if ours else None
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR, configure_logging=True)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise UsageError(f"could not start or reach {where}: {first}",
                             "on the head node run `ray start --head`, then pass --address HOST:6379"
                             if address else "check free memory and /tmp space, or pass --address") from e
        finally:
            if callable(sigterm):  # ray.init swaps in sys.exit(15); the command's handler cancels cleanly (exit 143)
                signal.signal(signal.SIGTERM, sigterm)
        started = True
    _quiet_ray()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    engine = RayEngine(address, max(1, workers or cpus))
    try:
        with use_engine(engine):
            yield engine
    except ray.exceptions.RayError as e:
        lost = _lost_worker(e)
        if lost is None:
            raise
        raise WorkerLost(f"a Ray worker was lost during the run ({lost}); nothing was written",
                         "check the workers' memory (`ray status`; the kernel log for the OOM killer) "
                         "and run again") from e
    finally:
        engine.close()
        if started:
            ray.shutdown()


class WorkerLost(FieldkitError):
    """A Ray worker, node or object died under the run: not bad input (exit 1), not a fieldkit bug either."""

    exit_code = 1


def _lost_worker(e: BaseException) -> str | None:
    """The kind of loss when `e` (or the error it wraps) is a dead actor, worker, node or object; else None."""
    import ray.exceptions as rx

    lost = (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError, rx.ObjectLostError, rx.OutOfMemoryError)
    for err in (e, getattr(e, "cause", None)):
        if isinstance(err, lost):
            return type(err).__name__
    return None
