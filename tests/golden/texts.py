"""Real texts behind the golden vectors: rows of the shared data sets, read the same way here and
in bench/make_golden.py (the texts stay in ../shared/data; only their row numbers and hashes and
the reference vectors are committed)."""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import re
from pathlib import Path

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
GOLDEN = Path(__file__).resolve().parent / "minilm_reference.npz"


def survey() -> list[str]:
    csv.field_size_limit(1 << 30)
    with open(DATA / "survey" / "rstudio_r_community_survey_2019_en.tsv", newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        head = next(rows)
        cols = [i for i, h in enumerate(head) if "like best" in h.lower() or "like least" in h.lower()]
        data = list(rows)
    return [r[c] for c in cols for r in data if len(r) > c and r[c].strip()]


def banking() -> list[str]:
    import polars as pl

    return pl.read_csv(DATA / "coding" / "banking77_train.csv")["text"].to_list()


def dialog() -> list[str]:
    """Distinct turns of the DialogSum dialogues (short informal speech: 'Thanks.', 'Right.')."""
    records = json.loads((DATA / "summarization" / "dialogsum_test_500x3refs.json").read_text("utf-8"))
    seen: dict[str, None] = {}
    for r in records[::3]:
        for line in r["dialogue"].split("\n"):
            t = line.split(":", 1)[-1].strip()
            if t:
                seen.setdefault(t, None)
    return list(seen)


def chinese() -> list[str]:
    import polars as pl

    return (pl.read_csv(DATA / "nonlatin" / "waimai_reviews_600.csv")["review"].to_list()
            + pl.read_csv(DATA / "coding" / "online_shopping_9cats_zh.csv")["review"].to_list())


def logs() -> list[str]:
    import polars as pl

    out: list[str] = []
    for p in sorted(glob.glob(str(DATA / "logs" / "*_structured.csv"))):
        out += pl.read_csv(p, infer_schema=False)["Content"].to_list()[:300]
    return out


def arabic() -> list[str]:
    from fieldkit.io import load_dataset

    frame = load_dataset(str(DATA / "survey" / "reach_irq_talafar_water_raw.xlsx")).frame
    frame = frame.collect() if hasattr(frame, "collect") else frame
    out: list[str] = []
    for c in frame.columns:
        if frame[c].dtype.is_(__import__("polars").String):
            out += [v for v in frame[c].drop_nulls().unique(maintain_order=True).to_list()
                    if re.search("[\u0600-\u06ff]", v)]
    return out


SETS = {"survey": survey, "banking77": banking, "dialog": dialog, "zh": chinese, "logs": logs,
        "arabic": arabic}


def text_hash(t: str) -> str:
    return hashlib.sha1(t.encode("utf-8")).hexdigest()[:12]
