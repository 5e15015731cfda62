"""Several codes per answer: the score a further code needs, chosen on the analyst's own codes.

With one yes/no model per code, 0.5 is the textbook cut; but a few dozen coded answers give
sigmoids whose second-best "yes" sits well below it (the evidence for a second topic is
thinner than for the first). The cut is therefore picked from the out-of-fold predictions of
the coded answers: of the cuts whose share of answers with exactly their codes is within one
standard error of the best (the one-standard-error rule: a few dozen answers make that share
noisy, and analysts code two-topic answers more often than they occur), the one closest to
0.5; 0.5 stays when nothing was held out.
"""

from __future__ import annotations

import numpy as np

DEFAULT = 0.5
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def code_sets(proba: np.ndarray, threshold: float, max_codes: int) -> np.ndarray:
    """(n, L) booleans: each row's best code, and up to max_codes - 1 more scoring >= threshold."""
    n, n_labels = proba.shape
    keep = np.zeros((n, n_labels), dtype=bool)
    if n == 0:
        return keep
    order = np.argsort(-proba, axis=1)[:, :max_codes]
    top = np.take_along_axis(proba, order, axis=1)
    chosen = top >= threshold
    chosen[:, 0] = True
    rows = np.repeat(np.arange(n), order.shape[1])
    keep[rows, order.ravel()] = chosen.ravel()
    return keep


def pick_threshold(proba: np.ndarray, truth: np.ndarray, max_codes: int) -> tuple[float, dict[str, float]]:
    """The cut nearest 0.5 among those within one standard error of the most exact answers."""
    if len(proba) == 0:
        return DEFAULT, {}
    truth = truth.astype(bool)
    exact = {t: float(np.mean((code_sets(proba, t, max_codes) == truth).all(axis=1)))
             for t in THRESHOLDS}
    best = max(exact.values())
    se = float(np.sqrt(best * (1.0 - best) / len(proba)))
    pick = min((t for t, a in exact.items() if a >= best - se - 1e-12),
               key=lambda t: (abs(t - DEFAULT), t))
    return pick, {str(t): round(a, 4) for t, a in exact.items()}
