"""Hard-wrapped prose: the shape each shared set is read as, as written and wrapped at 60-100 columns, before and
after fieldkit.analysis.unwrap; then the unwrap thresholds left one set out at a time.

    python bench/cv_unwrap.py
"""

from __future__ import annotations

import collections
import itertools
import json
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_summarize as B  # noqa: E402

import fieldkit.analysis.unwrap as U  # noqa: E402
from fieldkit.analysis.summary_genre import detect_shape  # noqa: E402

WIDTHS = (60, 72, 80, 100)
GRID = list(itertools.product([0.6, 0.7, 0.8, 0.9], [0.15, 0.25, 0.35]))  # FILLED_SHARE, SLACK


def wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(p, width) if p.strip() else p for p in text.split("\n"))


def main() -> None:
    rows = json.loads((B.DATA / "summarization" / "dialogsum_test_500x3refs.json").read_text("utf-8"))
    refs: dict[str, list[str]] = collections.OrderedDict()
    for r in rows:
        refs.setdefault(r["dialogue"], []).append(r["summary"])
    articles = [json.loads(x) for x in (B.DATA / "summarization" / "cnndm_dev_100.jsonl").open(encoding="utf-8")]
    sets = B.genre_sets(list(refs.items()), articles)

    def share(cases, f=U.unwrap_document) -> float:
        return sum(detect_shape(f(t)).genre == g for t, g in cases) / len(cases)

    print("| set | shape | as written: before / after | " + " | ".join(f"wrapped at {w}" for w in WIDTHS) + " |")
    print("|---|---|---:|" + "---:|" * len(WIDTHS))
    cases = {}
    for name, (texts, genre) in sets.items():
        cases[name] = [(t, genre) for t in texts]
        cells = [f"{share(cases[name], lambda t: t):.2f} / {share(cases[name]):.2f}"]
        if genre in ("report", "dialogue"):
            cases[name + ", wrapped"] = [(wrap(t, w), genre) for t in texts for w in WIDTHS]
            for w in WIDTHS:
                c = [(wrap(t, w), genre) for t in texts]
                cells.append(f"{share(c, lambda t: t):.2f} -> {share(c):.2f}")
        print(f"| {name} | {genre} | " + " | ".join(cells) + " |")
    shipped = (U.FILLED_SHARE, U.SLACK)
    score = {}
    for g in GRID:
        U.FILLED_SHARE, U.SLACK = g
        for n, cs in cases.items():
            score[g, n] = share(cs)
    U.FILLED_SHARE, U.SLACK = shipped
    print(f"\n## Left one set out (grid {len(GRID)} points: filled share x slack; ties to the grid's middle)\n")
    print("| left-out set | picked on the others | left-out | shipped " + str(shipped) + " |")
    print("|---|---|---:|---:|")
    held = []
    for n in cases:
        others = [o for o in cases if o != n]
        best = max(GRID, key=lambda g: (round(sum(score[g, o] for o in others), 9), -abs(g[0] - 0.75) - abs(g[1] - 0.25)))
        held.append(score[best, n])
        print(f"| {n} | {best} | {score[best, n]:.3f} | {score[shipped, n]:.3f} |")
    print(f"\nleft-out mean {sum(held) / len(held):.4f}; shipped setting mean "
          f"{sum(score[shipped, n] for n in cases) / len(cases):.4f}")


if __name__ == "__main__":
    main()
