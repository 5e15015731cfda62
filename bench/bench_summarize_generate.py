"""Generated summaries and speed, part of bench/bench_summarize.py (run that script).

4. Generator (when prepared; FIELDKIT_HOME decides where): on --n-generate dialogues, the
   abstractive mode (key lines retold in reported speech, each checked against its own line) and
   the hybrid mode (a free summary of the key turns, grounded; its prompting variants with the
   grounding thresholds chosen by k-fold CV) beside the extractive default; every summary is
   written beside its dialogue with each check to --out, for reading.
5. Speed: a 2,000-word transcript, extractive and generated, min-max of --runs runs, beside the
   first-three-turns baseline. The machine is shared with other engineers: seconds are noisy.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np

from bench_summarize import ROOT, grid_positions, pick, r1_multi, table


def generator_section(dialogues, emb, n: int, folds: int, out: Path, extractive: list,
                      n_variants: int, n_dev: int = 40) -> None:
    """Abstractive (key lines retold, each checked against its line) and hybrid (free summary of
    the key turns, grounded, after the topic line) beside the extractive default, same dialogues."""
    from fieldkit.analysis import summarize as S
    from fieldkit.analysis import summary_grounding as G
    from fieldkit.analysis.rouge import rouge1
    from fieldkit.analysis.summary_rewrite import retell_dialogue
    from fieldkit.errors import ModelError
    from fieldkit.progress import Reporter

    try:
        gen = S._load_generator()
    except ModelError as e:
        print(f"\nabstractive and hybrid: skipped ({e.message}; prepare it with `{e.hint}`)")
        return
    # the last n dialogues: their settings come from the CV above, the generator saw none of them
    sub = dialogues[-n:]
    ext = extractive[-n:]
    k = 3  # as many key lines as the extractive default quotes
    told_all, abstractive, secs = [], [], []
    dev = dialogues[-(n + n_dev):-n] if n_dev > 0 else []
    lost_cv = LostCV()
    for j, (d, refs) in enumerate(dev + sub):
        t0 = time.perf_counter()
        s, told = retell_dialogue(d, k, gen, emb, Reporter("bench"), G.copy_bias(gen, d), max_lost=None)
        secs.append(time.perf_counter() - t0)
        lost_cv.add(s, told, refs, j >= len(dev))
        if j >= len(dev):
            abstractive.append(s.text)
            told_all.append(told)
    lost_cv.report(dev, sub, folds)
    from fieldkit.analysis.summary_rewrite import MAX_LOST

    # what is shown: the shipped limit on dropped content words, applied to the same generations
    abstractive = [lost_cv.text(len(dev) + i, MAX_LOST) for i in range(len(sub))]
    told_all = [lost_cv.told(len(dev) + i, MAX_LOST) for i in range(len(sub))]
    variants = {"plain prompt": S.GenerationOptions(constrain=False, ground=False),
                "copy-constrained decoding": S.GenerationOptions(constrain=True, ground=False),
                "few-shot + copy-constrained": S.GenerationOptions(fewshot=True, constrain=True, ground=False)}
    raw: dict[str, list[str]] = {}
    vsecs: dict[str, float] = {}
    for name, opts in variants.items():
        part = sub if name == "copy-constrained decoding" else sub[:n_variants]
        if not part:  # --n-variants 0: the shipped variant only
            continue
        t0 = time.perf_counter()
        outs = []
        for d, _ in part:  # hybrid's free generation, before grounding and without its topic line
            h = S.summarize_text(d, mode="hybrid", n=2, generator=gen, embedder=emb, options=opts)
            outs.append(h.text[len(h.units[0]):].strip() if h.units and h.text.startswith(h.units[0]) else h.text)
        raw[name] = outs
        vsecs[name] = (time.perf_counter() - t0) / len(part)
    ggrid = {"min_cosine": [0.45, 0.55, 0.65], "max_novel": [0, 1, 2]}
    grid = list(itertools.product(*ggrid.values()))
    gpos = grid_positions(ggrid)

    def grounded(text, dia, mc, mn):
        shown, checks = G.ground_text(text, [dia], "dialogue", emb, None, mc, mn)
        return " ".join(shown), checks

    print(f"\n### hybrid's free generation ({gen.model_id}) on the last {len(sub)} DialogSum dialogues, 2 sentences asked")
    print("| variant | raw R-1 | grounded R-1 (CV thresholds, held-out) | sentences replaced | s/dialogue |")
    print("|---|---:|---:|---:|---:|")
    for name, outs in raw.items():
        sub_v = sub[: len(outs)]
        rawr = np.array([r1_multi(o, refs)[0] for o, (_, refs) in zip(outs, sub_v)])
        M = np.array([[np.mean([100 * rouge1(grounded(o, d, mc, mn)[0], r) for r in refs])
                       for o, (d, refs) in zip(outs, sub_v)]
                      for mc, mn in grid])
        fold = np.arange(len(sub_v)) % folds
        held = np.zeros(len(sub_v))
        for f in range(folds):
            held[fold == f] = M[pick(M[:, fold != f].mean(axis=1), gpos), fold == f]
        checks = [grounded(o, d, None, None)[1] for o, (d, _) in zip(outs, sub_v)]
        rep = sum(c.replaced for cs in checks for c in cs)
        tot = sum(len(cs) for cs in checks)
        print(f"| {name} ({len(sub_v)} dialogues) | {rawr.mean():.2f} | {held.mean():.2f} | {rep}/{tot} | "
              f"{vsecs[name]:.1f} |")
    print(f"(grounding grid: min cosine x novel words {grid}; shipped: {G.MIN_COSINE}, {G.MAX_NOVEL})")

    from fieldkit.analysis.summary_dialogue import topic_line_for
    from fieldkit.analysis.summary_genre import parse_turns

    hybrid, hchecks = [], []
    for i, (d, _) in enumerate(sub):
        shown, checks = grounded(raw["copy-constrained decoding"][i], d, None, None)
        hybrid.append(f"{topic_line_for(parse_turns(d))} {shown}")
        hchecks.append(checks)
    n_told = sum(len(t) for t in told_all)
    n_kept = sum(not x.replaced for t in told_all for x in t)
    h_rep = sum(c.replaced for cs in hchecks for c in cs)
    h_tot = sum(len(cs) for cs in hchecks)
    rows = {"extractive default (topic line + key lines quoted)": ext,
            f"abstractive (topic line + key lines retold; {n_kept}/{n_told} retold, the rest quoted)":
                [r1_multi(t, refs) for t, (_, refs) in zip(abstractive, sub)],
            f"hybrid (topic line + free summary of the key turns; {h_rep}/{h_tot} sentences replaced)":
                [r1_multi(t, refs) for t, (_, refs) in zip(hybrid, sub)]}
    table(f"DialogSum, last {len(sub)} dialogues: extractive vs generated", [
        (name, np.array(v)) for name, v in rows.items()])
    r = {name: np.array(v)[:, 0] for name, v in rows.items()}
    names = list(r)
    for name in names[1:]:
        dlt = r[name] - r[names[0]]
        print(f"- {name.split(' (')[0]} - extractive: {dlt.mean():+.2f} R-1 (paired SE {dlt.std(ddof=1) / np.sqrt(len(dlt)):.2f}), "
              f"better on {(dlt > 0).sum()}, worse on {(dlt < 0).sum()} of {len(dlt)}")
        if len(dlt) > 20:
            last = dlt[-20:]
            print(f"  last 20 of them: {r[name][-20:].mean():.2f} vs extractive {r[names[0]][-20:].mean():.2f} "
                  f"({last.mean():+.2f}, paired SE {last.std(ddof=1) / np.sqrt(20):.2f})")
    print(f"(abstractive: {min(secs):.1f}-{max(secs):.1f} s per dialogue, mean {np.mean(secs):.1f})")
    lines = [f"# {len(sub)} dialogues: summaries and their checks\n"]
    for i, (d, refs) in enumerate(sub):
        lines.append(f"## dialogue {i}\n\n```\n{d}\n```\n\nreference 1: {refs[0]}\n")
        lines.append(f"**abstractive:** {abstractive[i]}\n")
        for t in told_all[i]:
            lines.append(f"- line {t.line!r} -> generated {t.generated!r}, cos {t.cosine:.2f}, "
                         f"unsupported {list(t.missing)} -> {'QUOTED instead' if t.replaced else 'shown'}")
        lines.append(f"\n**hybrid:** {hybrid[i]}\n")
        for c in hchecks[i]:
            lines.append(f"- generated {c.generated!r} cos {c.cosine:.2f}; missing {list(c.missing)} -> "
                         f"{'REPLACED by ' + repr(c.shown) if c.replaced else 'shown as the source line ' + repr(c.shown) if c.verbatim else 'kept'}")
        lines.append("")
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote every generated summary beside its dialogue, with its checks, to {out}")


class LostCV:
    """Abstractive retellings generated once (no limit on dropped words); each limit on the line's
    content words a retelling may drop (summary_rewrite.MAX_LOST) applied afterwards, and chosen
    on the development dialogues (not the last n) and by k-fold CV over all of them."""

    GRID = [0, 1, 2, None]

    def __init__(self):
        self.rows = []  # (frame units, [(Retelling, n lost)], refs, is final)

    def add(self, s, told, refs, final: bool) -> None:
        from fieldkit.analysis.summary_rewrite import lost_words

        frame = list(s.units[: len(s.units) - len(told)])
        lost = []
        for t in told:
            speaker = t.line.split(": ", 1)[0] if ": " in t.line else ""
            said = t.line[len(speaker) + 2:] if speaker else t.line
            rest = t.generated[len(speaker):] if speaker and t.generated.startswith(speaker) else t.generated
            lost.append(len(lost_words(rest, said)) if not t.replaced else None)
        self.rows.append((frame, list(zip(told, lost)), refs, final))

    def told(self, j: int, m):
        from dataclasses import replace as dc_replace

        out = []
        for t, lost in self.rows[j][1]:
            ok = lost is not None and (m is None or lost <= m)
            out.append(t if ok or t.replaced else dc_replace(t, shown=t.line, missing=t.missing + ("(drops content words)",)))
        return out

    def text(self, j: int, m) -> str:
        return " ".join(self.rows[j][0] + [t.shown for t in self.told(j, m)])

    def report(self, dev, sub, folds: int) -> None:
        from fieldkit.analysis import summarize as S

        if not self.rows:
            return
        ext = np.array([r1_multi(S.summarize_text(d).text, refs)[0] for d, refs in dev + sub])
        M = np.array([[r1_multi(self.text(j, m), row[2])[0] for j, row in enumerate(self.rows)] for m in self.GRID])
        shown = np.array([[sum(not t.replaced for t in self.told(j, m)) for j in range(len(self.rows))] for m in self.GRID])
        final = np.array([row[3] for row in self.rows])
        lines = sum(len(row[1]) for row in self.rows)
        print(f"\n### abstractive: content words of the line a retelling may drop (generated once; "
              f"{len(dev)} development + {len(sub)} final dialogues, {lines} key lines)")
        print("| max dropped | R-1 dev | R-1 final | R-1 all | - extractive, all (paired SE) | lines retold, all |")
        print("|---|---:|---:|---:|---:|---:|")
        for g, m in enumerate(self.GRID):
            dlt = M[g] - ext
            dev_r1 = M[g, ~final].mean() if (~final).any() else float("nan")
            print(f"| {'no limit' if m is None else m} | {dev_r1:.2f} | {M[g, final].mean():.2f} | "
                  f"{M[g].mean():.2f} | {dlt.mean():+.2f} ({dlt.std(ddof=1) / np.sqrt(len(dlt)):.2f}) | {shown[g].sum()} |")
        dev_r1 = ext[~final].mean() if (~final).any() else float("nan")
        print(f"| extractive | {dev_r1:.2f} | {ext[final].mean():.2f} | {ext.mean():.2f} | | |")
        pos = np.linspace(0, 1, len(self.GRID))[:, None]
        if (~final).any():
            b = pick(M[:, ~final].mean(axis=1), pos)
            d = M[b, final] - ext[final]
            print(f"picked on the {len(dev)} development dialogues: {self.GRID[b]}; on the final {len(sub)}: "
                  f"{M[b, final].mean():.2f} vs extractive {ext[final].mean():.2f} ({d.mean():+.2f}, paired SE "
                  f"{d.std(ddof=1) / np.sqrt(len(d)):.2f})")
        fold = np.arange(len(self.rows)) % folds
        held = np.zeros(len(self.rows))
        picks = []
        for f in range(folds):
            b = pick(M[:, fold != f].mean(axis=1), pos)
            held[fold == f] = M[b, fold == f]
            picks.append(self.GRID[b])
        d = held - ext
        print(f"{folds}-fold CV over all {len(self.rows)}: picks {picks}, held-out {held.mean():.2f} vs extractive "
              f"{ext.mean():.2f} ({d.mean():+.2f}, paired SE {d.std(ddof=1) / np.sqrt(len(d)):.2f}; better on "
              f"{(d > 0).sum()}, worse on {(d < 0).sum()})")


def speed_section(dialogues, runs: int) -> None:
    import os
    import subprocess
    import tempfile

    from fieldkit.analysis import summarize as S
    from fieldkit.errors import ModelError
    from fieldkit.inference.embedder import get_embedder

    lines, words = [], 0
    for d, _ in dialogues[100:]:
        for ln in d.split("\n"):
            lines.append(ln)
            words += len(ln.split())
        if words >= 2000:
            break
    text = "\n".join(lines)
    print(f"\n### speed: one transcript of {words} words, {len(lines)} turns ({runs} runs, min-max seconds; "
          "CPU seconds beside wall time, which a busy machine inflates; the 1-minute load average "
          "of the 2 shared cores before and after each row)")
    print("| method | wall seconds | CPU seconds | vs first three turns (wall) | load average |")
    print("|---|---:|---:|---:|---:|")

    def timed(fn):
        import resource

        wall, cpu = [], []
        loadavg[:] = [os.getloadavg()[0]]
        for _ in range(runs):
            c0 = time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
            t0 = time.perf_counter()
            fn()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - c0)
        loadavg.append(os.getloadavg()[0])
        return min(wall), max(wall), min(cpu), max(cpu)

    def row(name, t, digits=2):
        print(f"| {name} | {t[0]:.{digits}f}-{t[1]:.{digits}f} | {t[2]:.{digits}f}-{t[3]:.{digits}f} | "
              f"{t[0] / max(base[0], 1e-6):.0f}x | {loadavg[0]:.1f}-{loadavg[-1]:.1f} |")

    loadavg: list[float] = []
    base = timed(lambda: " ".join(text.split("\n")[:3]))
    row("first three turns", base, 4)
    row("extractive (default: TF-IDF sentence vectors)", timed(lambda: S.summarize_text(text, n=5)), 3)
    from fieldkit.inference.embedder import load_embedder
    from fieldkit.inference.manifest import get_entry

    t0 = time.perf_counter()
    load_embedder(get_entry(None))  # what a new process pays once
    load = time.perf_counter() - t0
    emb = get_embedder()
    row(f"extractive with MiniLM sentence embeddings (a new process loads the model first: {load:.2f} s)",
        timed(lambda: S.summarize_text(text, n=5, embedder=emb)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transcript.txt"
        path.write_text(text, encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        row("whole `fieldkit summarize transcript.txt` command (new process: imports, read, summary)",
            timed(lambda: subprocess.run([sys.executable, "-m", "fieldkit", "summarize", str(path)],
                                         env=env, check=True, capture_output=True)))
    try:
        gen = S._load_generator()
    except ModelError:
        return
    from fieldkit.analysis import summary_generate as SG

    row("abstractive (key lines retold, each checked)",
        timed(lambda: S.summarize_text(text, mode="abstractive", n=3, generator=gen, embedder=emb)), 1)
    row(f"hybrid (free summary of the key turns, <= {SG.INPUT_TOKENS} tokens, grounded)",
        timed(lambda: S.summarize_text(text, mode="hybrid", n=3, generator=gen, embedder=emb)), 1)
    gen._cached = None  # what the whole transcript costs the model to read (the former prompt)
    loadavg[:] = [os.getloadavg()[0]]
    t0 = time.perf_counter()
    gen.chat([{"role": "user", "content": "Summarize the conversation below in 3 short sentences.\n\n" + text}],
             max_new_tokens=1)
    print(f"| reading the whole transcript once ({gen.last_stats.prompt_tokens} prompt tokens, 1 new token) | "
          f"{time.perf_counter() - t0:.1f} | | | {loadavg[0]:.1f}-{os.getloadavg()[0]:.1f} |")


# name: (summary_rewrite.PROMPTS key, decoding: "copy" = names and digits only from the source
# (shipped), "vocab" = restricted vocabulary, "free" = no logit bias)
RETELL_VARIANTS = {
    "worked examples (former)": ("examples", "copy"),
    "third-person instruction (shipped)": ("third-person", "copy"),
    "short system prompt, no examples": ("system", "copy"),
    "two-shot from development dialogues": ("dev two-shot", "copy"),
    "worked examples + restricted vocabulary": ("examples", "vocab"),
    "third-person + restricted vocabulary": ("third-person", "vocab"),
    "third-person without logit bias": ("third-person", "free"),
}


def retell_variants(dialogues, emb, n: int, n_dev: int, names: list[str], dump: Path | None = None) -> dict:
    """Each prompt / decoding variant of the abstractive mode on the same development and final
    dialogues (shipped checks, MAX_LOST included); the pick is made on the development ones only."""
    import pickle

    from fieldkit.analysis import summarize as S
    from fieldkit.analysis import summary_grounding as G
    from fieldkit.analysis.summary_rewrite import retell_dialogue
    from fieldkit.progress import Reporter

    gen = S._load_generator()
    part = dialogues[-(n + n_dev):]
    final = np.arange(len(part)) >= n_dev
    ext = np.array([r1_multi(S.summarize_text(d).text, refs)[0] for d, refs in part])
    runs: dict[str, list] = {}
    for name in names:
        prompt, decoding = RETELL_VARIANTS[name]
        rows = []
        t0 = time.perf_counter()
        for d, refs in part:
            s, told = retell_dialogue(d, 3, gen, emb, Reporter("bench"),
                                      G.copy_bias(gen, d) if decoding == "copy" else None,
                                      prompt=prompt, restrict=decoding == "vocab")
            rows.append((list(s.units[: len(s.units) - len(told)]), told, refs))
        runs[name] = rows
        print(f"({name}: {(time.perf_counter() - t0) / len(part):.1f} s per dialogue)", file=sys.stderr)
    if dump is not None:
        dump.write_bytes(pickle.dumps({"part": part, "ext": ext, "n_dev": n_dev, "runs": runs}))
    print(f"\n### abstractive prompt and decoding variants: {n_dev} development + {n} final DialogSum "
          "dialogues (R-1, paired difference to extractive and its SE; picked on development only)")
    print("| variant | dev R-1 (- extr., SE) | final R-1 (- extr., SE) | all R-1 (- extr., SE) | lines retold dev / final |")
    print("|---|---:|---:|---:|---:|")

    def cell(v, mask):
        dlt = v[mask] - ext[mask]
        return f"{v[mask].mean():.2f} ({dlt.mean():+.2f}, {dlt.std(ddof=1) / np.sqrt(mask.sum()):.2f})"

    scores = {}
    for name, rows in runs.items():
        v = np.array([r1_multi(" ".join(fr + [t.shown for t in told]), refs)[0] for fr, told, refs in rows])
        scores[name] = v
        kept = [sum(not t.replaced for t in told) for _, told, _ in rows]
        print(f"| {name} | {cell(v, ~final)} | {cell(v, final)} | {cell(v, final | ~final)} | "
              f"{sum(kept[:n_dev])} / {sum(kept[n_dev:])} |")
    print(f"| extractive | {ext[~final].mean():.2f} | {ext[final].mean():.2f} | {ext.mean():.2f} | |")
    best = max(scores, key=lambda k: scores[k][~final].mean())
    print(f"picked on the development dialogues: {best}")
    return runs
