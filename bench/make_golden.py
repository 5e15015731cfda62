"""Rebuild tests/golden/minilm_reference.npz: sentence-transformers fp32 vectors for hard real texts.

For each shared set (survey answers, banking77 messages, dialogue turns, Chinese reviews, log
lines, Arabic survey answers) it takes the first 1,000 texts, finds the 10 that the previous
int8 recipe (one activation scale per batch) embedded worst against the reference, adds 6 at
random, and stores their row numbers, text hashes and reference vectors (float16). The test
(tests/unit/test_golden_vectors.py) then needs neither torch nor sentence-transformers.
Usage: python bench/make_golden.py   (needs the `reference` extra)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_embed import st_model  # noqa: E402
from tests.golden.texts import GOLDEN, SETS, text_hash  # noqa: E402


def previous_recipe_embedder(tmp: Path):
    from fieldkit.inference.embedder import TokenEmbedder
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import verified_file
    from fieldkit.inference.optimize import load_calibration, rewrite_int8

    entry = get_entry(None)
    src = verified_file(entry, "model")
    graph = tmp / "per-batch.onnx"
    rewrite_int8(src, graph, *load_calibration(verified_file(entry, "calibration")))
    sha = next(f.sha256 for f in entry.files if f.role == "model")
    return TokenEmbedder(entry, src, verified_file(entry, "tokenizer"), sha, graph_path=graph)


def main() -> None:
    st = st_model()
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        old = previous_recipe_embedder(Path(tmp))
        for name, load in SETS.items():
            texts = load()[:1000]
            ref = st.encode(texts, batch_size=32, normalize_embeddings=True)
            cos = (old.embed_all(texts) * ref).sum(axis=1)
            worst = list(np.argsort(cos)[:10])
            rest = [i for i in range(len(texts)) if i not in worst]
            rows = np.array(sorted(worst + list(rng.choice(rest, 6, replace=False))), np.int64)
            out[f"rows:{name}"] = rows
            out[f"hash:{name}"] = np.array([text_hash(texts[i]) for i in rows])
            out[f"ref:{name}"] = ref[rows].astype(np.float16)
            print(f"{name}: previous recipe min cosine {cos.min():.4f} on {len(texts)} texts")
    np.savez_compressed(GOLDEN, **out)
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
