"""Log digests: mine templates over one or many logs, then say what happened, when, and what fails.

`mine_logs` streams each file in batches (bounded memory), assigns a template to every record,
keeps the records in temporary parts and folds each batch into the digest's counts as it goes
(fieldkit.analysis.log_digest: templates by count with first/last seen, level mix, error and
warning templates, rare templates, bursts per time bucket, templates new against a baseline). `MinedLogs.annotated` streams the lines with their final templates and
params; fieldkit.pipelines.logs writes them. `summarize_digest` words the summary: the
deterministic digest facts, or the generative model when asked.
"""

from __future__ import annotations

import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence, TypeVar

import polars as pl

# the digest's wording lives in log_summary; these names are re-exported for callers of this module
from fieldkit.analysis.log_summary import (GENERATOR_ID, Digest, _fact_lines, _grounded, _short,  # noqa: F401
                                           _ts, digest_markdown, fallback_summary, summarize_digest)
from fieldkit.analysis.log_digest import (BUCKETS, BURST_MIN, BURST_RATIO, BURST_WINDOW,  # noqa: F401
                                          ERROR_LEVELS, MAX_BUCKETS, PROBLEM_RE, WARN_LEVELS, DigestBuilder,
                                          build_digest, worded_ids)
from fieldkit.analysis.log_digest import pick_bucket as _pick_bucket  # noqa: F401 (fieldkit.report uses it)
from fieldkit.analysis.logtemplates import MINER_SETTINGS, TemplateMiner  # noqa: F401 (re-exported)
from fieldkit.errors import InputError, UsageError
from fieldkit.io.log_header import HEADER_COLS
from fieldkit.io.logs import iter_log_blocks, looks_like_log, parse_block
from fieldkit.progress import Reporter

LOG_SUFFIXES = (".log", ".out", ".txt", ".err")


# ----------------------------------------------------------------------------- inputs

def _is_log_name(f: Path) -> bool:
    """`x.log`, rotated `x.log.3`, and either compressed (`x.log.2.gz`); plus .out/.txt/.err."""
    name = f.name.lower()
    name = re.sub(r"\.(?:gz|bz2|xz|zst)$", "", name)
    name = re.sub(r"\.\d{1,4}$", "", name)
    return name.endswith(LOG_SUFFIXES)


def _check_file(p: Path) -> Path:
    """Refuse empty, binary and damaged files with one clear message (compressed ones are looked into)."""
    from fieldkit.io.log_files import compression_of, is_binary, read_head

    if p.stat().st_size == 0:
        raise InputError(f"{p.name} is empty", "pass a log file with at least one line")
    head = read_head(p, 64 << 10)  # raises InputError for a damaged archive
    if not head.strip():
        raise InputError(f"{p.name} is empty" + (" once decompressed" if compression_of(p) else ""),
                         "pass a log file with at least one line")
    if is_binary(head):
        raise InputError(f"{p.name} is a binary file, not a text log",
                         "pass a plain-text log (.gz .bz2 .xz .zst and UTF-16 logs are read as they are)")
    return p


def resolve_log_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given, plus the log files inside any folder; rotated sets oldest first. Refuses an empty result."""
    from fieldkit.io.log_files import rotation_order

    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"{p} does not exist", "check the path")
        if p.is_dir():
            root = p.resolve()
            found = [f for f in sorted(p.rglob("*")) if f.is_file() and not f.name.startswith(".")
                     and f.resolve().is_relative_to(root) and not f.name.endswith("_structured.csv")
                     and (_is_log_name(f) or looks_like_log(f))]
            found = [f for f in found if _safe_check(f)]
            if not found:
                raise InputError(f"no log files in {p}", "fieldkit looks for *.log (also rotated and .gz/.bz2/"
                                 ".xz/.zst), *.out and text files whose lines start with a timestamp or a level")
            out.extend(rotation_order(found))
        else:
            out.append(_check_file(p))
    return out


def _safe_check(f: Path) -> bool:
    try:
        _check_file(f)
        return True
    except InputError:
        return False


def read_baseline(path: str | Path) -> pl.DataFrame:
    """Templates (template_id, template) from a saved template table or a previous `fieldkit logs` output."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"baseline {p} does not exist", "pass a previous `fieldkit logs` output or a "
                         "template table saved with --templates-out")
    try:
        cols = pl.read_parquet_schema(p)
    except Exception as e:
        raise InputError(f"baseline {p.name} is not a Parquet file ({str(e).splitlines()[0][:80]})",
                         "pass a previous `fieldkit logs` output (.parquet)") from e
    if "template_id" not in cols or "template" not in cols:
        raise InputError(f"baseline {p.name} has no template_id/template columns",
                         "pass a previous `fieldkit logs` output or a --templates-out table")
    return (pl.scan_parquet(p).select("template_id", "template").unique("template_id")
            .sort("template_id").collect())


# ----------------------------------------------------------------------------- the run

@dataclass
class LogsResult:
    """What `fieldkit logs` made: the annotated lines' path, the digest and its summary, the templates."""

    output: Path
    digest: Digest
    summary: str
    summary_model: str
    templates: pl.DataFrame
    files: list[Path]


def default_miner(base: pl.DataFrame | None = None) -> TemplateMiner:
    """The miner with the settings chosen by leave-one-system-out (bench/bench_logs.py); the CLI and TUI use it."""
    return TemplateMiner.from_table(base, **MINER_SETTINGS) if base is not None else TemplateMiner(**MINER_SETTINGS)


def layout_notes(name: str, layout) -> list[str]:
    """What the digest should say about a file's header (year-less timestamps, what was split out)."""
    notes = []
    if layout.form is not None and not layout.form.has_year:
        if layout.form.name == "time":
            notes.append(f"{name}: timestamps carry a time of day only; the date comes from {layout.year_source}.")
        else:
            later = ("; stamps later than that are read as the year before"
                     if layout.year_source.startswith("the file") else "")
            notes.append(f"{name}: timestamps carry no year; the year comes from {layout.year_source} "
                         f"({layout.year}{later}).")
    if layout.form is None:
        notes.append(f"{name}: no timestamps found.")
    if layout.comments:
        notes.append(f"{name}: lines starting with # are directives (W3C, Zeek), not entries (not in the output).")
    if layout.preamble:
        notes.append(f"{name}: the {layout.preamble} line(s) before the first timestamp are the file's header, "
                     "not entries (not in the output).")
    return notes


def annotate(batch: pl.DataFrame, miner: TemplateMiner, templates: dict[int, str]) -> pl.DataFrame:
    """Final templates and params for a batch mined earlier (templates may have gained `<*>` since)."""
    from fieldkit.analysis.log_params import line_params

    ids = batch["template_id"]
    return batch.with_columns(
        ids.replace_strict(templates, default=None, return_dtype=pl.String).alias("template"),
        line_params(batch["message"], ids, templates).alias("params"))


T = TypeVar("T")


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


def prefetch(items: Iterator[T]) -> Iterator[T]:
    """Produce the next item in a thread while the caller works on this one.

    Why: Polars and pyarrow release the GIL, so parsing (or annotating) the next batch runs on
    the second core while this one is mined (or written); one item ahead keeps memory at two batches.
    """
    q: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    end = object()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for x in items:
                if not put(x):
                    return
            put(end)
        except BaseException as e:  # handed to the caller, raised there
            put(_Raised(e))

    worker = threading.Thread(target=run, daemon=True, name="fieldkit-logs-prefetch")
    worker.start()
    try:
        while True:
            x = q.get()
            if x is end:
                return
            if isinstance(x, _Raised):
                raise x.error
            yield x
    finally:
        stop.set()
        worker.join()


def parallel_map(fn, items: Iterator, workers: int = 2) -> Iterator:
    """`fn(*item)` for each item on `workers` threads, results in the items' order, at most `workers` ahead.

    Why: parsing a block is most of reading a big log and Polars releases the GIL, so two blocks
    parsed at once keep both cores busy while the previous batch is mined (one parser thread was
    the slower side of the pipeline); memory grows by one batch, not with the file.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fieldkit-logs-parse")
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, *item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True)


KEY = "_k"  # in a part: each line's code into the batch's distinct digit-zeroed first lines (kept beside it)


def _keys_path(part: Path) -> Path:
    return part.with_suffix(".keys.arrow")


def part_compression(tmp: Path, input_bytes: int) -> str:
    """Parts are written uncompressed when the temporary folder has room for them (about 2x the text), else lz4.

    Why: compressing and inflating the parts was a sixth of a multi-GB run's CPU; lz4 keeps them a
    quarter the size where space is short.
    """
    import shutil

    try:
        free = shutil.disk_usage(tmp).free
    except OSError:
        return "lz4"
    return "uncompressed" if free >= 4 * input_bytes + (1 << 30) else "lz4"


def _write_part(batch: pl.DataFrame, keys: pl.Series, part: Path, compression: str = "lz4") -> None:
    """A mined batch and its keys on disk until the templates are final (Arrow IPC: read back once, whole)."""
    pl.DataFrame({"key": keys}).write_ipc(_keys_path(part), compression="uncompressed",
                                          compat_level=pl.CompatLevel.newest())
    batch.write_ipc(part, compression=compression, compat_level=pl.CompatLevel.newest())


def _read_part(part: Path) -> pl.DataFrame:
    """A part as mine_logs (Arrow IPC) or the Ray engine (Parquet) wrote it.

    IPC parts are memory-mapped through pyarrow and handed to Polars without a copy: Polars'
    own reader copied and checked every string again (a twentieth of a multi-GB run's CPU).
    """
    if part.suffix != ".arrow":
        return pl.read_parquet(part)
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with pa.memory_map(str(part)) as src:  # the buffers keep the mapping alive once the file is closed
        return pl.from_arrow(ipc.open_file(src).read_all())


def _part_clock(part: Path) -> pl.DataFrame:
    """The columns a part's place in time order is read from (source, line_no, timestamp), nothing else."""
    cols = ["source", "line_no", "timestamp"]
    return _read_part(part).select(cols) if part.suffix == ".arrow" else pl.read_parquet(part, columns=cols)


def annotate_part(batch: pl.DataFrame, keys: pl.Series, templates: dict[int, str], cache=None) -> pl.DataFrame:
    """`annotate` for a part written by `mine_logs`: the params come from the keys mining kept (`keyed_params`)."""
    from fieldkit.analysis.log_params import keyed_params

    ids = batch["template_id"]
    return batch.with_columns(
        ids.replace_strict(templates, default=None, return_dtype=pl.String).alias("template"),
        keyed_params(batch["message"], ids, batch[KEY].to_numpy(), keys, templates, cache).alias("params"))


class _Background:
    """One job at a time on a second thread (the previous one is waited for first): bounded memory, errors raised here."""

    def __enter__(self) -> "_Background":
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldkit-logs-write")
        self.pending = None
        return self

    def submit(self, fn, *args) -> None:
        self.wait()
        self.pending = self.pool.submit(fn, *args)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def __exit__(self, kind, error, tb) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self.pool.shutdown(wait=True)


def log_parameters(files: list[Path], layouts: dict, miner: TemplateMiner, baseline: str | Path | None) -> dict:
    """The logs step's parameters, known once mining is over (the Ray workers stamp them on the parts they write)."""
    return {"files": [str(f) for f in files], "baseline": str(baseline) if baseline else None,
            "sim_threshold": miner.sim_threshold, "depth": miner.depth, "token_classes": list(miner.token_classes),
            "vary": list(miner.vary) if miner.vary else None, "templates": len(miner.clusters),
            "headers": {f.name: layouts[f].describe() for f in files}}


@dataclass
class MinedLogs:
    """The first pass over the logs: records with their template ids in temporary parts, the templates, the digest."""

    files: list[Path]
    layouts: dict
    header_cols: list[str]
    parts: list[Path]
    miner: TemplateMiner
    table: pl.DataFrame
    digest: Digest
    tmp: Path
    ready: bool = False  # the parts already hold the output's columns (annotated on Ray workers)

    @property
    def several(self) -> bool:
        return len(self.files) > 1

    @property
    def columns(self) -> list[str]:
        return (["source"] if self.several else []) + ["line_no", "timestamp", "level", *self.header_cols,
                                                       "message", "template_id", "template", "params", "raw"]

    def parameters(self, baseline: str | Path | None) -> dict:
        """The provenance step's parameters: inputs, miner settings and the header learnt per file."""
        return log_parameters(self.files, self.layouts, self.miner, baseline)

    def final_parts(self, reporter: Reporter | None = None, consume: bool = False) -> Iterator[pl.DataFrame]:
        """Each part with its final templates and params, in the output's columns (also `logs --parts`' parts).

        `consume`: each part's files are deleted once read (its mapping stays valid until the frame is dropped).
        Why: a 2 GB log leaves about 5 GB of parts; removing them all at the end of the run was seconds of
        waiting on the disk, one part at a time it overlaps the output's encoding.
        """
        from fieldkit.analysis.log_params import SpanCache

        templates = dict(zip(self.table["template_id"].to_list(), self.table["template"].to_list()))
        rep = reporter or Reporter("logs")
        writing = rep.child("writing", len(self.parts))
        spans = SpanCache()  # final templates: a key's spans hold for every part
        for i, part in enumerate(self.parts):
            writing.update(i)
            rep.check()
            df = _read_part(part)  # parts annotated by the Ray workers (fieldkit.scale.logs) come ready
            if KEY in df.columns:
                df = annotate_part(df, _read_part(_keys_path(part))["key"], templates, spans)
            if consume:
                part.unlink(missing_ok=True)
                _keys_path(part).unlink(missing_ok=True)
            elif "params" not in df.columns:
                df = annotate(df, self.miner, templates)
            yield df.select(self.columns)

    def annotated(self, reporter: Reporter | None = None, consume: bool = False) -> pl.LazyFrame:
        """Every record with its final template and params, as a frame that streams one part at a time.

        Several files are merged by time first (fieldkit.analysis.log_merge: bounded memory, on disk in `tmp`).
        `consume`: the parts are deleted as they are read (`final_parts`), so the frame can be read once only.
        """
        from polars.io.plugins import register_io_source

        rep = reporter or Reporter("logs")
        cols = self.columns

        def final_parts() -> Iterator[pl.DataFrame]:
            return self.final_parts(rep, consume=consume)

        schema = (pl.read_ipc_schema(self.parts[0]) if self.parts[0].suffix == ".arrow"
                  else pl.read_parquet_schema(self.parts[0]))
        schema.update({"template": pl.String, "params": pl.List(pl.String)})

        def frames() -> Iterator[pl.DataFrame]:
            if not self.several:
                return prefetch(final_parts())
            # several files: merged by time on disk, a k-way merge in bounded memory (fieldkit.analysis.log_merge)
            from fieldkit.analysis.log_merge import merge_by_time

            from fieldkit.analysis.log_merge import in_time_order

            ordered = in_time_order(_part_clock(p) for p in self.parts)  # before any part is read (and consumed)
            ready = (_read_part(p).select(cols) for p in self.parts) if self.ready else prefetch(final_parts())
            if ordered:  # a rotated set, each file later than the last
                return ready
            total = sum(f.stat().st_size for f in self.files)
            return merge_by_time(ready, self.tmp / "merge", compression=part_compression(self.tmp, total), reporter=rep)

        def source(with_columns, predicate, n_rows, batch_size):
            for df in frames():
                yield df.select(with_columns) if with_columns is not None else df

        return register_io_source(source, schema={c: schema[c] for c in cols}, is_pure=True,
                                  explain_name="fieldkit annotated log")


class _Worded:
    """Which of a batch's templates name a problem now (each template text is looked at once)."""

    def __init__(self) -> None:
        self.seen: dict[str, bool] = {}

    def ids(self, miner: TemplateMiner, ids: pl.Series) -> list[int]:
        texts = {int(t): miner.clusters[t].template for t in ids.unique().to_list() if t in miner.clusters}
        new = [t for t in set(texts.values()) if t not in self.seen]
        if new:
            self.seen.update(zip(new, pl.Series(new, dtype=pl.String).str.contains(PROBLEM_RE).to_list()))
        return [t for t, text in texts.items() if self.seen[text]]


def mine_logs(paths: Sequence[str | Path], tmp: Path, *, baseline: str | Path | None = None,
              reporter: Reporter | None = None, batch_bytes: int = 2 << 20,
              miner: TemplateMiner | None = None) -> MinedLogs:
    """Read the logs in batches (the next one parsed while this one is mined), keep them in `tmp`, build the digest."""
    from fieldkit.io.logs import file_layout

    files = resolve_log_paths(paths)
    base = read_baseline(baseline) if baseline else None
    if miner is None:
        miner = default_miner(base)
    baseline_ids = set(base["template_id"].to_list()) if base is not None else None
    several = len(files) > 1
    total_bytes = sum(f.stat().st_size for f in files)
    rep = reporter or Reporter("logs")
    mining = rep.child("reading and mining", total_bytes)
    layouts = {f: file_layout(f) for f in files}
    header_cols = [c for c in HEADER_COLS if any(c in lay.columns for lay in layouts.values())]
    parts: list[Path] = []
    digest = DigestBuilder()  # the digest's counts, batch by batch: nothing is read back at the end
    worded = _Worded()
    done = 0
    compression = part_compression(tmp, total_bytes)
    with _Background() as background:  # parts are written on the second core while the next batch is mined
        for f in files:
            digest.start_file()
            blocks = prefetch(iter_log_blocks(f, batch_bytes=batch_bytes, layout=layouts[f]))
            for batch in parallel_map(lambda b, n, lay=layouts[f]: parse_block(b, n, lay), blocks):
                mining.update(min(done, total_bytes))  # decompressed bytes can outrun the file sizes
                if batch.height == 0:  # only a file header (a preamble) in this batch
                    continue
                ids, codes, keys = miner.add_messages_keyed(batch["message"])
                batch = batch.with_columns(ids)
                digest.add(batch.select("template_id", "timestamp", "level", "message"),
                           worded.ids(miner, batch["template_id"]))
                if several:
                    batch = batch.with_columns(pl.lit(f.name).alias("source"))
                batch = batch.with_columns(*[pl.lit(None, dtype=pl.String).alias(c) for c in header_cols
                                             if c not in batch.columns], pl.Series(KEY, codes, dtype=pl.UInt32))
                part = tmp / f"part-{len(parts):06d}.arrow"
                background.submit(_write_part, batch, keys, part, compression)
                parts.append(part)
                done += int(batch["raw"].str.len_bytes().sum() or 0) + batch.height
            done = sum(x.stat().st_size for x in files[: files.index(f) + 1])
            mining.update(min(done, total_bytes))
    rep.check()
    return mined(files, layouts, header_cols, parts, miner, digest.examples, baseline_ids, tmp, digest=digest)


def mined(files: list[Path], layouts: dict, header_cols: list[str], parts: list[Path], miner: TemplateMiner,
          examples: dict[int, str], baseline_ids: set[int] | None, tmp: Path,
          digest: DigestBuilder | None = None, ready: bool = False) -> MinedLogs:
    """The template table and digest over mined parts (shared by the local pass and the Ray engine's).

    `digest` holds the counts gathered while mining; without it the parts are read once, one at a time.
    """
    if not parts:
        raise InputError("no lines found in the logs", "pass a non-empty text log")
    table = miner.table()
    if digest is None:
        digest = DigestBuilder()
        worded = worded_ids(table)
        for p in parts:
            digest.add(_read_part(p).select("template_id", "timestamp", "level"), worded)
    digest = digest.finish(table, [f.name for f in files], baseline_ids, examples=examples)
    for f in files:
        digest.extra["notes"] += layout_notes(f.name, layouts[f])
    digest.extra["headers"] = {f.name: layouts[f].describe() for f in files}
    return MinedLogs(files, layouts, header_cols, parts, miner, table, digest, tmp, ready)


def check_output(out: str | Path) -> Path:
    """The Parquet output path, refused before any work when it cannot be written."""
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise UsageError(f"output {out.name} should end in .parquet", "e.g. -o lines.parquet")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"output folder {out.parent} does not exist", f"create it first: mkdir -p {out.parent}")
    return out


def write_summary(path: str | Path, digest: Digest, summary: str, how: str) -> None:
    """The summary and the digest as one Markdown file, written atomically."""
    _write_text_atomic(Path(path), f"# Log summary\n\n{summary}\n\n_Summary: {how}._\n\n"
                       + digest_markdown(d=digest))


def _write_text_atomic(path: Path, text: str) -> None:
    from fieldkit.store import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
