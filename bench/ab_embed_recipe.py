"""Two int8 rewrites of MiniLM side by side: texts per CPU-second (1 thread) and min cosine per set.

Why: a recipe change worth a few percent is lost in the noise of separate runs on a shared
machine; here both graphs run interleaved in one process (same load, same texts, each with the
batches the embedder makes for it), and each run's figure is the ratio of their best-of-rounds
CPU times. `--old` and
`--new` are keyword arguments of quantize.rewrite_per_token as JSON ('{}' = the shipped recipe);
`--quality N` also prints each shared set's min cosine against sentence-transformers (cached
references of bench/cv_embed_recipe.py; the first run needs the `reference` extra). Usage:
  python bench/ab_embed_recipe.py [--old '{"fold_context": false, "unpadded": false, "flatten": false}']
      [--new '{}'] [--runs 3]
      [--rounds 5] [--texts 1000] [--quality 1500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def build(kwargs: dict, dst: Path) -> Path:
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import verified_file
    from fieldkit.inference.optimize import DEFAULT_ALPHA, load_calibration
    from fieldkit.inference.quantize import rewrite_per_token

    entry = get_entry(None)
    amax, alphas = load_calibration(verified_file(entry, "calibration"))
    rewrite_per_token(verified_file(entry, "model"), dst, amax, alphas, DEFAULT_ALPHA, **kwargs)
    return dst


def embedder(graph: Path):
    from fieldkit.inference.embedder import TokenEmbedder
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import verified_file

    entry = get_entry(None)
    sha = next(f.sha256 for f in entry.files if f.role == "model")
    return TokenEmbedder(entry, verified_file(entry, "model"), verified_file(entry, "tokenizer"), sha,
                         threads=1, graph_path=graph, graph_kind="ab")


def one_run(a) -> None:
    from bench_embed import survey_answers

    texts = survey_answers()[:a.texts]
    with tempfile.TemporaryDirectory(prefix="fieldkit-ab-") as tmp:
        embs = {k: embedder(build(json.loads(getattr(a, k)), Path(tmp) / f"{k}.onnx"))
                for k in ("old", "new")}
        for e in embs.values():
            e.embed_all(texts)  # warm-up: the arena reaches its largest batch shape
        best = {k: float("inf") for k in embs}
        for r in range(a.rounds):
            for k in (("old", "new") if r % 2 == 0 else ("new", "old")):
                t = time.process_time()
                embs[k].embed_all(texts)
                best[k] = min(best[k], time.process_time() - t)
        rate = {k: len(texts) / v for k, v in best.items()}
        print(f"texts/CPU-s old {rate['old']:.0f} new {rate['new']:.0f} ratio "
              f"{rate['new'] / rate['old']:.3f} (load {os.getloadavg()[0]:.1f})")
        print("AB-RATIO " + json.dumps(rate["new"] / rate["old"]))
        if a.quality:
            from cv_embed_recipe import references

            data = references(a.quality, Path(tempfile.gettempdir()) / "fieldkit_st_refs.npz")
            for k, e in embs.items():
                cells = {s: float((e.embed_all(t, batch_size=32) * r).sum(axis=1).min())
                         for s, (t, r) in data.items()}
                print(f"min cosine {k}: " + " ".join(f"{s} {v:.4f}" for s, v in cells.items())
                      + f" | worst {min(cells.values()):.4f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default='{"fold_context": false, "unpadded": false, "flatten": false}')
    ap.add_argument("--new", default="{}")
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--quality", type=int, default=0, metavar="N")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if a.runs <= 1 or a.child:
        one_run(a)
        return
    ratios = []
    for i in range(a.runs):
        args = [sys.executable, __file__, "--child", "--old", a.old, "--new", a.new,
                "--texts", str(a.texts), "--rounds", str(a.rounds)]
        if a.quality and i == 0:
            args += ["--quality", str(a.quality)]
        r = subprocess.run(args, capture_output=True, text=True)
        print(f"run {i + 1}: " + (r.stdout.rstrip() or r.stderr[-2000:]), flush=True)
        ratios += [json.loads(ln[len("AB-RATIO "):]) for ln in r.stdout.splitlines()
                   if ln.startswith("AB-RATIO ")]
    if ratios:
        print(f"new/old texts per CPU-second over {len(ratios)} runs: {min(ratios):.3f}-"
              f"{statistics.median(ratios):.3f}-{max(ratios):.3f}x (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
