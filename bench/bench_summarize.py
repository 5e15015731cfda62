"""Summaries of CNN/DailyMail articles: ROUGE-1/2/L of each mode beside Lead-3, same run.

Run:  python bench/bench_summarize.py [--n 100] [--n-generate 20] [--show 10]

Rows: Lead-3 (first three sentences, same splitter), centroid-only (the embedding-only
alternative), fieldkit extractive (= auto), and, when the generator is prepared,
abstractive and hybrid on the first --n-generate articles (with Lead-3 and extractive on
that same subset). References are PTB-tokenised; both sides are normalised
(fieldkit.analysis.rouge). Weights were tuned on articles 0-49: rows for 0-49 and the
held-out 50-99 are printed too. Then --show summaries are written beside their articles
(/tmp/fieldkit_summaries.md) for reading, with a check that every extractive sentence is
verbatim in its article and, for generated text, the numbers and names that are not.
The machine is shared with other engineers: seconds per article are noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CNNDM = ROOT.parent / "shared" / "data" / "summarization" / "cnndm_dev_100.jsonl"


def unsupported_tokens(summary: str, article: str) -> list[str]:
    """Numbers and capitalised words of the summary that never occur in the article."""
    text = article.lower()
    toks = re.findall(r"\b(?:\d[\d,.]*|[A-Z][a-zA-Z'-]{2,})\b", summary)
    skip = {"The", "This", "That", "They", "There", "These", "His", "Her", "She", "And", "But",
            "In", "On", "At", "It", "Its", "He", "A", "An", "After", "When", "While", "With"}
    return sorted({t for t in toks if t not in skip and t.lower().rstrip(".,") not in text})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--n-generate", type=int, default=10)
    ap.add_argument("--hybrid-window", type=int, default=768,
                    help="context cap for the hybrid row, so articles need map-reduce (they all "
                         "fit the model's full window, where hybrid = abstractive)")
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--out", default="/tmp/fieldkit_summaries.md")
    args = ap.parse_args()

    from fieldkit.analysis import summarize as S
    from fieldkit.analysis.rouge import mean_rouge
    from fieldkit.analysis.sentences import split_sentences
    from fieldkit.inference.embedder import get_embedder

    rows = [json.loads(line) for line in CNNDM.open(encoding="utf-8")][: args.n]
    emb = get_embedder()
    emb.embed_all(["warm up"])
    results: dict[str, list[tuple[str, str]]] = {}
    seconds: dict[str, float] = {}

    def run(name, fn, subset):
        t0 = time.perf_counter()
        results[name] = [(fn(r), r["reference"]) for r in subset]
        seconds[name] = (time.perf_counter() - t0) / max(1, len(subset))

    def lead3(r):
        return " ".join(split_sentences(r["article"])[:3])

    def centroid(r):
        sents = split_sentences(r["article"])
        v = emb.embed_all(sents)
        picked = S.rank_sentences(v, [len(s.split()) for s in sents], 3, position_weight=0.0)
        return " ".join(sents[i] for i in picked)

    def extractive(r):
        return S.summarize_texts([r["article"]], mode="auto", embedder=emb).text

    run("Lead-3", lead3, rows)
    run("centroid only (no position)", centroid, rows)
    run(f"fieldkit extractive (auto = {S.AUTO_MODE})", extractive, rows)

    print(f"### CNN/DailyMail, {len(rows)} articles (ROUGE F1 x100, rouge-score with stemming; "
          "Lsum over sentences)")
    print("| method | articles | ROUGE-1 | ROUGE-2 | ROUGE-L | s/article | R-1 vs Lead-3 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    lead = mean_rouge(results["Lead-3"])

    def line(name, pairs, span, base):
        r = mean_rouge(pairs)
        print(f"| {name} | {span} | {100 * r.rouge1:.2f} | {100 * r.rouge2:.2f} | {100 * r.rougeL:.2f} "
              f"| {seconds.get(name, float('nan')):.3f} | {r.rouge1 / base.rouge1:.3f}x |")

    for name, pairs in results.items():
        line(name, pairs, f"0-{len(rows) - 1}", lead)
    if len(rows) == 100:
        for lo, hi, tag in ((0, 50, "0-49 (tuned on)"), (50, 100, "50-99 (held out)")):
            base = mean_rouge(results["Lead-3"][lo:hi])
            for name, pairs in results.items():
                line(name, pairs[lo:hi], tag, base)

    # ---- generator modes
    from fieldkit.errors import ModelError

    generated: dict[str, list[str]] = {}
    try:
        gen = S._load_generator()
    except ModelError as e:
        gen = None
        print(f"\nabstractive and hybrid: skipped ({e.message}; prepare it with `{e.hint}`)")
    if gen is not None:
        sub = rows[: args.n_generate]
        longest = max(gen.count_tokens(r["article"]) for r in rows)
        print(f"\nlongest article: {longest} tokens; the model's window: {gen.n_ctx}")

        class SmallWindow:
            """The same generator, told its window is smaller, to force map-reduce."""

            def __init__(self, inner, n_ctx):
                self._inner, self.n_ctx = inner, n_ctx

            def __getattr__(self, name):
                return getattr(self._inner, name)

        hybrid = f"hybrid (window capped at {args.hybrid_window})"
        for name, mode, g in (("abstractive", "abstractive", gen),
                              (hybrid, "hybrid", SmallWindow(gen, args.hybrid_window))):
            t0 = time.perf_counter()
            outs = []
            for r in sub:
                s = S.summarize_texts([r["article"]], mode=mode, generator=g)
                outs.append(s.text)
            seconds[name] = (time.perf_counter() - t0) / len(sub)
            results[name] = list(zip(outs, (r["reference"] for r in sub)))
            generated[name] = outs
        base = mean_rouge(results["Lead-3"][: len(sub)])
        print(f"\n### generator modes ({gen.model_id}, n_ctx {gen.n_ctx}) on articles 0-{len(sub) - 1}")
        print("| method | articles | ROUGE-1 | ROUGE-2 | ROUGE-L | s/article | R-1 vs Lead-3 |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for name in ("Lead-3", f"fieldkit extractive (auto = {S.AUTO_MODE})", "abstractive", hybrid):
            line(name, results[name][: len(sub)], f"0-{len(sub) - 1}", base)

    # ---- faithfulness: read summaries against their articles
    ext_name = f"fieldkit extractive (auto = {S.AUTO_MODE})"
    verbatim = 0
    total = 0
    for (summ, _), r in zip(results[ext_name], rows):
        for sent in split_sentences(summ):
            total += 1
            verbatim += re.sub(r"\s+", " ", sent) in re.sub(r"\s+", " ", r["article"])
    print(f"\nextractive: {verbatim}/{total} summary sentences are verbatim article sentences")
    lines = []
    for i, r in enumerate(rows[: args.show]):
        lines.append(f"## article {i}\n\n{r['article']}\n\n**reference:** {r['reference']}\n")
        lines.append(f"**extractive:** {results[ext_name][i][0]}\n")
        for mode, outs in generated.items():
            if i < len(outs):
                miss = unsupported_tokens(outs[i], r["article"])
                lines.append(f"**{mode}:** {outs[i]}\n\n(not in article: {', '.join(miss) or 'none'})\n")
                print(f"{mode} article {i}: not in article: {', '.join(miss) or 'none'}")
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.show} summaries beside their articles to {args.out}")


if __name__ == "__main__":
    main()
