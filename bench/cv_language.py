"""Leave one labelled column out to choose language.MIN_CONFIDENCE (the language-choice rule).

For each candidate cut, an answer counts only when py3langid's normalised probability of its
language reaches the cut. The cut is chosen on five columns (least total error of the non-English
share) and scored on the sixth: its share and whether it gets the right model (share > 10% or not).

    python bench/cv_language.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fieldkit.analysis.language import NON_ENGLISH_SHARE
from fieldkit.io.dataset import load_dataset

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "kobo_water_survey.csv"
CUTS = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def column(path: Path, col: str, lang: str | None = None, lang_col: str | None = None,
           n: int = 2000) -> list[tuple[str, str]]:
    """(answer, true language) for up to n non-empty answers of one column."""
    df = load_dataset(path).frame.collect()
    rows = df.select([col] + ([lang_col] if lang_col else [])).drop_nulls(col).head(n)
    langs = rows[lang_col].to_list() if lang_col else [lang] * rows.height
    return list(zip(rows[col].to_list(), langs))


def main() -> None:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    r = DATA / "survey" / "rstudio_r_community_survey_2019_en.tsv"
    sets = {
        "R survey, like best": column(r, "What do you like best about using R?", "en"),
        "R survey, like least": column(r, "What do you like least about using R?", "en"),
        "Banking77": column(DATA / "coding" / "banking77_train.csv", "text", "en"),
        "Chinese shopping": column(DATA / "coding" / "online_shopping_9cats_zh.csv", "review", "zh"),
        "Chinese waimai": column(DATA / "nonlatin" / "waimai_reviews_600.csv", "review", "zh"),
        "sample survey (mixed)": column(SAMPLE, "feedback/comment", lang_col="feedback/language"),
    }
    told = {k: [(lang, *ident.classify(" ".join(str(t).split())[:1000])) for t, lang in v]
            for k, v in sets.items()}
    truth = {k: float(np.mean([lang != "en" for lang, _, _ in v])) for k, v in told.items()}

    def share(rows, cut):
        kept = [guess != "en" for _, guess, p in rows if p >= cut]
        return float(np.mean(kept)) if kept else 0.0

    print(f"{'left out':24} {'cut':>4} {'share':>6} {'truth':>6} right model")
    right = 0
    for k in told:
        others = [o for o in told if o != k]
        cut = min(CUTS, key=lambda c: (sum(abs(share(told[o], c) - truth[o]) for o in others), c))
        s = share(told[k], cut)
        ok = (s > NON_ENGLISH_SHARE) == (truth[k] > NON_ENGLISH_SHARE)
        right += ok
        print(f"{k:24} {cut:4.1f} {s:6.3f} {truth[k]:6.3f} {'yes' if ok else 'NO'}")
    print(f"right model on {right} of {len(told)} left-out columns")
    print("share at each cut (no cut = the old rule):",
          json.dumps({k: [round(share(v, c), 3) for c in CUTS] for k, v in told.items()}))


if __name__ == "__main__":
    main()
