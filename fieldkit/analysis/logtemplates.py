"""Log template mining: mask the unambiguous variables with Polars, group with a Drain-style tree,
then let token statistics decide the rest.

Why not just drain3: masking first (IPs, UUIDs, hex ids, paths, URLs, numbers glued to units,
and any token holding a digit) makes most lines of one event identical strings, so a batch is
deduplicated in Polars and only its distinct masked lines go through the Python tree; the
similarity counts only a line's constant tokens, which keeps short, different events apart.
What masks cannot know is learnt from the file: a position whose value differs between lines
of one group is a parameter (the Drain merge), and templates that are the same except at one
position holding many different words (user names, program or host names) are one event with
a parameter there (`merge_values`). Every threshold is chosen by leave-one-system-out over the
shared loghub sets (bench/bench_logs.py), not fitted to one.

Templates keep the message's own spacing, so each line's `params` (the strings that fill the
`<*>` in order) put back into its template give the message's first line exactly.
"""

from __future__ import annotations

import re
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import polars as pl

WILDCARD = "<*>"

# Ordered masking rules (Rust regex, no look-around). Each replaces a variable with <*>.
_DELIMS = r"""\s=:,;()\[\]{}<>"'|"""
MASKS: tuple[tuple[str, str], ...] = (
    ("url", r"[A-Za-z][\w+.-]*://\S+"),
    ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("path", r"(?:[\w.~-]+)?(?:/[\w.~$@+-]+){2,}/?"),
    ("winpath", r"\b[A-Za-z]:\\[^\s\"'<>|]*"),
    ("ip_port", r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),
    ("mac", r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\b"),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b"),
    ("size_or_duration", r"\b\d+(?:\.\d+)?\s?(?:[KMGT]i?B|B|bytes|ms|us|ns|sec|secs|seconds|s|min|mins|h)\b"),
    ("boolean", r"\b(?:true|false|True|False|null|None)\b"),
    # anything else holding a digit: ids, numbers, host-7, core.2275, 0:0:0:0 pieces ...
    ("has_digit", rf"[^{_DELIMS}]*\d[^{_DELIMS}]*"),
)
# Host names (two dots or more, a short last label): a rule the cross-validation may switch on.
HOST_MASK = ("host", r"\b[A-Za-z][\w-]*(?:\.[\w-]+)+\.[A-Za-z]{2,4}\b")
_RUN = r"<\*>(?:[\s,]+<\*>)+"
MERGE_MIN_CONSTANTS = 3


def mask_expr(text: pl.Expr, hosts: bool = False) -> pl.Expr:
    """A Polars expression that replaces every unambiguous variable in `text` with <*>.

    The first line only (templates describe an entry's first line) and the message's own
    spacing is kept, so the template fits the message character for character.
    """
    out = text.str.split("\n").list.first().fill_null("")
    out = out.str.replace_all(r"(\.{3,})\d+", "$1" + WILDCARD)  # dot leaders: `depth.......0`
    rules = MASKS if not hosts else MASKS[:4] + (HOST_MASK,) + MASKS[4:]
    for _, pattern in rules:
        out = out.str.replace_all(pattern, WILDCARD)
    # a run of variables is one variable: lists of ids or numbers vary in length
    return out.str.replace_all(_RUN, WILDCARD)


_SPLIT = re.compile(r"(\s+)")


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

    Ids returned while mining may later be merged (`merge_values`); `resolve` maps them to the
    final ids, and `table()` lists the final templates.
    """

    def __init__(self, sim_threshold: float = 0.8, depth: int = 2, max_children: int = 100,
                 max_clusters: int = 50_000, cache_size: int = 200_000, merge_values: int = 0,
                 mask_hosts: bool = False):
        # `fieldkit logs` uses analysis.logs.MINER_SETTINGS (the leave-one-system-out choice)
        self.sim_threshold = sim_threshold
        self.depth = depth  # prefix tokens used to route after the token count
        self.max_children = max_children
        self.max_clusters = max_clusters
        self.cache_size = cache_size
        self.merge_values = merge_values  # 0: off; else distinct words at one position that make it a parameter
        self.mask_hosts = mask_hosts
        self.clusters: OrderedDict[int, Cluster] = OrderedDict()  # LRU order
        self.root = _Node()
        self.next_id = 1
        self._cache: dict[str, int] = {}
        self._alias: dict[int, int] = {}
        self._merged = True

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
        self._merged = False
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
        return pl.DataFrame({"m": messages}).select(mask_expr(pl.col("m"), self.mask_hosts))["m"]

    def add_messages(self, messages: pl.Series | Iterable[str]) -> pl.Series:
        """Mine a batch of messages; returns the template id of each (Int64, in order, resolved)."""
        s = messages if isinstance(messages, pl.Series) else pl.Series("message", list(messages), pl.String)
        masked = self.mask(s)
        # distinct lines by first appearance, so ids follow the log's order
        counts = (pl.DataFrame({"m": masked}).group_by("m", maintain_order=True).len())
        ids = {m: self.add_masked(m, n) for m, n in zip(counts["m"], counts["len"])}
        raw = masked.replace_strict(ids, return_dtype=pl.Int64).rename("template_id")
        return self.resolve(raw)

    # --- statistics across templates --------------------------------------------------------
    def _merge(self) -> None:
        """Templates equal except at one position that holds >= merge_values different words: one event."""
        self._merged = True
        if self.merge_values <= 1:
            return
        changed = True
        while changed:
            changed = False
            live = [c for c in self.clusters.values()]
            groups: dict[tuple, list[Cluster]] = defaultdict(list)
            for c in live:
                for p in range(len(c.tokens)):
                    groups[(len(c.tokens), p, tuple(c.tokens[:p]), tuple(c.tokens[p + 1:]))].append(c)
            for (n, p, pre, post), members in groups.items():
                alive = [c for c in members if c.cluster_id in self.clusters and len(c.tokens) == n
                         and tuple(c.tokens[:p]) == pre and tuple(c.tokens[p + 1:]) == post]
                words = {c.tokens[p] for c in alive if c.tokens[p] != WILDCARD}
                opened = [c for c in alive if c.tokens[p] == WILDCARD]
                if len(alive) < 2 or (not opened and len(words) < self.merge_values):
                    continue
                if sum(t != WILDCARD for t in pre + post) < MERGE_MIN_CONSTANTS:
                    continue  # too little left in common to call them one event
                keep = min(opened or alive, key=lambda c: c.cluster_id)
                keep.tokens = list(keep.tokens)
                keep.tokens[p] = WILDCARD
                for c in alive:
                    if c is keep:
                        continue
                    keep.size += c.size
                    self._alias[c.cluster_id] = keep.cluster_id
                    del self.clusters[c.cluster_id]
                    leaf = self._leaf(c.tokens, create=False)
                    if leaf is not None and c.cluster_id in leaf.clusters:
                        leaf.clusters.remove(c.cluster_id)
                changed = True
            if changed:
                self._cache = {k: self._final(v) for k, v in self._cache.items()}

    def _final(self, cid: int) -> int:
        while cid in self._alias:
            cid = self._alias[cid]
        return cid

    def resolve(self, ids: pl.Series) -> pl.Series:
        """Map ids handed out earlier to the final templates (after the cross-template merge)."""
        if not self._merged:
            self._merge()
        if not self._alias:
            return ids
        keys = list(self._alias)
        return ids.replace(keys, [self._final(k) for k in keys])

    def resolve_expr(self, column: str = "template_id") -> pl.Expr:
        """`resolve` as a Polars expression (for lazy frames of ids written while mining)."""
        if not self._merged:
            self._merge()
        keys = list(self._alias)
        return pl.col(column).replace(keys, [self._final(k) for k in keys]) if keys else pl.col(column)

    # --- the table ------------------------------------------------------------------------
    def table(self) -> pl.DataFrame:
        """The template table: template_id, template, count, known (from a baseline)."""
        if not self._merged:
            self._merge()
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
