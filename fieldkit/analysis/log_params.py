"""Per-line parameters: the strings that fill a template's `<*>` in order.

Why: a template says which event a line is; its parameters (a block id, an IP, a user) are
what an engineer filters on, and putting them back into the template must give the message
again (drain3's most requested missing feature). Each template becomes one anchored regex with
a lazy group per `<*>`, run by Polars over that template's lines only.
"""

from __future__ import annotations

import re

import polars as pl

from fieldkit.analysis.logtemplates import WILDCARD

_META = set(r"\.+*?()|[]{}^$#&-~")
PARAMS_DTYPE = pl.List(pl.String)
_DIGIT = re.compile("[0-9]")


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _META else ch for ch in text)


def template_regex(template: str, loose: bool = False) -> str:
    """Anchored regex with one lazy group per `<*>` (`loose`: any run of spaces matches any other)."""
    parts = [_escape(p) for p in template.split(WILDCARD)]
    if loose:
        parts = [re.sub(r"\s+", lambda _: r"\s+", p) for p in parts]
    return "^" + "(.*?)".join(parts) + "$"


def fill(template: str, params: list[str] | None) -> str:
    """The template with its `<*>` replaced by params, in order (the inverse of line_params)."""
    parts = template.split(WILDCARD)
    params = [] if params is None else list(params)
    out = [parts[0]]
    for i, p in enumerate(parts[1:]):
        out += [params[i] if i < len(params) else WILDCARD, p]
    return "".join(out)


def _extract(lines: pl.Series, template: str, loose: bool) -> pl.Series:
    n = template.count(WILDCARD)
    g = lines.to_frame("m").select(pl.col("m").str.extract_groups(template_regex(template, loose)).alias("g"))
    fields = [pl.col("g").struct.field(str(i + 1)) for i in range(n)]
    ok = pl.col("g").struct.field("1").is_not_null()
    return g.select(pl.when(ok).then(pl.concat_list(fields)).otherwise(None).alias("params"))["params"]


def _spans(keys: pl.Series, template: str, loose: bool) -> pl.DataFrame:
    """Per key: where each `<*>` starts and how long it is (s0, l0, s1, l1 ..., in characters; null: no fit).

    Every literal piece is captured too, so a `<*>` starts after the lengths of all groups before it.
    """
    lits = [_escape(p) for p in template.split(WILDCARD)]
    if loose:
        lits = [re.sub(r"\s+", lambda _: r"\s+", p) for p in lits]
    rx = "^" + "(.*?)".join(f"({p})" for p in lits) + "$"
    g = pl.col("g").struct
    ok = g.field("1").is_not_null()
    lens = [g.field(str(i + 1)).str.len_chars() for i in range(2 * len(lits) - 1)]
    cols = []
    for i in range(len(lits) - 1):
        cols += [pl.when(ok).then(pl.sum_horizontal(lens[: 2 * i + 1])).alias(f"s{i}"),
                 pl.when(ok).then(lens[2 * i + 1]).alias(f"l{i}")]
    return keys.to_frame("k").select(pl.col("k").str.extract_groups(rx).alias("g")).select(*cols)


def _by_spans(part: pl.DataFrame, keys: pl.Series, template: str) -> pl.Series:
    """A template's params from each distinct digit-zeroed line's spans, cut out of the real lines.

    Why it holds: a template has no ASCII digit, so a digit and a 0 match its pieces alike and
    the groups of a line and of its zeroed key fall on the same characters.
    """
    ks = part["k"].unique()
    kv = keys.gather(ks)
    sp = _spans(kv, template, loose=False)
    n = template.count(WILDCARD)
    if sp["s0"].null_count():  # spacing that differs from the template's: the tolerant match
        lo = _spans(kv, template, loose=True)
        sp = sp.with_columns(*[pl.coalesce(sp[c], lo[c]).alias(c) for c in sp.columns])
    sp = sp.with_columns(ks.alias("k"))
    j = part.select("k", "m").join(sp, on="k", how="left", maintain_order="left")
    m = pl.col("m")
    vals = pl.concat_list([m.str.slice(pl.col(f"s{i}"), pl.col(f"l{i}")) for i in range(n)])
    return j.select(pl.when(pl.col("s0").is_not_null()).then(vals).otherwise(None).alias("params"))["params"]


def line_params(messages: pl.Series, ids: pl.Series, templates: dict[int, str]) -> pl.Series:
    """List[str] per line: the values of its template's `<*>` in the message's first line.

    Lines whose spacing differs from their template between two constant words get the values
    from a spacing-tolerant match instead; a line no regex fits gets null. Each regex runs once
    per distinct digit-zeroed line (see `_by_spans`), not once per line.
    """
    from fieldkit.analysis.logtemplates import digit_blind

    first = messages.str.split("\n").list.first().fill_null("")
    codes, keys = digit_blind(first)
    df = pl.DataFrame({"m": first, "t": ids, "k": codes}).with_row_index("_i")
    parts = []
    for (tid,), part in df.partition_by("t", as_dict=True, maintain_order=True).items():
        template = templates.get(tid) if tid is not None else None
        if template is None:
            parts.append(part.select("_i", pl.lit(None, dtype=PARAMS_DTYPE).alias("params")))
            continue
        if WILDCARD not in template:
            vals = pl.Series("params", [[]] * part.height, dtype=PARAMS_DTYPE)
        elif not _DIGIT.search(template):
            vals = _by_spans(part, keys, template)
        else:  # a hand-edited baseline template may hold a digit: match the real lines
            vals = _extract(part["m"], template, loose=False)
            if vals.null_count():
                loose = _extract(part["m"], template, loose=True)
                vals = vals.zip_with(vals.is_not_null(), loose)
        parts.append(part.select("_i").with_columns(vals.alias("params")))
    if not parts:
        return pl.Series("params", [], dtype=PARAMS_DTYPE)
    return pl.concat(parts).sort("_i")["params"].cast(PARAMS_DTYPE)



class SpanCache:
    """Each (template, key)'s `<*>` spans, kept across batches: the same digit-zeroed lines recur in every batch.

    Bounded: cleared when it holds `limit` keys (a log whose lines rarely repeat gains nothing from it).
    """

    def __init__(self, limit: int = 200_000):
        self.limit = limit
        self.spans: dict[tuple[int, str], tuple[int, ...] | None] = {}

    def fill(self, tid: int, template: str, keys: list[str]) -> None:
        """Find the spans of the keys not seen with this template yet (one regex pass over them)."""
        new = [k for k in dict.fromkeys(keys) if (tid, k) not in self.spans]
        if not new:
            return
        if len(self.spans) + len(new) > self.limit:
            self.spans.clear()
        kv = pl.Series(new, dtype=pl.String)
        sp = _spans(kv, template, loose=False)
        if sp["s0"].null_count():  # spacing that differs from the template's: the tolerant match
            lo = _spans(kv, template, loose=True)
            sp = sp.with_columns(*[pl.coalesce(sp[c], lo[c]).alias(c) for c in sp.columns])
        n = template.count(WILDCARD)
        cols = [sp[f"{x}{i}"].to_list() for i in range(n) for x in "sl"]
        for j, k in enumerate(new):
            self.spans[tid, k] = None if cols[0][j] is None else tuple(c[j] for c in cols)


def keyed_params(messages: pl.Series, ids: pl.Series, codes, keys: pl.Series, templates: dict[int, str],
                 cache: SpanCache | None = None) -> pl.Series:
    """`line_params` from the codes and keys mining already made (`TemplateMiner.add_messages_keyed`).

    Why: the spans are found once per key and template (and kept in `cache` across batches), then
    every line's params are cut out of its message in one flat pass (all lines' `<*>` spans after
    each other, made into the list column through Arrow offsets) instead of one join and slice
    set per template. Same result as `line_params`; a template holding a digit (a hand-edited
    baseline) goes there.
    """
    import numpy as np
    import pyarrow as pa

    codes = np.asarray(codes, dtype=np.int64)
    n_lines = len(codes)
    if n_lines == 0:
        return pl.Series("params", [], dtype=PARAMS_DTYPE)
    cache = cache if cache is not None else SpanCache()
    tid_of_key = np.full(len(keys), -1, dtype=np.int64)
    tid_of_key[codes] = ids.fill_null(-1).to_numpy()
    key_tids = tid_of_key.tolist()
    key_list = keys.to_list()
    used = {t: templates.get(t) for t in set(key_tids)}
    if any(t is not None and _DIGIT.search(t) for t in used.values()):
        return line_params(messages, ids, templates)
    for tid, template in used.items():
        if template is not None and WILDCARD in template:
            cache.fill(tid, template, [k for k, t in zip(key_list, key_tids) if t == tid])
    n_of_key = np.zeros(len(key_list), dtype=np.int64)
    fits = np.ones(len(key_list), dtype=bool)
    flat: list[int] = []  # s0, l0, s1, l1 ... of every key in order
    for j, (k, tid) in enumerate(zip(key_list, key_tids)):
        template = used[tid]
        if template is None:
            fits[j] = False
        elif WILDCARD in template:
            sp = cache.spans.get((tid, k))
            if sp is None:
                fits[j] = False
            else:
                n_of_key[j] = len(sp) // 2
                flat.extend(sp)
    spans = np.asarray(flat, dtype=np.int64).reshape(-1, 2)
    key_off = np.zeros(len(key_list) + 1, dtype=np.int64)
    np.cumsum(n_of_key, out=key_off[1:])
    per_line = n_of_key[codes]
    line_off = np.zeros(n_lines + 1, dtype=np.int64)
    np.cumsum(per_line, out=line_off[1:])
    line_of = np.repeat(np.arange(n_lines), per_line)
    at = key_off[codes[line_of]] + (np.arange(line_off[-1]) - line_off[:-1][line_of])
    # the spans lie in the first line, a prefix of the message, and count characters as str.slice does
    values = messages.gather(line_of).str.slice(pl.Series(spans[at, 0]), pl.Series(spans[at, 1]))
    # offsets and mask made by Polars: pa.array() imports pandas (+40 MB RSS)
    arr = pa.LargeListArray.from_arrays(pl.Series(line_off).to_arrow(), values.to_arrow(),
                                        mask=pl.Series(~fits[codes]).to_arrow())
    return pl.Series("params", arr).cast(PARAMS_DTYPE)
