"""A job's output as a folder of Parquet parts (`--parts`), published all at once.

Why: a cluster run over tens of millions of rows is easier to hand on as parts (other tools
read the folder as one table), and on Ray the workers write them, so no machine writes every
row; but a folder half-written by a failed run must never look finished. The parts are
written into a hidden folder beside the target (which the workers must reach: local disk on
one machine, shared storage on a cluster) and renamed into place at the end, with
`manifest.json` (the parts, their rows, the provenance); an earlier folder is replaced only then.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator

import polars as pl

from fieldkit.errors import OutputError
from fieldkit.io.dataset import Dataset
from fieldkit.pipelines.core import Column, _source, _vector_series, _with_columns
from fieldkit.progress import Reporter

PART = re.compile(r"part-\d{5,}\.parquet|manifest\.json")
MANIFEST = "manifest.json"
FORMAT = "fieldkit-parts/1"


def check_parts_output(target: str | os.PathLike) -> Path:
    """Refuse a target that is a file, or a folder holding anything but fieldkit parts."""
    path = Path(target)
    if path.exists() and not path.is_dir():
        raise OutputError(f"output {path} is a file; --parts writes a folder",
                          "give a folder name (it is created), e.g. -o out_parts")
    if path.is_dir() and any(not PART.fullmatch(p.name) for p in path.iterdir()):
        raise OutputError(f"output folder {path} holds other files",
                          "give a new or empty folder name; fieldkit only replaces a folder of its own parts")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write to folder {parent}", f"create it first: mkdir -p {parent}")
    return path


def _slices(frame: pl.LazyFrame, arrays: dict, rows: int) -> Iterator[list[pl.DataFrame]]:
    """The annotated rows, cut into lists of frames of `rows` rows in total (the last may be shorter)."""
    pos, part, size = 0, [], 0
    for df in frame.collect_batches(chunk_size=min(rows, 16_384)):
        while df.height:
            take = df.head(rows - size)
            df = df.slice(take.height)
            n = take.height
            part.append(take.with_columns([_vector_series(name, a[pos:pos + n]) for name, a in arrays.items()]))
            pos, size = pos + n, size + n
            if size == rows:
                yield part
                part, size = [], 0
    if part or pos == 0:
        yield part or [frame.head(0).collect()]


class PartsFolder:
    """The hidden folder the parts go to (by this process or by workers), renamed into place by `publish`."""

    def __init__(self, target: str | os.PathLike):
        from fieldkit.files import remove_stale_temps, temp_name

        self.target = check_parts_output(target)
        remove_stale_temps(self.target.parent)  # the hidden folders of runs that were killed
        self.tmp = temp_name(self.target)  # hidden, named by this process: swept once it is gone
        self.tmp.mkdir()

    def publish(self, parts: list[tuple[str, int]], provenance: dict[str, Any]) -> Path:
        """Write the manifest (each part's name and rows, the provenance) and put the folder in place."""
        from fieldkit.files import atomic_path

        manifest = {"format": FORMAT, "rows": sum(n for _, n in parts),
                    "parts": [{"file": name, "rows": n} for name, n in sorted(parts)], "provenance": provenance}
        with atomic_path(self.tmp / MANIFEST) as tmp:
            Path(tmp).write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
        old = None
        if self.target.exists():
            from fieldkit.files import temp_name

            old = temp_name(self.target)
            os.replace(self.target, old)
        os.replace(self.tmp, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_part(folder: str | os.PathLike, index: int, frames: Iterable[pl.DataFrame],
               provenance: dict[str, Any]) -> tuple[str, int]:
    """Part `index` of a parts folder, with the provenance and its own number; (file name, rows)."""
    from fieldkit.store import write_batches

    name = f"part-{index:05d}.parquet"
    rows = 0

    def counted() -> Iterator[pl.DataFrame]:
        nonlocal rows
        for df in frames:
            rows += df.height
            yield df

    write_batches(counted(), Path(folder) / name, {**provenance, "part": index})
    return name, rows


def save_parts(ds: Dataset, columns: dict[str, Column], steps: list[dict[str, Any]],
               out: str | os.PathLike, rows: int, reporter: Reporter | None = None) -> Path:
    """Write every input column plus `columns` as `out/part-00000.parquet`, ... (each with the provenance)."""
    from fieldkit.store import make_provenance

    source, previous = _source(ds)
    provenance = make_provenance(source, steps, previous)
    frame, arrays = _with_columns(ds, columns)
    folder = PartsFolder(out)
    try:
        done, written = 0, []
        for i, part in enumerate(_slices(frame, arrays, rows)):
            written.append(write_part(folder.tmp, i, part, provenance))
            done += written[-1][1]
            if reporter is not None:
                reporter.update(done)
        return folder.publish(written, provenance)
    except BaseException:
        folder.discard()
        raise


def publish_log_parts(folder: PartsFolder, mined, provenance: dict[str, Any], reporter: Reporter | None = None) -> Path:
    """The logs job's parts folder: written by the Ray workers already, or here one part per mined batch."""
    import pyarrow.parquet as pq

    if mined.ready and all(p.parent == folder.tmp for p in mined.parts):  # the workers wrote them
        written = [(p.name, pq.read_metadata(p).num_rows) for p in mined.parts]
    else:
        written = [write_part(folder.tmp, i, [df], provenance) for i, df in enumerate(mined.final_parts(reporter))]
    return folder.publish(written, provenance)
