"""Where the 1-thread CPU time of the int8 rewrite goes: onnxruntime's profile, summed by node kind.

Why: every recipe change since v4 started from this table (which element-wise passes, which
GEMMs); it also prints the padding fraction of the batches the embedder makes (padded tokens
that are computed and thrown away). Usage:
  python bench/profile_embed.py [--texts 1000] [--graph PATH.onnx] [--top 25]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def padding_fraction(emb, texts: list[str], batch_size: int = 32) -> tuple[int, int]:
    """(real tokens, padded tokens) of the batches the embedder would run over `texts`."""
    from fieldkit.inference.embedder import TOKEN_BUDGET, _token_batches

    encs = emb.tokenizer.encode_batch(texts, add_special_tokens=True)
    lengths = np.sort(np.fromiter((len(e.ids) for e in encs), np.int64, len(encs)))
    real = int(lengths.sum())
    padded = sum(int(lengths[a:b].max()) * (b - a)
                 for a, b in _token_batches(lengths, batch_size, TOKEN_BUDGET, emb.unpadded))
    return real, padded


def profile(graph: Path, emb, texts: list[str]):
    """Microseconds per node kind over one pass of `texts` (after a short warm-up)."""
    import onnxruntime as ort

    from fieldkit.inference.embedder import TOKEN_GRAPH_SKIP_FUSIONS

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "prof")
        so.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        prof = ort.InferenceSession(str(graph), so, providers=["CPUExecutionProvider"],
                                    disabled_optimizers=TOKEN_GRAPH_SKIP_FUSIONS)
        emb.session = prof
        emb.embed_all(texts[:64])  # warm the arena before the measured pass
        t = time.process_time()
        emb.embed_all(texts)
        cpu = time.process_time() - t
        path = prof.end_profiling()
        events = json.loads(Path(path).read_text())
        import onnx

        opt = onnx.load(so.optimized_model_filepath)
        n_nodes = len(opt.graph.node)
    by_kind: dict[str, float] = collections.defaultdict(float)
    count: dict[str, int] = collections.Counter()
    total_run = 0.0
    for ev in events:
        if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
            kind = ev["args"].get("op_name", "?")
            by_kind[kind] += ev["dur"]
            count[kind] += 1
        elif ev.get("cat") == "Session" and ev["name"] == "model_run":
            total_run += ev["dur"]
    print(f"graph {graph.name}: {n_nodes} nodes after onnxruntime's optimisation; "
          f"{len(texts):,} texts in {cpu:.2f} CPU-s ({len(texts) / cpu:.0f} texts/CPU-s, profiling on)")
    kernels = sum(by_kind.values())
    print(f"model_run {total_run / 1e6:.2f} s, kernels {kernels / 1e6:.2f} s")
    return by_kind, count, kernels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--graph", type=Path, default=None, help="an ONNX graph (default: the cached derived one)")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    from bench_embed import survey_answers

    from fieldkit.inference.embedder import load_embedder
    from fieldkit.inference.manifest import get_entry

    texts = survey_answers()[:a.texts]
    emb = load_embedder(get_entry(None), threads=1)
    graph = a.graph
    if graph is None:
        from fieldkit.inference.optimize import derived_graph
        from fieldkit.inference.model_store import verified_file

        entry = get_entry(None)
        sha = next(f.sha256 for f in entry.files if f.role == "model")
        graph = derived_graph(entry, verified_file(entry, "model"), sha)[0]
    real, padded = padding_fraction(emb, texts)
    print(f"tokens: {real:,} real, {padded:,} computed in batches of 32 "
          f"(padding {1 - real / padded:.1%}); load {os.getloadavg()[0]:.1f}")
    by_kind, count, kernels = profile(graph, emb, texts)
    print(f"{'node kind':34s} {'calls':>6s} {'ms':>8s} {'share':>6s}")
    for kind, us in sorted(by_kind.items(), key=lambda kv: -kv[1])[:a.top]:
        print(f"{kind:34s} {count[kind]:6d} {us / 1e3:8.1f} {us / kernels:6.1%}")


if __name__ == "__main__":
    main()
