"""Choose the robust-z thresholds of `fieldkit check` by leave-one-dataset-out over the shared surveys.

For each threshold on a grid, the share of untouched submissions (duration) or answers
(numeric outliers) flagged is measured on every shared survey, and the recall of planted
defects (a duration cut to a quarter or stretched four-fold; a number multiplied by ten). The
rule: the smallest z whose false-alarm share on the training survey(s) stays within the
budget; the figures printed for the left-out survey are the honest ones.

    python bench/cv_check_thresholds.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldkit.analysis.checks import build_context  # noqa: E402
from fieldkit.analysis.checks_config import load_config  # noqa: E402
from fieldkit.analysis.checks_rules import MAD_SCALE, MEANAD_SCALE  # noqa: E402
from fieldkit.io import load_dataset  # noqa: E402
from fieldkit.io.xlsform import read_form  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "survey"
SETS = {"irq": ("reach_irq_talafar_water_raw.xlsx", "reach_irq_talafar_water_xlsform.xlsx"),
        "bgd": ("reach_bgd_hfc_sample_dataset.csv", None)}
GRID = [2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 10.0]
BUDGET = {"duration": 0.05, "outliers": 0.02}  # false-alarm share allowed on the training set


def robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    if mad > 0:
        return MAD_SCALE * (x - med) / mad
    mean = np.mean(np.abs(x - med))
    return MEANAD_SCALE * (x - med) / mean if mean > 0 else np.zeros_like(x)


def double_z(x: np.ndarray) -> np.ndarray:
    """Robust z with the MAD of each side of the median (skewed durations: long tail, short head)."""
    med = np.median(x)
    dev = np.abs(x - med)
    lo, hi = np.median(dev[x <= med]), np.median(dev[x >= med])
    scale = np.where(x < med, lo, hi)
    return np.where(scale > 0, MAD_SCALE * (x - med) / np.where(scale > 0, scale, 1), 0.0)


def samples(name: str, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per kind: (|z| of untouched values, |z| of planted values) on one survey."""
    data, form = SETS[name]
    ds = load_dataset(DATA / data)
    ctx = build_context(ds.frame, load_config(), ds.survey, read_form(DATA / form) if form else None)
    df = ctx.lf.collect()
    out = {}
    minutes = ((df[ctx.end] - df[ctx.start]).dt.total_milliseconds() / 60000.0).to_numpy()
    minutes = minutes[minutes >= load_config()["duration"]["min_minutes"]]  # shorter: the absolute rule
    logm = np.log(minutes)
    clean = np.abs(double_z(logm))
    planted = []
    for factor in (0.25, 4.0):
        for i in rng.choice(len(minutes), 20, replace=False):
            x = logm.copy()
            x[i] = np.log(minutes[i] * factor)
            planted.append(abs(double_z(x)[i]))
    out["duration"] = (clean, np.array(planted))
    clean_z, planted_z = [], []
    for c in ctx.numeric_columns:
        v = df[c].cast(pl.Float64, strict=False).drop_nulls().to_numpy()
        if len(v) < 10:
            continue
        t = np.log1p(v) if v.min() >= 0 else v
        clean_z.append(np.abs(robust_z(t)))
        for i in rng.choice(len(v), min(3, len(v)), replace=False):
            w = v.copy()
            w[i] = w[i] * 10 if w[i] != 0 else 10 * max(1.0, np.median(v))
            tw = np.log1p(w) if w.min() >= 0 else w
            planted_z.append(abs(robust_z(tw)[i]))
    out["outliers"] = (np.concatenate(clean_z), np.array(planted_z))
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    per = {n: samples(n, rng) for n in SETS}
    for kind in ("duration", "outliers"):
        both = [z for z in GRID if all((per[n][kind][0] > z).mean() <= BUDGET[kind] for n in SETS)]
        print(f"\n{kind}: share flagged on untouched data / recall of planted defects, by z")
        print("z      " + "  ".join(f"{n}: flagged  recall" for n in SETS))
        for z in GRID:
            print(f"{z:<6} " + "  ".join(f"{(per[n][kind][0] > z).mean():>12.2%} "
                                         f"{(per[n][kind][1] > z).mean():>7.1%}" for n in SETS))
        for left in SETS:
            train = [n for n in SETS if n != left]
            ok = [z for z in GRID if all((per[n][kind][0] > z).mean() <= BUDGET[kind] for n in train)]
            z = ok[0] if ok else GRID[-1]
            clean, planted = per[left][kind]
            print(f"  leave out {left}: z chosen on {'+'.join(train)} = {z}; on {left}: "
                  f"{(clean > z).mean():.2%} of untouched flagged, {(planted > z).mean():.1%} "
                  f"of planted found")
        print(f"  default (chosen on all sets): z = {both[0] if both else GRID[-1]}")


if __name__ == "__main__":
    main()
