"""Several logs merged by time in bounded memory: a k-way merge of sorted runs on disk.

Why: sorting every line of a multi-GB rotated set at once held the whole set in memory. Here
each file's lines arrive in file order, mostly in time order already; a line whose time is not
before the latest time seen so far in its file continues that file's sorted run (written to
disk as it comes), the others ("late" lines: clocks stepping back, threads writing out of
order) are gathered, sorted a few MB at a time and written as extra runs. The runs are then
merged a block at a time: every buffered line not after the smallest "last line in buffer"
among runs that still have more is safe to emit. More runs than `fan_in` are merged in
passes, so memory follows `fan_in` x the block size, never the number of lines or files.

The order is the one a full stable sort gives: by the timestamp carried forward within each
file (a line without one keeps its place after the line before it; lines before a file's
first timestamp come first), then by file order (rotated sets oldest first), then line order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import polars as pl

from fieldkit.progress import Reporter

T, SEQ = "_mt", "_mseq"  # the merge key: forward-filled time (microseconds) and the global line sequence
_MIN = -(2 ** 63)  # no timestamp yet in this file: before everything
BLOCK_BYTES = 512 << 10  # per run buffered while merging
RUN_BYTES = 8 << 20  # late lines gathered before being sorted into a run
FAN_IN = 16


class _Run:
    """A sorted run on disk (Arrow IPC files read in order), handed out in blocks of about `block_bytes`."""

    def __init__(self, files: list[Path], block_bytes: int):
        self.files = list(files)
        self.block_bytes = block_bytes
        self.frame: pl.DataFrame | None = None
        self.pos = 0
        self.rows = 0

    def _load(self) -> bool:
        while self.files:
            path = self.files.pop(0)
            df = _read_ipc(path)
            path.unlink(missing_ok=True)  # the mapping keeps it readable; the disk space comes back at once
            if df.height:
                self.frame, self.pos = df, 0
                per_row = max(1, df.estimated_size() // df.height)
                self.rows = max(64, self.block_bytes // per_row)
                return True
        self.frame = None
        return False

    def next_block(self) -> pl.DataFrame | None:
        if (self.frame is None or self.pos >= self.frame.height) and not self._load():
            return None
        block = self.frame.slice(self.pos, self.rows)
        self.pos += block.height
        return block

    @property
    def more(self) -> bool:
        """Whether anything is left after the blocks handed out so far."""
        return (self.frame is not None and self.pos < self.frame.height) or bool(self.files)


def _read_ipc(path: Path) -> pl.DataFrame:
    """An IPC file memory-mapped into Polars without a copy (only the pages a block touches are read)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with pa.memory_map(str(path)) as src:
        return pl.from_arrow(ipc.open_file(src).read_all())


class _Writer:
    """Numbered IPC files in one folder (the runs and the main streams)."""

    def __init__(self, tmp: Path, compression: str):
        self.tmp, self.compression, self.n = tmp, compression, 0

    def write(self, df: pl.DataFrame) -> Path:
        path = self.tmp / f"merge-{self.n:07d}.arrow"
        self.n += 1
        df.write_ipc(path, compression=self.compression, compat_level=pl.CompatLevel.newest())
        return path

    def pieces(self, df: pl.DataFrame, size: int) -> list[Path]:
        """`df` as files of about `size` bytes each, in order (a run's files are mapped one at a time).

        Why: a run's file stays mapped while the merge reads through it and every page it touched
        counts in the process's memory; with 16 runs of 8 MB files that was over 100 MB.
        """
        rows = max(64, size // max(1, df.estimated_size() // max(1, df.height)))
        return [self.write(df.slice(i, rows)) for i in range(0, df.height, rows)]


def _le(df: pl.DataFrame, t: int, seq: int) -> int:
    """How many rows of a sorted block come at or before the key (t, seq) (a prefix)."""
    return int(((df[T] < t) | ((df[T] == t) & (df[SEQ] <= seq))).sum())


def _merge(runs: list[_Run], check=lambda: None) -> Iterator[pl.DataFrame]:
    """The runs' rows in key order, a few blocks at a time (each run is sorted by (T, SEQ) and keys are unique)."""
    bufs: list[pl.DataFrame | None] = [r.next_block() for r in runs]
    while True:
        check()
        live = [i for i, b in enumerate(bufs) if b is not None]
        if not live:
            return
        ends = [(bufs[i][T][-1], bufs[i][SEQ][-1]) for i in live if runs[i].more]
        out = []
        if ends:
            t, seq = min(ends)
            for i in live:
                n = _le(bufs[i], t, seq)
                if n:
                    out.append(bufs[i].head(n))
                    bufs[i] = bufs[i].slice(n)
        else:  # every run is in its last block: all of it is safe
            out = [bufs[i] for i in live]
            bufs = [None] * len(bufs)
        for i in live:
            if bufs[i] is not None and bufs[i].height == 0:
                bufs[i] = runs[i].next_block()
        if len(out) == 1:
            yield out[0]
        elif out:
            yield pl.concat(out, how="vertical").sort(T, SEQ)


class _Clock:
    """Per file, as its frames arrive in order: the time carried forward and whether each line is in time order."""

    def __init__(self) -> None:
        self.src, self.last_line, self.carry, self.high = None, None, None, _MIN
        self.started = False

    def step(self, df: pl.DataFrame) -> tuple[bool, pl.Series, pl.Series]:
        """(a new file starts here, each line's key time, whether it is not before anything earlier in its file)."""
        src = df["source"][0] if "source" in df.columns else None
        new = not self.started or src != self.src or df["line_no"][0] <= self.last_line
        if new:  # a new file: its own carried time, its own high mark
            self.carry, self.high, self.started = None, _MIN, True
        self.src, self.last_line = src, df["line_no"][-1]
        t = df["timestamp"].cast(pl.Datetime("us")).dt.epoch("us").forward_fill()
        t = t.fill_null(self.carry if self.carry is not None else _MIN)
        self.carry = t[-1] if t[-1] != _MIN else self.carry
        top = t.cum_max().clip(lower_bound=self.high)
        self.high = top[-1]
        return new, t, t == top


def in_time_order(frames: Iterator[pl.DataFrame]) -> bool:
    """True when the frames (`source`, `line_no`, `timestamp`; files in order) are already merged by time.

    Why: a rotated set (each file later than the one before, each in order) needs no merge at all:
    looking at the timestamps alone spares writing and reading every line once more.
    """
    clock, high = _Clock(), _MIN
    for df in frames:
        if not df.height:
            continue
        previous = high
        new, t, in_order = clock.step(df)
        if not in_order.all() or (new and t[0] < previous):
            return False
        high = clock.high
    return True


def _split(frames: Iterator[pl.DataFrame], writer: _Writer, run_bytes: int,
           piece_bytes: int) -> tuple[list[list[Path]], int]:
    """Each file's in-order lines as one run, its late lines sorted into extra runs (all with the key columns)."""
    mains: list[list[Path]] = []
    lates: list[list[Path]] = []
    late: list[pl.DataFrame] = []
    late_bytes = 0
    seq = 0
    clock = _Clock()

    def flush() -> None:
        nonlocal late, late_bytes
        if late:
            lates.append(writer.pieces(pl.concat(late, how="vertical").sort(T, SEQ), piece_bytes))
            late, late_bytes = [], 0

    for df in frames:
        if not df.height:
            continue
        new, t, in_order = clock.step(df)
        if new:
            mains.append([])
        df = df.with_columns(t.alias(T), pl.int_range(seq, seq + df.height, dtype=pl.Int64, eager=True).alias(SEQ))
        seq += df.height
        if in_order.all():
            mains[-1] += writer.pieces(df, piece_bytes)
            continue
        if in_order.any():
            mains[-1] += writer.pieces(df.filter(in_order), piece_bytes)
        late.append(df.filter(~in_order))
        late_bytes += late[-1].estimated_size()
        if late_bytes >= run_bytes:
            flush()
    flush()
    return [s for s in mains + lates if s], seq


def _coalesce(frames: Iterator[pl.DataFrame], size: int) -> Iterator[pl.DataFrame]:
    """Small merged pieces joined into frames of about `size` bytes (fewer, larger files in a merge pass)."""
    held: list[pl.DataFrame] = []
    n = 0
    for df in frames:
        held.append(df)
        n += df.estimated_size()
        if n >= size:
            yield pl.concat(held, how="vertical")
            held, n = [], 0
    if held:
        yield pl.concat(held, how="vertical")


def merge_by_time(frames: Iterator[pl.DataFrame], tmp: Path, *, compression: str = "uncompressed",
                  fan_in: int = FAN_IN, block_bytes: int = BLOCK_BYTES,
                  run_bytes: int = RUN_BYTES, reporter: Reporter | None = None) -> Iterator[pl.DataFrame]:
    """The frames' rows (each frame from one file, files in order, `source`, `line_no`, `timestamp`) merged by time.

    Bounded memory: about `fan_in` x `block_bytes` buffered, plus one late run being gathered.
    The reporter counts the merged lines and is checked for cancelling between blocks.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    writer = _Writer(tmp, compression)
    streams, total = _split(frames, writer, run_bytes, 2 * block_bytes)
    rep = (reporter or Reporter("logs")).child("merging by time", total)
    fan_in = max(2, fan_in)
    while len(streams) > fan_in:  # merge passes: groups of fan_in runs become one run each
        merged = []
        for i in range(0, len(streams), fan_in):
            group = streams[i:i + fan_in]
            if len(group) == 1:
                merged.append(group[0])
                continue
            runs = [_Run(g, block_bytes) for g in group]
            merged.append([f for df in _coalesce(_merge(runs, rep.check), 2 * block_bytes)
                           for f in writer.pieces(df, 2 * block_bytes)])
        streams = merged
    done = 0
    for df in _merge([_Run(s, block_bytes) for s in streams], rep.check):
        done += df.height
        rep.update(done)
        yield df.drop(T, SEQ)
