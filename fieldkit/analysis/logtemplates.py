"""Log template mining: mask the unambiguous variables with Polars, group with a Drain-style tree,
then let token statistics decide the rest.

Why not just drain3: masking first (IPs, UUIDs, hex ids, paths, URLs, numbers glued to units,
and any token holding a digit) makes most lines of one event identical strings, so a batch is
deduplicated in Polars and only its distinct masked lines go through the Python tree; the
similarity counts only a line's constant tokens, which keeps short, different events apart.
What masks cannot know is learnt from the file: a position whose value differs between lines
of one group is a parameter (the Drain merge), and a position holding many words each rare in the
batch is a variable before the tree sees it (`logtemplates_vary`: package names, link groups).
The settings (`MINER_SETTINGS`) are chosen by leave-one-dataset-out over the shared loghub sets and
real logs of other programs (bench/cv_logs.py), not fitted to one; `fieldkit logs` and the TUI's
log screen both use them.

Templates keep the message's own spacing, so each line's `params` (the strings that fill the
`<*>` in order) put back into its template give the message's first line exactly.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import polars as pl

WILDCARD = "<*>"

# Ordered masking rules (Rust regex, no look-around). Each replaces a variable with <*>.
_DELIMS = r"""\s=:,;()\[\]{}<>"'|"""
def _datetime_pattern() -> str:
    """A date-time written inside a message, in any form a header may have (fieldkit.io.log_header.TIME_FORMS).

    Why: `2024-01-01T10:00:00Z` or `[06/Feb/2009:12:14:14.655]` in a message were three or four `<*>` split at
    the colons; a date-time is one parameter. Bare numbers (epoch, `yymmdd hhmmss`) stay numbers.
    """
    from fieldkit.io.log_header import TIME_FORMS

    forms = [f.pattern for f in TIME_FORMS if f.name not in ("epoch", "yymmdd", "compact", "compact_ms", "glog")]
    return r"\b(?:" + "|".join(forms) + r")(?:[.,]\d+)?\b"


MASKS: tuple[tuple[str, str], ...] = (
    ("url", r"[A-Za-z][\w+.-]*://\S+"),
    ("mac", r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\b"),
    ("datetime", _datetime_pattern()),
    ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("path", r"(?:[\w.~-]+)?(?:/[\w.~$@+-]+){2,}/?"),
    ("winpath", r"\b[A-Za-z]:\\[^\s\"'<>|]*"),
    ("ip_port", r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b"),
    ("size_or_duration", r"\b\d+(?:\.\d+)?\s?(?:[KMGT]i?B|B|bytes|ms|us|ns|sec|secs|seconds|s|min|mins|h)\b"),
    ("boolean", r"\b(?:true|false|True|False|null|None)\b"),
    # anything else holding a digit: ids, numbers, host-7, core.2275, 0:0:0:0 pieces ...
    ("has_digit", rf"[^{_DELIMS}]*\d[^{_DELIMS}]*"),
)
# Host names (two dots or more, a short last label): a rule the cross-validation may switch on.
HOST_MASK = ("host", r"\b[A-Za-z][\w-]*(?:\.[\w-]+)+\.[A-Za-z]{2,4}\b")
_RUN = r"<\*>(?:[\s,]*<\*>)+"
# Token classes that are one value whatever their spelling (each a rule the cross-validation may switch on;
# bench/cv_logs.py): only "joined" (a value in brackets, values joined by colons: `(<*>)`, `<*>:<*>`) is kept;
# the others merged HealthApp's `key=<*>`/`action:...` events and stay here to be measured again.
TOKEN_CLASSES: dict[str, str] = {
    "colon_pair": r"[\w.+~-]*\w:[\w.+~-]*\w",
    "slash": r"[\w.~@+-]*\w/[\w.~@+-]+",
    "glued": r"\S*<\*>\S*",
    "punct": r"[^\w\s]*<\*>(?:[^\w\s]*<\*>)*[^\w\s]*",
    "joined": r"[(\[{]?<\*>(?::<\*>)*[)\]}]?[,;]?",
}
# Chosen by leave-one-dataset-out over the 8 loghub sets and 5 real logs of other programs (bench/cv_logs.py).
# The similarity and depth are held at their loghub choice (0.8, 2): left free, the 13 sets' left-out mean falls
# (0.844 -> 0.774), and 0.9 (picked when pip's log was not in the pool) left `Invalid user alice ...` (7 users,
# each frequent: `vary` rightly sees an enumeration) one template per user (tests/unit/test_logs_headers.py).
MINER_SETTINGS = {"sim_threshold": 0.8, "depth": 2, "mask_hosts": False, "token_classes": ("joined",),
                  "vary": (3, 0.2, 1)}


def mask_expr(text: pl.Expr, hosts: bool = False, classes: Sequence[str] = ()) -> pl.Expr:
    """A Polars expression that replaces every unambiguous variable in `text` with <*>.

    The first line only (templates describe an entry's first line) and the message's own
    spacing is kept, so the template fits the message character for character.
    """
    out = text.str.split("\n").list.first().fill_null("")
    out = out.str.replace_all(r"(\.{3,})\d+", "$1" + WILDCARD)  # dot leaders: `depth.......0`
    rules = MASKS if not hosts else MASKS[:6] + (HOST_MASK,) + MASKS[6:]
    for _, pattern in rules:
        out = out.str.replace_all(pattern, WILDCARD)
    if classes:  # whole tokens only: the text cut into its tokens and blanks, each token tested anchored
        out = out.str.replace_all(_RUN, WILDCARD)
        rx = "^(?:" + "|".join(TOKEN_CLASSES[c] for c in classes) + ")$"
        out = out.str.extract_all(r"\S+|\s+").list.eval(
            pl.when(pl.element().str.contains(rx)).then(pl.lit(WILDCARD)).otherwise(pl.element())).list.join("")
    # a run of variables is one variable: lists of ids or numbers vary in length
    return out.str.replace_all(_RUN, WILDCARD)


_SPLIT = re.compile(r"(\s+)")
_ZERO = bytes.maketrans(b"123456789", b"000000000")


def digit_blind(lines: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """(code per line, distinct lines by first appearance), lines equal but for their ASCII digits being one.

    Why Arrow: a byte translation of the whole text buffer and a dictionary encoding cost a
    fraction of a regex pass per digit (the offsets stay valid since every digit stays one byte).
    """
    import pyarrow as pa

    if lines.len() == 0:
        return np.zeros(0, dtype=np.int64), pl.Series([], dtype=pl.String)
    a = lines.to_arrow()
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    if a.type != pa.large_string():
        a = a.cast(pa.large_string())
    validity, offsets, data = a.buffers()
    data = pa.py_buffer((data.to_pybytes() if data is not None else b"").translate(_ZERO))
    enc = pa.LargeStringArray.from_buffers(len(a), offsets, data, validity, a.null_count, a.offset).dictionary_encode()
    # through Polars, not pyarrow's to_numpy/pa.array: those import pandas (+40 MB RSS, a sixth of the logs peak)
    return pl.from_arrow(enc.indices).to_numpy().astype(np.int64), pl.from_arrow(enc.dictionary)


def masked_keys(messages: pl.Series, hosts: bool = False, classes: Sequence[str] = (),
                vary: tuple | None = None) -> tuple[np.ndarray, pl.DataFrame]:
    """(key per line, per key its masked line `m`, line count `n` and digit-zeroed line `k`): what the miner is fed.

    Masking is the same for two lines that differ only in their ASCII digits (every digit
    ends up inside a <*>, and a 0 keeps each rule's match: \\d, hex, 0x, lengths), so only
    the distinct digit-zeroed first lines are masked: a few thousand per batch, not every line.
    Public so the Ray workers (fieldkit.scale.logs) mask exactly as a local run does.
    """
    codes, keys = digit_blind(messages.str.split("\n").list.first().fill_null(""))
    masked = pl.DataFrame({"m": keys}).select(mask_expr(pl.col("m"), hosts, classes))["m"]
    counts = np.bincount(codes, minlength=len(keys))
    if vary:
        from fieldkit.analysis.logtemplates_vary import vary_mask

        masked = vary_mask(masked, counts, *vary).str.replace_all(_RUN, WILDCARD)
    return codes, pl.DataFrame({"m": masked, "n": counts, "k": keys})


def _tokens_and_seps(masked: str) -> tuple[list[str], list[str]]:
    parts = _SPLIT.split(masked.strip())
    return parts[0::2] if parts != [""] else [], parts[1::2]


@dataclass
class Cluster:
    """One template: its tokens (with <*> where lines differed), the spacing between them, its size."""

    cluster_id: int
    tokens: list[str]
    size: int = 0
    known: bool = False  # came from a saved table (baseline)
    seps: list[str] = field(default_factory=list)

    @property
    def template(self) -> str:
        if len(self.seps) != len(self.tokens) - 1:
            return " ".join(self.tokens)
        out = [self.tokens[0]] if self.tokens else []
        for sep, tok in zip(self.seps, self.tokens[1:]):
            out += [sep, tok]
        return "".join(out)


@dataclass
class _Node:
    children: dict = field(default_factory=dict)
    clusters: list = field(default_factory=list)  # cluster ids at a leaf


class TemplateMiner:
    """Streaming template miner over masked lines (use `add_messages` for batches).

    The defaults are `MINER_SETTINGS`; a template's id never changes, its text may gain `<*>`
    while mining goes on, so `table()` after the last batch has the final templates.
    """

    def __init__(self, sim_threshold: float = MINER_SETTINGS["sim_threshold"],
                 depth: int = MINER_SETTINGS["depth"], max_children: int = 100,
                 max_clusters: int = 50_000, cache_size: int = 200_000,
                 mask_hosts: bool = MINER_SETTINGS["mask_hosts"],
                 token_classes: Sequence[str] = MINER_SETTINGS["token_classes"],
                 vary: tuple | None = MINER_SETTINGS["vary"]):
        self.sim_threshold = sim_threshold
        self.depth = depth  # prefix tokens used to route after the token count
        self.max_children = max_children
        self.max_clusters = max_clusters
        self.cache_size = cache_size
        self.mask_hosts = mask_hosts
        self.token_classes = tuple(token_classes)
        self.vary = tuple(vary) if vary else None  # (min values, max median sightings / group lines, first position)
        self.clusters: OrderedDict[int, Cluster] = OrderedDict()  # LRU order
        self.root = _Node()
        self.next_id = 1
        self._cache: dict[str, int] = {}

    # --- the tree -------------------------------------------------------------------------
    def _leaf(self, tokens: Sequence[str], create: bool) -> _Node | None:
        node = self.root.children.get(len(tokens))
        if node is None:
            if not create:
                return None
            node = self.root.children.setdefault(len(tokens), _Node())
        for tok in tokens[: self.depth]:
            key = WILDCARD if (WILDCARD in tok) else tok
            child = node.children.get(key)
            if child is None:
                if not create:
                    child = node.children.get(WILDCARD)
                    if child is None:
                        return None
                elif len(node.children) < self.max_children or key == WILDCARD:
                    child = node.children.setdefault(key, _Node())
                else:
                    child = node.children.setdefault(WILDCARD, _Node())
            node = child
        return node

    @staticmethod
    def _similarity(template: list[str], tokens: Sequence[str]) -> float:
        """Share of the line's constant tokens that the template has (or has as <*>)."""
        const = hits = 0
        for t, w in zip(template, tokens):
            if w.strip(",.;:") == WILDCARD:
                continue
            const += 1
            if t == w or t == WILDCARD:
                hits += 1
        if const == 0:
            return 1.0
        return hits / const

    def _best(self, leaf: _Node, tokens: Sequence[str]) -> Cluster | None:
        best, best_sim = None, -1.0
        for cid in leaf.clusters:
            c = self.clusters.get(cid)
            if c is None:
                continue
            sim = self._similarity(c.tokens, tokens)
            if sim > best_sim or (sim == best_sim and best is not None and c.size > best.size):
                best, best_sim = c, sim
        if best is not None and best_sim >= self.sim_threshold:
            return best
        return None

    def _evict(self) -> None:
        while len(self.clusters) > self.max_clusters:
            cid, c = self.clusters.popitem(last=False)
            leaf = self._leaf(c.tokens, create=False)
            if leaf is not None and cid in leaf.clusters:
                leaf.clusters.remove(cid)
            self._cache = {k: v for k, v in self._cache.items() if v != cid}

    def add_masked(self, masked: str, count: int = 1) -> int:
        """Assign one masked line (seen `count` times) to a cluster, creating or widening one."""
        cid = self._cache.get(masked)
        if cid is not None and cid in self.clusters:
            c = self.clusters[cid]
            c.size += count
            self.clusters.move_to_end(cid)
            return cid
        tokens, seps = _tokens_and_seps(masked)
        leaf = self._leaf(tokens, create=True)
        c = self._best(leaf, tokens)
        if c is None:
            c = Cluster(self.next_id, list(tokens), seps=seps)
            self.next_id += 1
            self.clusters[c.cluster_id] = c
            leaf.clusters.append(c.cluster_id)
            self._evict()
        else:
            c.tokens = [t if t == w else WILDCARD for t, w in zip(c.tokens, tokens)]
            self.clusters.move_to_end(c.cluster_id)
        c.size += count
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[masked] = c.cluster_id
        return c.cluster_id

    def match_masked(self, masked: str) -> int | None:
        """The cluster a masked line belongs to, without learning from it."""
        cid = self._cache.get(masked)
        if cid is not None and cid in self.clusters:
            return cid
        tokens, _ = _tokens_and_seps(masked)
        leaf = self._leaf(tokens, create=False)
        c = self._best(leaf, tokens) if leaf is not None else None
        return c.cluster_id if c else None

    def mask(self, messages: pl.Series) -> pl.Series:
        return pl.DataFrame({"m": messages}).select(mask_expr(pl.col("m"), self.mask_hosts, self.token_classes))["m"]

    def add_messages(self, messages: pl.Series | Iterable[str]) -> pl.Series:
        """Mine a batch of messages; returns the template id of each (Int64, in order)."""
        return self.add_messages_keyed(messages)[0]

    def add_messages_keyed(self, messages: pl.Series | Iterable[str]) -> tuple[pl.Series, np.ndarray, pl.Series]:
        """`add_messages`, plus each line's code into the batch's distinct digit-zeroed first lines (`digit_blind`).

        Why: the params of a line are cut at the spans its key gives (fieldkit.analysis.log_params.keyed_params),
        so keeping the codes and keys saves computing them again when the batch is written.
        """
        s = messages if isinstance(messages, pl.Series) else pl.Series("message", list(messages), pl.String)
        codes, masked = masked_keys(s, self.mask_hosts, self.token_classes, self.vary)
        # distinct masked lines by first appearance (keys are), so ids follow the log's order
        counts = masked.group_by("m", maintain_order=True).agg(pl.col("n").sum())
        ids = {m: self.add_masked(m, n) for m, n in zip(counts["m"], counts["n"])}
        per_key = masked["m"].replace_strict(ids, return_dtype=pl.Int64).to_numpy()
        return pl.Series("template_id", per_key[codes] if len(codes) else [], dtype=pl.Int64), codes, masked["k"]

    # --- the table ------------------------------------------------------------------------
    def table(self) -> pl.DataFrame:
        """The template table: template_id, template, count, known (from a baseline)."""
        cs = sorted(self.clusters.values(), key=lambda c: c.cluster_id)
        return pl.DataFrame({
            "template_id": [c.cluster_id for c in cs],
            "template": [c.template for c in cs],
            "count": [c.size for c in cs],
            "known": [c.known for c in cs],
        }, schema={"template_id": pl.Int64, "template": pl.String, "count": pl.Int64, "known": pl.Boolean})

    def save(self, path: str | Path, provenance: dict | None = None) -> Path:
        from fieldkit.store import write_frame

        return write_frame(self.table(), path, provenance)

    @classmethod
    def from_table(cls, table: pl.DataFrame, **kwargs) -> "TemplateMiner":
        """Seed a miner with saved templates; new lines are matched to them first."""
        miner = cls(**kwargs)
        for tid, template in table.select("template_id", "template").unique(maintain_order=True).iter_rows():
            tokens, seps = _tokens_and_seps(template)
            leaf = miner._leaf(tokens, create=True)
            miner.clusters[int(tid)] = Cluster(int(tid), tokens, 0, known=True, seps=seps)
            leaf.clusters.append(int(tid))
            miner.next_id = max(miner.next_id, int(tid) + 1)
        return miner

    @classmethod
    def load(cls, path: str | Path, **kwargs) -> "TemplateMiner":
        return cls.from_table(pl.read_parquet(path, columns=["template_id", "template"]), **kwargs)
