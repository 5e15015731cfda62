"""Pipelines: one function per job, shared by the CLI, the TUI and notebooks.

The contract (read this before adding a job such as code, merge or check):

- A job is a function `job(data, <its parameters as keywords>, reporter=None) -> Result`.
  `data` is a path, a Polars DataFrame/LazyFrame or a `fieldkit.io.Dataset`; turn it into a
  Dataset with `core.dataset(data)` and read it through `Dataset.read` / `Dataset.text_column`,
  which read the file at most once for the whole job (later reads reuse what was read).
- It returns `Result(outcome, columns, step)`:
  `outcome` is the job's own object (themes, groups, hits, summaries...);
  `columns` maps each new column's name to a Polars Series (or a 2-D numpy array for
  fixed-size vectors, streamed on write), one value per input row, in input order;
  `step` is ONE provenance step made by `core.make_step`, the same shape for every job:
  `{"operation", "parameters": {...}, "model", "model_sha256" (only where a model ran),
  "started", "seconds"}`.
- `save_annotated(dataset, result.columns, [result.step], out)` writes every Parquet output:
  all input columns plus the new ones, atomically, with the provenance of the source.
- Embedding models: `model_id=None` means automatic; the choice is made in one place,
  `core.resolve_model(texts, model_id)`. Use `embed.vectors(...)` to get a column's vectors
  (cached per file + column + model).
- Jobs run in worker threads: they report progress only through the `Reporter` (throttled
  callback; its cancel Event raises `Cancelled`), never print, and import nothing from
  click, rich or textual. Bad input raises a `fieldkit.errors.FieldkitError` with a hint.

    >>> from fieldkit import pipelines
    >>> ds = pipelines.dataset("answers.csv")            # or a Polars DataFrame
    >>> r = pipelines.themes(ds, "answer", k=5)
    >>> r.outcome.result.themes[0].label, list(r.columns)
    >>> pipelines.save_annotated(ds, r.columns, [r.step], "out.parquet")
"""

from fieldkit.pipelines.code import Coded, code
from fieldkit.pipelines.convert import Converted, convert
from fieldkit.pipelines.core import (
    Result,
    annotated,
    dataset,
    make_step,
    resolve_model,
    save_annotated,
    timed,
)
from fieldkit.pipelines.dupes import Dupes, dupes
from fieldkit.pipelines.embed import Embedded, embed
from fieldkit.pipelines.logs import logs
from fieldkit.pipelines.merge import MergeOutcome, merge
from fieldkit.pipelines.search import hits_frame, search
from fieldkit.pipelines.summarize import Summaries, summarize
from fieldkit.pipelines.themes import Themes, themes

__all__ = [
    "Coded", "Converted", "Dupes", "Embedded", "MergeOutcome", "Result", "Summaries", "Themes",
    "annotated", "code", "convert", "dataset", "dupes", "embed", "hits_frame", "logs", "make_step", "merge",
    "resolve_model",
    "save_annotated", "search", "summarize", "themes", "timed",
]
