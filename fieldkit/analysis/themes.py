"""Themes in free-text answers: cluster embeddings, name clusters by keywords, keep outliers apart.

Why this shape: k-means on L2-normalised sentence embeddings (MiniBatchKMeans past a few
thousand rows) fits on a bounded sample and assigns every row in chunks, so 100k answers
take seconds after embedding and memory stays bounded; the number of themes is chosen by
the silhouette over a sensible range unless the user forces `k`. Empty or near-empty
answers and answers far from every theme (below the Tukey lower fence of their theme's
similarities) go to an "other" theme rather than being forced into one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from fieldkit.analysis.keywords import class_tfidf, distinct_labels
from fieldkit.errors import UsageError
from fieldkit.progress import Reporter

OTHER_ID = -1
OTHER_LABEL = "other"
K_RANGE = (3, 10)  # automatic theme count: a handful a person can read
FIT_SAMPLE = 20_000  # rows used to fit centroids; the rest are assigned
SILHOUETTE_SAMPLE = 3_000
ASSIGN_CHUNK = 8_192
MIN_CHARS = 2  # letters/digits; shorter answers ("-", "x") are "other"


@dataclass
class Theme:
    """One theme: id, label, size, share of the rows, keywords, representative answers."""

    id: int
    label: str
    size: int
    share: float
    keywords: list[str]
    examples: list[str]
    generated_label: bool = False


@dataclass
class ThemeModel:
    """What assigning a row needs: the k centres, each one's outlier fence and theme id.

    Kept so other rows (the rest of a large dataset, on the Ray engine's workers) are
    assigned by exactly the rule the fit used (`assign_themes`).
    """

    centres: np.ndarray  # (k, dim) unit float32, in k-means order
    fences: np.ndarray  # (k,) float64: rows below their centre's fence are "other" (-inf: none)
    ids: np.ndarray  # (k,) int64: theme id of each centre (OTHER_ID when it kept no rows)


@dataclass
class ThemesResult:
    """Per-row assignment plus the theme table (themes sorted by size, "other" last)."""

    themes: list[Theme]
    theme_id: np.ndarray  # (n,) int64, OTHER_ID for "other"
    theme_score: np.ndarray  # (n,) float32 cosine to the theme centre, NaN for empty rows
    k: int
    chosen_by: str  # "silhouette" or "forced"
    silhouette: dict[int, float] = field(default_factory=dict)
    model: ThemeModel | None = None  # None when there was nothing to cluster

    @property
    def labels_by_id(self) -> dict[int, str]:
        return {t.id: t.label for t in self.themes}

    def row_labels(self) -> list[str]:
        names = self.labels_by_id
        return [names.get(int(i), OTHER_LABEL) for i in self.theme_id]

    def table(self):
        """The theme table as a Polars frame (id, label, size, share, keywords, examples)."""
        import polars as pl

        return pl.DataFrame(
            {
                "theme_id": [t.id for t in self.themes],
                "theme_label": [t.label for t in self.themes],
                "size": [t.size for t in self.themes],
                "share": [t.share for t in self.themes],
                "keywords": [", ".join(t.keywords) for t in self.themes],
                "examples": [" | ".join(t.examples) for t in self.themes],
            }
        )

    def breakdown(self, groups: Sequence) -> "pl.DataFrame":  # noqa: F821
        """Share of each theme among each group's answers (empty answers left out)."""
        import polars as pl

        df = pl.DataFrame({"group": pl.Series(list(groups)).cast(pl.String).fill_null("(missing)"),
                           "theme": self.row_labels(),
                           "answered": ~np.isnan(self.theme_score)}).filter(pl.col("answered"))
        counts = df.group_by("group", "theme").len()
        totals = df.group_by("group").len().rename({"len": "n"})
        shares = counts.join(totals, on="group").with_columns(share=pl.col("len") / pl.col("n"))
        order = [t.label for t in self.themes]
        wide = shares.pivot(on="theme", index=["group", "n"], values="share")
        cols = [c for c in order if c in wide.columns]
        return (wide.select("group", "n", *[pl.col(c).fill_null(0.0) for c in cols])
                .sort("n", "group", descending=[True, False]))


def _normalised_len(text: str | None) -> int:
    if not text:
        return 0
    return len(re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text)))


def _fit_kmeans(vectors: np.ndarray, n_clusters: int, seed: int):
    """k-means on one thread: OpenMP's spinning threads ran 10-40x slower on a busy 2-core
    machine (measured 0.07 s vs 2.7 s for 1,450 answers, k=8), and the fit is small anyway."""
    from threadpoolctl import threadpool_limits

    import warnings

    with threadpool_limits(1), warnings.catch_warnings():
        # fewer distinct points than clusters is handled by the caller (k is capped)
        warnings.simplefilter("ignore")
        return _kmeans(n_clusters, len(vectors), seed).fit(vectors)


def _kmeans(n_clusters: int, n_rows: int, seed: int):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if n_rows > 5_000:
        return MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, batch_size=2048,
                               n_init=3, max_no_improvement=20)
    return KMeans(n_clusters=n_clusters, random_state=seed, n_init=4)


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def choose_k(vectors: np.ndarray, k_range: tuple[int, int], seed: int, reporter: Reporter
             ) -> tuple[int, dict[int, float], dict[int, np.ndarray]]:
    """The k with the best silhouette (cosine) on a sample; also returns each fit's centres."""
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    n = len(vectors)
    lo, hi = k_range
    hi = max(2, min(hi, n // 5))
    lo = max(2, min(lo, hi))
    sample = vectors if n <= SILHOUETTE_SAMPLE else vectors[rng.choice(n, SILHOUETTE_SAMPLE, replace=False)]
    scores: dict[int, float] = {}
    centres: dict[int, np.ndarray] = {}
    step = reporter.child("choose theme count", hi - lo + 1)
    for i, k in enumerate(range(lo, hi + 1)):
        step.check()
        km = _fit_kmeans(vectors, k, seed)
        centres[k] = _unit(km.cluster_centers_.astype(np.float32))
        labels = np.argmax(sample @ centres[k].T, axis=1)
        if len(set(labels.tolist())) < 2:
            scores[k] = -1.0
        else:
            scores[k] = float(silhouette_score(sample, labels, metric="cosine", random_state=seed))
        step.update(i + 1, f"k={k} silhouette={scores[k]:.3f}")
    best = max(scores, key=lambda k: (round(scores[k], 3), -k))
    return best, scores, centres


def find_themes(
    texts: Sequence[str | None],
    embeddings: np.ndarray,
    k: int | None = None,
    reporter: Reporter | None = None,
    *,
    k_range: tuple[int, int] = K_RANGE,
    seed: int = 0,
    n_keywords: int = 8,
    n_examples: int = 3,
) -> ThemesResult:
    """Cluster `embeddings` (aligned with `texts`) into themes with keywords and examples."""
    reporter = reporter or Reporter("themes")
    n = len(texts)
    if len(embeddings) != n:
        raise ValueError(f"{len(embeddings)} embeddings for {n} texts")
    emb = np.asarray(embeddings, dtype=np.float32)
    valid = _valid_rows(texts, emb)
    idx = np.flatnonzero(valid)
    if k is not None and k < 1:
        raise UsageError("--k must be at least 1", "for example --k 6, or leave it out to choose automatically")
    theme_id = np.full(n, OTHER_ID, dtype=np.int64)
    score = np.full(n, np.nan, dtype=np.float32)
    if len(idx) < 2:
        return ThemesResult([_other_theme(texts, theme_id, n)], theme_id, score, 0, "none")

    rng = np.random.default_rng(seed)
    fit_idx = idx if len(idx) <= FIT_SAMPLE else np.sort(rng.choice(idx, FIT_SAMPLE, replace=False))
    fit_vecs = _unit(emb[fit_idx])
    silhouette: dict[int, float] = {}
    if k is None:
        k, silhouette, centres_by_k = choose_k(fit_vecs, k_range, seed, reporter)
        centres = centres_by_k[k]
        chosen_by = "silhouette"
    else:
        asked = k
        # k-means cannot make more clusters than there are distinct answers
        k = min(k, len(idx), len(np.unique(fit_vecs.round(5), axis=0)))
        reporter.check()
        centres = _unit(_fit_kmeans(fit_vecs, k, seed).cluster_centers_.astype(np.float32))
        chosen_by = "forced" if k == asked else f"--k {asked} capped at {k} distinct answers"

    # Assign every row to its nearest centre, in chunks (bounded memory for any n).
    raw, score = _nearest(emb, centres, reporter.child("assign themes", n))
    score[~valid] = np.nan

    # Outliers: below the Tukey lower fence (Q1 - 1.5 IQR) of their own theme's similarities.
    fences = np.full(k, -np.inf, dtype=np.float64)
    for c in range(k):
        m = valid & (raw == c)
        if m.sum() >= 8:
            q1, q3 = np.percentile(score[m], [25, 75])
            fences[c] = q1 - 1.5 * (q3 - q1)
    members_ok = valid & (score >= fences[raw])

    # Number themes 1..k by size.
    sizes = np.bincount(raw[members_ok], minlength=k)
    order = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] > 0]
    new_id = {int(c): i + 1 for i, c in enumerate(order)}
    ids = np.full(k, OTHER_ID, dtype=np.int64)
    for c, i in new_id.items():
        ids[c] = i
    model = ThemeModel(centres, fences, ids)
    theme_id[members_ok] = ids[raw[members_ok]]

    reporter.check()
    member_texts = [texts[i] or "" for i in np.flatnonzero(members_ok)]
    member_ids = theme_id[members_ok].tolist()
    kw = class_tfidf(member_texts, member_ids, top_n=n_keywords) if member_texts else {}
    themes: list[Theme] = []
    labels = distinct_labels([[w for w, _ in kw.get(i, [])] for i in new_id.values()])
    for (c, i), label in zip(new_id.items(), labels):
        rows = np.flatnonzero(theme_id == i)
        best = rows[np.argsort(-score[rows], kind="stable")]
        examples: list[str] = []
        seen: set[str] = set()
        for r in best:
            key = re.sub(r"[\W_]+", " ", (texts[r] or "").casefold()).strip()
            if key and key not in seen:
                seen.add(key)
                examples.append(str(texts[r]).strip())
            if len(examples) == n_examples:
                break
        words = [w for w, _ in kw.get(i, [])]
        themes.append(Theme(i, label, len(rows), len(rows) / n, words, examples))
    themes.append(_other_theme(texts, theme_id, n))
    return ThemesResult(themes, theme_id, score, k, chosen_by, silhouette, model)


def _valid_rows(texts: Sequence[str | None], emb: np.ndarray) -> np.ndarray:
    """Rows with an answer to cluster: enough letters/digits and a non-zero vector."""
    lengths = np.array([_normalised_len(t) for t in texts])
    return (lengths >= MIN_CHARS) & (np.linalg.norm(emb, axis=1) > 1e-6)


def _nearest(emb: np.ndarray, centres: np.ndarray, reporter: Reporter | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(nearest centre, cosine to it) per row, in chunks of ASSIGN_CHUNK rows."""
    n = len(emb)
    raw = np.full(n, -1, dtype=np.int64)
    score = np.full(n, np.nan, dtype=np.float32)
    for s in range(0, n, ASSIGN_CHUNK):
        block = emb[s : s + ASSIGN_CHUNK]
        sims = _unit(block) @ centres.T
        raw[s : s + ASSIGN_CHUNK] = np.argmax(sims, axis=1)
        score[s : s + ASSIGN_CHUNK] = sims[np.arange(len(block)), raw[s : s + ASSIGN_CHUNK]]
        if reporter is not None:
            reporter.update(min(n, s + ASSIGN_CHUNK))
    return raw, score


def assign_themes(texts: Sequence[str | None], embeddings: np.ndarray, model: ThemeModel
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(theme_id, theme_score) of rows not seen by the fit, by the fit's own rule (nearest
    centre, "other" below its fence or when empty; score NaN for empty rows)."""
    emb = np.asarray(embeddings, dtype=np.float32)
    valid = _valid_rows(texts, emb)
    raw, score = _nearest(emb, model.centres)
    score[~valid] = np.nan
    ok = valid & (score >= model.fences[raw])
    theme_id = np.where(ok, model.ids[raw], OTHER_ID).astype(np.int64)
    return theme_id, score


def _other_theme(texts, theme_id: np.ndarray, n: int) -> Theme:
    rows = np.flatnonzero(theme_id == OTHER_ID)
    examples = [str(texts[r]).strip() for r in rows if texts[r] and str(texts[r]).strip()][:3]
    return Theme(OTHER_ID, OTHER_LABEL, len(rows), len(rows) / max(n, 1), [], examples)


def label_with_generator(result: ThemesResult, generator, reporter: Reporter | None = None) -> None:
    """Replace keyword labels by a short generated name when the model gives a usable one."""
    reporter = reporter or Reporter("name themes")
    for t in result.themes:
        if t.id == OTHER_ID or not t.examples:
            continue
        reporter.check()
        prompt = ("Give a short name (2 to 5 words) for the topic shared by these survey answers. "
                  "Answer with the name only.\n\nKeywords: " + ", ".join(t.keywords[:6]) + "\n"
                  + "\n".join(f"- {e[:200]}" for e in t.examples))
        out = generator.chat([{"role": "user", "content": prompt}], max_new_tokens=16,
                             temperature=0.0, cancel=reporter.cancel)
        name = out.replace("<|im_end|>", "").strip().splitlines()[0].strip(" .\"'*:") if out.strip() else ""
        name = re.sub(r"^(the )?(answer|name|topic)( is)?\s*:?\s*", "", name, flags=re.I)
        name = name.strip(" .\"'*:“”")
        if 1 <= len(name.split()) <= 6 and len(name) <= 60:
            t.label = name
            t.generated_label = True
