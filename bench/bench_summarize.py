"""Summaries against trivial baselines, cross-validated, in one run: DialogSum and CNN/DailyMail.

Run:  python bench/bench_summarize.py [--n-generate 20] [--folds 5] [--news-folds 10] [--out /tmp/fieldkit_summaries.md]

1. Genre detector: thresholds by k-fold CV (pooled texts, folds within each set) and leave one set out.
2. DialogSum (500 dialogues x 3 references; ROUGE F1 x100 is the MEAN over the three references,
   the max is printed beside it): first three turns, centroid-only, and the dialogue default;
   then k-fold CV over the dialogue weights: each fold picks the best grid point on the other
   folds and is scored on its own dialogues (held-out), beside first-three-turns on that fold.
3. CNN/DM (100 articles, bench_summarize_news.py): Lead-3, TextRank, centroid-only, the default;
   k-fold CV over the report settings and the word budget, held-out per fold, leave one source
   out (CNN vs Daily Mail), every lever's held-out R-1 side by side, held-out R-1/2/L.
4-5. Generated summaries and speed: bench/bench_summarize_generate.py (run from here).
"""

from __future__ import annotations

import argparse
import collections
import glob
import itertools
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


class MemoEmbedder:
    """The default embedder, remembering every vector: CV grids re-read the same sentences."""

    def __init__(self):
        from fieldkit.inference.embedder import get_embedder

        self.inner = get_embedder()
        self.model_id = self.inner.model_id
        self.memo: dict[str, np.ndarray] = {}

    def embed_all(self, texts, reporter=None):
        texts = list(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            self.memo.update(zip(todo, self.inner.embed_all(todo)))
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def r1_multi(summary: str, refs: list[str]) -> tuple[float, float, float, float]:
    """(mean R-1, max R-1, mean R-2, mean R-L) over the references, x100."""
    from fieldkit.analysis.rouge import rouge

    s = [rouge(summary, r) for r in refs]
    return (100 * np.mean([x.rouge1 for x in s]), 100 * max(x.rouge1 for x in s),
            100 * np.mean([x.rouge2 for x in s]), 100 * np.mean([x.rougeL for x in s]))


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n### {title}")
    print("| method | items | ROUGE-1 (mean of refs) | ROUGE-1 (max) | ROUGE-2 | ROUGE-L | vs baseline R-1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = rows[0][1].mean(axis=0)[0]
    for name, scores in rows:
        m = scores.mean(axis=0)
        print(f"| {name} | {len(scores)} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[3]:.2f} | {m[0] - base:+.2f} |")


def grid_positions(grid: dict) -> np.ndarray:
    """Each grid point's place along every axis, 0 (first value) to 1 (last), in product order."""
    axes = [np.linspace(0, 1, len(v)) if len(v) > 1 else np.zeros(1) for v in grid.values()]
    return np.array(list(itertools.product(*axes)))


def pick(scores: np.ndarray, pos: np.ndarray | None = None, tol: float = 1e-9) -> int:
    """The best grid point; ties go to the middle of the tied region (the tied point nearest the
    per-axis median of all tied points), the setting with the widest margin on every side,
    rather than to whichever came first in grid order."""
    if not np.isfinite(scores).any():  # nothing to pick on (an empty training fold)
        return 0
    tied = np.flatnonzero(scores >= np.nanmax(scores) - tol)
    if len(tied) == 1 or pos is None:
        return int(tied[0])
    centre = np.median(pos[tied], axis=0)
    return int(tied[np.argmin(np.abs(pos[tied] - centre).sum(axis=1))])


def kfold_pick(M: np.ndarray, base: np.ndarray, folds: int, labels: list[str],
               pos: np.ndarray | None = None) -> np.ndarray:
    """M: grid points x items (R-1). Each fold picks argmax on the others; prints held-out figures."""
    fold = np.arange(M.shape[1]) % folds
    held = np.zeros(M.shape[1])
    picks = []
    print("| fold | picked on the other folds | held-out R-1 | baseline R-1 | gain |")
    print("|---|---|---:|---:|---:|")
    for f in range(folds):
        b = pick(M[:, fold != f].mean(axis=1), pos)
        held[fold == f] = M[b, fold == f]
        picks.append(b)
        print(f"| {f} | {labels[b]} | {M[b, fold == f].mean():.2f} | {base[fold == f].mean():.2f} | "
              f"{M[b, fold == f].mean() - base[fold == f].mean():+.2f} |")
    print(f"| all | most picked: {labels[collections.Counter(picks).most_common(1)[0][0]]} | "
          f"{held.mean():.2f} | {base.mean():.2f} | {held.mean() - base.mean():+.2f} |")
    return held


def genre_sets(dialogues, articles) -> dict[str, tuple[list[str], str]]:
    """The shared sets as texts of a known shape: {set name: (texts, genre)}."""
    from fieldkit.io import load_dataset

    cnn = ["(CNN)" in a["article"][:40] for a in articles]
    sets = {"DialogSum dialogues": ([d for d, _ in dialogues], "dialogue"),
            "CNN articles": ([a["article"] for a, c in zip(articles, cnn) if c], "report"),
            "Daily Mail articles": ([a["article"] for a, c in zip(articles, cnn) if not c], "report")}
    hub, lnav = [], []
    for f in sorted(glob.glob(str(DATA / "logs" / "*_2k.log"))):
        lines = Path(f).read_text("utf-8", errors="replace").splitlines()
        hub += ["\n".join(lines[i:i + 200]) for i in range(0, len(lines), 400)]  # 5 blocks per log
    for f in sorted(glob.glob(str(DATA / "logs/formats/logfile_*"))):
        try:
            text = "\n".join(Path(f).read_text("utf-8", errors="replace").splitlines()[:200])
        except (IsADirectoryError, OSError):
            continue
        if len(text.splitlines()) >= 3:
            lnav.append(text)
    sets["loghub logs, 200-line blocks"] = (hub, "log")
    sets["lnav log samples"] = (lnav, "log")
    ds = load_dataset(DATA / "survey" / "rstudio_r_community_survey_2019_en.tsv")
    for col, name in (("What do you like least about using R?", "R survey 'like least'"),
                      ("What do you like best about using R?", "R survey 'like best'")):
        ans = [t.replace("\n", " ").strip() for t in ds.text_column(col).to_list() if t and t.strip()]
        sets[f"{name}, blocks of 100 answers"] = (
            ["\n".join(ans[i:i + 100]) for i in range(0, len(ans) - 99, 100)], "answers")
    bank = [ln for ln in load_dataset(DATA / "coding" / "banking77_train.csv").text_column("text").to_list() if ln]
    sets["banking77 messages, blocks of 100"] = (
        ["\n".join(t.replace("\n", " ") for t in bank[i:i + 100]) for i in range(0, 3000, 100)], "answers")
    return sets


GENRE_GRID = dict(min_turn_share=[0.4, 0.5, 0.6, 0.7, 0.8], min_log_share=[0.4, 0.5, 0.6, 0.7, 0.8],
                  max_answer_words=[10, 15, 20, 25, 30, 40], max_answer_punct=[0.3, 0.5, 0.7, 0.9, 1.0])


def genre_table(dialogues, articles, folds: int) -> None:
    """Genre thresholds by k-fold CV (pooled texts) and leave-one-set-out; objective: mean per-set accuracy."""
    from fieldkit.analysis import summary_genre as G

    sets = genre_sets(dialogues, articles)
    names = list(sets)
    shapes = [(k, G.detect_shape(t), want) for k in names for t in sets[k][0] for want in [sets[k][1]]]
    combos = [G.ShapeThresholds(**dict(zip(GENRE_GRID, c))) for c in itertools.product(*GENRE_GRID.values())]
    labels = [", ".join(f"{k}={getattr(c, k)}" for k in GENRE_GRID) for c in combos]
    gpos = grid_positions(GENRE_GRID)
    # correct[g, i]: does grid point g read text i as its shape
    correct = np.array([[G.classify(sh, c) == want for _, sh, want in shapes] for c in combos])
    set_of = np.array([names.index(k) for k, _, _ in shapes])

    def macro(mask: np.ndarray) -> np.ndarray:  # mean over sets of accuracy, per grid point
        accs = [correct[:, mask & (set_of == j)].mean(axis=1) for j in range(len(names)) if (mask & (set_of == j)).any()]
        return np.mean(accs, axis=0)

    # folds within each set, so every fold holds every set
    fold = np.zeros(len(shapes), int)
    for j in range(len(names)):
        idx = np.flatnonzero(set_of == j)
        fold[idx] = np.arange(len(idx)) % folds
    shipped = labels.index(", ".join(f"{k}={getattr(G.THRESHOLDS, k)}" for k in GENRE_GRID))
    print(f"\n### genre detector: {folds}-fold CV over {len(combos)} threshold settings "
          "(objective: mean of per-set accuracy)")
    print("| fold | picked on the other folds | held-out mean per-set accuracy | shipped thresholds |")
    print("|---|---|---:|---:|")
    picks, held = [], []
    for f in range(folds):
        tr = fold != f
        b = pick(macro(tr), gpos)
        picks.append(b)
        held.append(macro(~tr)[b])
        print(f"| {f} | {labels[b]} | {held[-1]:.1%} | {macro(~tr)[shipped]:.1%} |")
    print(f"| all | most picked: {labels[collections.Counter(picks).most_common(1)[0][0]]} | "
          f"{np.mean(held):.1%} | {np.mean([macro(fold == f)[shipped] for f in range(folds)]):.1%} |")
    print("\n#### leave one set out: thresholds picked on the other sets, accuracy on the left-out set")
    print("| left-out set (expected genre) | texts | picked on the others | held-out accuracy | shipped | other readings (shipped) |")
    print("|---|---:|---|---:|---:|---|")
    for j, k in enumerate(names):
        b = pick(macro(set_of != j), gpos)
        got = collections.Counter(G.classify(sh, G.THRESHOLDS) for kk, sh, _ in shapes if kk == k)
        other = ", ".join(f"{g} {n}" for g, n in got.items() if g != sets[k][1]) or "-"
        print(f"| {k} ({sets[k][1]}) | {(set_of == j).sum()} | {labels[b]} | {correct[b, set_of == j].mean():.0%} | "
              f"{correct[shipped, set_of == j].mean():.0%} | {other} |")


def dialogue_section(dialogues, emb, folds: int, label: str = "") -> dict:
    from fieldkit.analysis import summary_dialogue as D
    from fieldkit.analysis import summarize as S
    from fieldkit.analysis.summary_genre import parse_turns

    units, first3, default, centroid, times = [], [], [], [], []
    for dia, refs in dialogues:
        turns = parse_turns(dia)
        rows = D.dialogue_sentences(turns)
        t0 = time.perf_counter()
        s = S.summarize_text(dia, embedder=emb)
        times.append(time.perf_counter() - t0)
        u = D.build_units(turns, emb.embed_all([r[1] for r in rows]))
        units.append(u)
        default.append(r1_multi(s.text, refs))
        first3.append(r1_multi(" ".join(dia.split("\n")[:3]), refs))
        c = replace(D.DEFAULT_PARAMS, position_weight=0.0, central_weight=1.0, topic_words=0,
                    budget_ratio=1.0, min_budget=10**6)
        picked = D.select_sentences(u, 3, c)
        centroid.append(r1_multi(" ".join(f"{u.speakers[i]}: {u.sentences[i]}" for i in picked), refs))
    table(f"DialogSum, {len(dialogues)} dialogues x 3 references{label}", [
        ("first three turns", np.array(first3)), ("3 sentences nearest the centroid (speaker named)", np.array(centroid)),
        ("fieldkit default (auto = extractive, dialogue)", np.array(default))])
    print(f"(default: {np.mean(times):.3f} s per dialogue, embeddings cached after the first pass)")
    grid = dict(position_weight=[0.3, 0.6, 0.9], central_weight=[0.25, 0.5], budget_ratio=[0.05, 0.1],
                topic_words=[0, 4, 6], mmr_penalty=[0.0, 0.3])
    combos = list(itertools.product(*grid.values()))
    labels = [", ".join(f"{k}={v}" for k, v in zip(grid, c)) for c in combos]
    lr = LineR1()  # rouge-score's R-1, each line tokenised once (checked in outcome_cv)
    M = np.array([[np.mean([lr.score(D.render(u, D.select_sentences(u, 3, p), p), r)[0] for r in refs])
                   for u, (_, refs) in zip(units, dialogues)]
                  for p in (replace(D.DEFAULT_PARAMS, **dict(zip(grid, c))) for c in combos)])
    print(f"\n#### DialogSum {folds}-fold CV over {len(combos)} dialogue settings (R-1 mean of refs){label}")
    gpos = grid_positions(grid)
    kfold_pick(M, np.array(first3)[:, 0], folds, labels, gpos)
    fold = np.arange(len(dialogues)) % folds
    held = np.zeros((len(dialogues), 4))
    for f in range(folds):
        p = replace(D.DEFAULT_PARAMS, **dict(zip(grid, combos[pick(M[:, fold != f].mean(axis=1), gpos)])))
        for j in np.flatnonzero(fold == f):
            held[j] = r1_multi(" ".join(D.render(units[j], D.select_sentences(units[j], 3, p), p)), dialogues[j][1])
    print(f"\n### DialogSum summary: held-out ({folds}-fold CV) figures beside the baselines (mean of 3 refs){label}")
    print("| method | R-1 | R-2 | R-L | R-1 vs first three turns |")
    print("|---|---:|---:|---:|---:|")
    base = np.array(first3)[:, 0].mean()
    for name, sc in (("first three turns", np.array(first3)), ("3 sentences nearest the centroid", np.array(centroid)),
                     (f"dialogue default settings, {folds}-fold CV held-out", held)):
        m = sc.mean(axis=0)
        print(f"| {name} | {m[0]:.2f} | {m[2]:.2f} | {m[3]:.2f} | {m[0] - base:+.2f} |")
    outcome_cv(dialogues, units, np.array(first3)[:, 0], folds, label)
    low_content_cv(dialogues, units, np.array(first3)[:, 0], folds, label)
    keyword_cv(dialogues, units, folds, label)
    topic_fallback_cv(dialogues, units, folds, label)
    return {"default": default, "first3": first3, "held": held}


# The outcome line (summary_dialogue._outcome) on top of the shipped weights; outcome_words 0 = off.
OUTCOME_GRID = dict(outcome_words=[0, 12, 15, 20], closing_from=[0.67, 0.8], reply_bonus=[0.0, 0.5, 1.0],
                    commit_bonus=[0.5, 1.0])
OUTCOME_MARGIN = 5.5  # R-1 over first three turns a setting must keep on the training folds (goal +5)


class LineR1:
    """ROUGE-1 F1 / recall (x100) of rendered summary lines, each line's stemmed tokens counted once."""

    def __init__(self):
        from rouge_score import tokenizers

        self.tok = tokenizers.DefaultTokenizer(use_stemmer=True)
        self.memo: dict[str, collections.Counter] = {}

    def counts(self, text: str) -> collections.Counter:
        from fieldkit.analysis.rouge import normalise

        if text not in self.memo:
            self.memo[text] = collections.Counter(self.tok.tokenize(normalise(text)))
        return self.memo[text]

    def score(self, lines: list[str], ref: str) -> tuple[float, float]:
        c = collections.Counter()
        for ln in lines:
            c.update(self.counts(ln))
        r = self.counts(ref)
        hit = sum(min(n, c[w]) for w, n in r.items())
        p, rec = hit / max(1, sum(c.values())), hit / max(1, sum(r.values()))
        return (0.0 if p + rec == 0 else 200 * p * rec / (p + rec)), 100 * rec


def outcome_cv(dialogues, units, first3: np.ndarray, folds: int, label: str) -> None:
    """Does the summary say the outcome? Recall of each reference's LAST sentence (DialogSum
    references end with it: "Lily accepts.", "Dieter will change it.") beside R-1; each fold picks,
    among settings keeping R-1 >= first three turns + OUTCOME_MARGIN on the other folds, the one
    with the highest outcome recall there."""
    from fieldkit.analysis import summary_dialogue as D
    from fieldkit.analysis.rouge import rouge1
    from fieldkit.analysis.sentences import split_sentences

    lr = LineR1()
    lasts = [[split_sentences(r)[-1] for r in refs if len(split_sentences(r)) > 1] for _, refs in dialogues]
    has = np.array([bool(x) for x in lasts])
    combos = list(itertools.product(*OUTCOME_GRID.values()))
    labels = [", ".join(f"{k}={v}" for k, v in zip(OUTCOME_GRID, c)) for c in combos]
    R, O = np.zeros((len(combos), len(units))), np.zeros((len(combos), len(units)))
    for g, c in enumerate(combos):
        p = replace(D.DEFAULT_PARAMS, **dict(zip(OUTCOME_GRID, c)))
        for j, u in enumerate(units):
            lines = D.render(u, D.select_sentences(u, 3, p), p)
            R[g, j] = np.mean([lr.score(lines, r)[0] for r in dialogues[j][1]])
            O[g, j] = np.mean([lr.score(lines, r)[1] for r in lasts[j]]) if lasts[j] else np.nan
    j0 = 0  # the counted R-1 is rouge-score's: checked on one summary per run
    p0 = replace(D.DEFAULT_PARAMS, **dict(zip(OUTCOME_GRID, combos[-1])))
    lines0 = D.render(units[j0], D.select_sentences(units[j0], 3, p0), p0)
    assert abs(lr.score(lines0, dialogues[j0][1][0])[0] - 100 * rouge1(" ".join(lines0), dialogues[j0][1][0])) < 1e-6
    off = [g for g, c in enumerate(combos) if c[0] == 0][0]
    fold = np.arange(len(units)) % folds
    gpos = grid_positions(OUTCOME_GRID)
    print(f"\n#### DialogSum outcome line{label}: {folds}-fold CV over {len(combos)} settings; each fold keeps "
          f"R-1 >= first three turns + {OUTCOME_MARGIN} on the other folds, then maximises recall of the "
          f"references' last sentence ({has.sum()} dialogues have one)")
    print("| fold | picked on the other folds | held-out R-1 | vs first three turns | outcome recall | without the outcome line: R-1 / recall |")
    print("|---|---|---:|---:|---:|---:|")
    hr, ho, picks = np.zeros(len(units)), np.zeros(len(units)), []
    for f in range(folds):
        tr, te = fold != f, fold == f
        ok = R[:, tr].mean(axis=1) - first3[tr].mean() >= OUTCOME_MARGIN
        score = np.where(ok, np.nanmean(O[:, tr & has], axis=1), -np.inf)
        b = pick(score, gpos, tol=1e-6) if ok.any() else off
        picks.append(b)
        hr[te], ho[te] = R[b, te], O[b, te]
        print(f"| {f} | {labels[b]} | {R[b, te].mean():.2f} | {R[b, te].mean() - first3[te].mean():+.2f} | "
              f"{np.nanmean(O[b, te & has]):.2f} | {R[off, te].mean():.2f} / {np.nanmean(O[off, te & has]):.2f} |")
    print(f"| all | most picked: {labels[collections.Counter(picks).most_common(1)[0][0]]} | {hr.mean():.2f} | "
          f"{hr.mean() - first3.mean():+.2f} | {np.nanmean(ho[has]):.2f} | {R[off].mean():.2f} / {np.nanmean(O[off, has]):.2f} |")


# Low-content sentences (greetings, service openers, a name alone) quoted only when nothing else
# is left, with the position weight re-picked beside it (the opening is where greetings are).
LOW_GRID = dict(min_content=[0, 1, 2], need_function_word=[False, True], position_weight=[0.6, 0.9])
LOW_TOLERANCE = 0.05  # R-1 on the training folds: settings this close to the best count as level


def low_content_cv(dialogues, units, first3: np.ndarray, folds: int, label: str) -> None:
    """Each fold picks, among the settings within LOW_TOLERANCE R-1 of the best on the other folds,
    the one quoting the fewest lines without a content or function word there; held-out R-1 beside first three turns, and how many quoted lines name no content word
    (greetings) or hold no function word (fragments), counted with the shipped word lists."""
    from fieldkit.analysis import summary_dialogue as D

    lr = LineR1()
    combos = list(itertools.product(*LOW_GRID.values()))
    labels = [", ".join(f"{k}={v}" for k, v in zip(LOW_GRID, c)) for c in combos]
    R, G, F = (np.zeros((len(combos), len(units))) for _ in range(3))
    for g, c in enumerate(combos):
        p = replace(D.DEFAULT_PARAMS, **dict(zip(LOW_GRID, c)))
        for j, u in enumerate(units):
            picked = D.select_sentences(u, 3, p)
            R[g, j] = np.mean([lr.score(D.render(u, picked, p), r)[0] for r in dialogues[j][1]])
            G[g, j] = sum(u.content[i] == 0 for i in picked)
            F[g, j] = sum(u.function[i] == 0 for i in picked)
    fold = np.arange(len(units)) % folds
    gpos = grid_positions(LOW_GRID)
    former = labels.index("min_content=0, need_function_word=False, position_weight=0.9")
    print(f"\n#### DialogSum low-content sentences{label}: {folds}-fold CV over {len(combos)} settings "
          f"(objective: fewest such lines within {LOW_TOLERANCE} R-1 of the best); quoted lines without a content word / without a function word")
    print("| fold | picked on the other folds | held-out R-1 | vs first three turns | no content word | no function word | former: R-1, lines |")
    print("|---|---|---:|---:|---:|---:|---:|")
    hr, hg, hf, picks = np.zeros(len(units)), np.zeros(len(units)), np.zeros(len(units)), []
    for f in range(folds):
        tr, te = fold != f, fold == f
        rt = R[:, tr].mean(axis=1)
        near = rt >= rt.max() - LOW_TOLERANCE  # within noise of the best: fewest such lines
        b = pick(np.where(near, -(G[:, tr] + F[:, tr]).sum(axis=1) + 1e-3 * rt, -np.inf), gpos)
        picks.append(b)
        hr[te], hg[te], hf[te] = R[b, te], G[b, te], F[b, te]
        print(f"| {f} | {labels[b]} | {R[b, te].mean():.2f} | {R[b, te].mean() - first3[te].mean():+.2f} | "
              f"{G[b, te].sum():.0f} | {F[b, te].sum():.0f} | {R[former, te].mean():.2f}, {G[former, te].sum():.0f} / {F[former, te].sum():.0f} |")
    print(f"| all | most picked: {labels[collections.Counter(picks).most_common(1)[0][0]]} | {hr.mean():.2f} | "
          f"{hr.mean() - first3.mean():+.2f} | {hg.sum():.0f} | {hf.sum():.0f} | {R[former].mean():.2f}, "
          f"{G[former].sum():.0f} / {F[former].sum():.0f} |")


def topic_rule_scores(grid: dict, dialogues, units):
    """Every KeywordRule of the grid (its fields; the others as shipped) on every dialogue:
    (labels, R-1 of the summary, topic words found in the references, words shown, per rule a
    Counter of the shown words the references never use)."""
    from fieldkit.analysis import summary_dialogue as D

    lr = LineR1()
    combos = list(itertools.product(*grid.values()))
    labels = [", ".join(f"{k}={v}" for k, v in zip(grid, c)) for c in combos]
    n = D.DEFAULT_PARAMS.topic_words
    refs = [set().union(*(lr.counts(r) for r in rs)) for _, rs in dialogues]
    R, found, shown = (np.zeros((len(combos), len(units))) for _ in range(3))
    unfound = collections.defaultdict(collections.Counter)
    for g, c in enumerate(combos):
        rule = replace(D.KEYWORD_RULE, **dict(zip(grid, c)))
        for j, u in enumerate(units):
            kws = D.topic_keywords(u.sentences, u.names, rule=rule)[:n]
            hit = [bool(set(lr.counts(w)) & refs[j]) for w in kws]
            found[g, j], shown[g, j] = sum(hit), len(hit)
            unfound[g].update(w.lower() for w, h in zip(kws, hit) if not h)
            v = replace(u, keywords=tuple(kws))
            R[g, j] = np.mean([lr.score(D.render(v, D.select_sentences(v, 3)), r)[0] for r in dialogues[j][1]])
    return labels, R, found, shown, unfound


FALLBACK_GRID = dict(merge_forms=[False, True], once=[0, 1, 2, 3])


def topic_fallback_cv(dialogues, units, folds: int, label: str, n_final: int = 20) -> None:
    """The topic line of a short exchange: word forms counted together, and the longest words
    said once when none is said twice. k-fold CV by R-1 on all but the last n_final dialogues
    (the generated modes' final set), then those n_final and all, paired with the former rule."""
    labels, R, found, shown, _ = topic_rule_scores(FALLBACK_GRID, dialogues, units)
    combos = labels
    none = shown == 0
    dev = np.arange(len(units)) < len(units) - n_final
    fold = np.arange(len(units)) % folds
    former = labels.index("merge_forms=False, once=0")
    held = np.zeros(len(units))
    picks = []
    for f in range(folds):
        tr, te = dev & (fold != f), dev & (fold == f)
        b = pick(R[:, tr].mean(axis=1), grid_positions(FALLBACK_GRID))
        held[te] = R[b, te]
        picks.append(labels[b])
    d = held[dev] - R[former, dev]
    print(f"\n#### DialogSum topic line{label}: forms counted together, words said once when none is said "
          f"twice; {folds}-fold CV by R-1 on the first {dev.sum()} dialogues")
    print(f"picks {picks}; held-out {held[dev].mean():.2f} vs former rule {R[former, dev].mean():.2f} "
          f"({d.mean():+.2f}, paired SE {d.std(ddof=1) / np.sqrt(dev.sum()):.2f})")
    print("| rule | R-1 first | R-1 last | R-1 all (- former, SE) | no topic line | topic words found / shown |")
    print("|---|---:|---:|---:|---:|---:|")
    for g in range(len(combos)):
        da = R[g] - R[former]
        print(f"| {labels[g]} | {R[g, dev].mean():.2f} | {R[g, ~dev].mean():.2f} | {R[g].mean():.2f} "
              f"({da.mean():+.2f}, {da.std(ddof=1) / np.sqrt(len(da)):.2f}) | {none[g].sum():.0f} | "
              f"{found[g].sum():.0f} / {shown[g].sum():.0f} |")


KEYWORD_GRID = dict(main_list=[False, True], opener_share=[1.0, 0.5], min_len=[3, 4], length_weighted=[False, True])


def keyword_cv(dialogues, units, folds: int, label: str) -> None:
    """Topic-line words: each fold picks the KeywordRule whose shown words are most often in the
    references (precision: words found / words shown, stemmed) on the other folds; held-out
    precision, found minus not found per dialogue, and R-1."""
    labels, R, found, shown, examples = topic_rule_scores(KEYWORD_GRID, dialogues, units)
    combos = labels
    net = found - (shown - found)
    fold = np.arange(len(units)) % folds
    gpos = grid_positions(KEYWORD_GRID)
    former = labels.index("main_list=False, opener_share=1.0, min_len=3, length_weighted=False")
    print(f"\n#### DialogSum topic-line words{label}: {folds}-fold CV over {len(combos)} rules "
          f"(objective: share of the shown words found in the references)")
    print("| fold | picked on the other folds | held-out net | found / shown | R-1 | former rule: net, found / shown, R-1 |")
    print("|---|---|---:|---:|---:|---:|")
    hn, hf, hs, hr = (np.zeros(len(units)) for _ in range(4))
    picks = []
    for f in range(folds):
        tr, te = fold != f, fold == f
        b = pick(found[:, tr].sum(axis=1) / np.maximum(shown[:, tr].sum(axis=1), 1), gpos)
        picks.append(b)
        hn[te], hf[te], hs[te], hr[te] = net[b, te], found[b, te], shown[b, te], R[b, te]
        print(f"| {f} | {labels[b]} | {net[b, te].mean():.2f} | {found[b, te].sum():.0f} / {shown[b, te].sum():.0f} | "
              f"{R[b, te].mean():.2f} | {net[former, te].mean():.2f}, {found[former, te].sum():.0f} / "
              f"{shown[former, te].sum():.0f}, {R[former, te].mean():.2f} |")
    most = collections.Counter(picks).most_common(1)[0][0]
    print(f"| all | most picked: {labels[most]} | {hn.mean():.2f} | {hf.sum():.0f} / {hs.sum():.0f} | {hr.mean():.2f} | "
          f"{net[former].mean():.2f}, {found[former].sum():.0f} / {shown[former].sum():.0f}, {R[former].mean():.2f} |")
    print("most frequent shown words the references never use, former rule: "
          + ", ".join(f"{w} {k}" for w, k in examples[former].most_common(15))
          + "; most picked rule: " + ", ".join(f"{w} {k}" for w, k in examples[most].most_common(15)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--news-folds", type=int, default=10, help="folds for the 100 CNN/DM articles")
    ap.add_argument("--n-generate", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n-dev", type=int, default=40,
                    help="dialogues before the last --n-generate on which generation settings are chosen")
    ap.add_argument("--n-variants", type=int, default=10,
                    help="dialogues for the plain and few-shot variants (copy-constrained runs on all)")
    ap.add_argument("--skip", default="", help="comma list of: genre,dialogue,news,generate,speed")
    ap.add_argument("--out", default="/tmp/fieldkit_summaries.md")
    ap.add_argument("--retell-variants", default="",
                    help="'all' or comma list (names hold no comma) of abstractive prompt/decoding variants to compare "
                         "on --n-dev + --n-generate dialogues (bench_summarize_generate.RETELL_VARIANTS)")
    ap.add_argument("--dump", default="", help="pickle the variants' retellings here (for reading)")
    ap.add_argument("--vectors", default="tfidf,minilm",
                    help="sentence vectors to compare for extractive documents (first = shipped)")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    print(f"load average at start (1, 5, 15 min; 2 cores shared): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = json.loads((DATA / "summarization" / "dialogsum_test_500x3refs.json").read_text("utf-8"))
    refs: dict[str, list[str]] = collections.OrderedDict()
    for r in rows:
        refs.setdefault(r["dialogue"], []).append(r["summary"])
    dialogues = list(refs.items())
    articles = [json.loads(x) for x in (DATA / "summarization" / "cnndm_dev_100.jsonl").open(encoding="utf-8")]
    from fieldkit.analysis.summary_vectors import TfidfVectors

    from bench_summarize_news import news_section

    kinds = [k for k in args.vectors.split(",") if k]
    vec = {k: (TfidfVectors() if k == "tfidf" else MemoEmbedder()) for k in kinds}
    emb = vec.get("minilm") or MemoEmbedder()  # the generator's grounding check uses MiniLM
    if "genre" not in skip:
        genre_table(dialogues, articles, args.folds)
    ext, held = None, {}
    for k in kinds:
        label = f" [sentence vectors: {VECTOR_NAMES[k]}]"
        if "dialogue" not in skip:
            d = dialogue_section(dialogues, vec[k], args.folds, label)
            held.setdefault(k, {})["DialogSum"] = d["held"][:, 0]
            ext = d["default"] if ext is None else ext  # the shipped default comes first
        if "news" not in skip:
            held.setdefault(k, {})["CNN/DM"] = news_section(articles, vec[k], args.news_folds, label)[:, 0]
    if len(held) > 1:
        vectors_table(held)
    from bench_summarize_generate import RETELL_VARIANTS, generator_section, retell_variants, speed_section

    if args.retell_variants:
        names = list(RETELL_VARIANTS) if args.retell_variants == "all" else args.retell_variants.split(",")
        retell_variants(dialogues, emb, args.n_generate, args.n_dev, names, Path(args.dump) if args.dump else None)

    if "generate" not in skip and args.n_generate > 0:
        if ext is None:
            from fieldkit.analysis import summarize as S

            ext = [r1_multi(S.summarize_text(d).text, r) for d, r in dialogues[-args.n_generate:]]
        generator_section(dialogues, emb, args.n_generate, args.folds, Path(args.out), ext, args.n_variants,
                          args.n_dev)
    if "speed" not in skip:
        speed_section(dialogues, args.runs)
    print(f"\nload average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


VECTOR_NAMES = {"tfidf": "TF-IDF over the document's sentences (shipped)",
                "minilm": "all-MiniLM-L6-v2 embeddings"}


def vectors_table(held: dict) -> None:
    """Held-out R-1 per sentence representation, side by side (each with its own CV picks), and
    the paired difference to the shipped one with its standard error (same items, same folds)."""
    sets = sorted({s for v in held.values() for s in v})
    first = next(iter(held))
    print("\n### sentence vectors for extractive documents: held-out R-1 (each picks its own settings by CV)")
    print("| sentence vectors | " + " | ".join(f"{s} | vs shipped (paired SE)" for s in sets) + " |")
    print("|---|" + "---:|---:|" * len(sets))
    for k, v in held.items():
        cells = []
        for s in sets:
            d = v[s] - held[first][s]
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
            cells.append(f"{v[s].mean():.2f} | {d.mean():+.2f} ({se:.2f})")
        print(f"| {VECTOR_NAMES[k]} | " + " | ".join(cells) + " |")



if __name__ == "__main__":
    main()
