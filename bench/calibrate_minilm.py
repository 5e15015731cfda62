"""Rebuild models/all-minilm-l6-v2/smoothing.npz: per-channel activation maxima for the int8 rewrite.

Calibrates on 400 sentences from the CNN/DailyMail slice in ../shared/data (news, not the
survey answers that the parity test and bench_embed.py check against), so the check is held out.
Usage: python bench/calibrate_minilm.py [--alpha-file per_group_alphas.json]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fieldkit.inference.manifest import get_entry  # noqa: E402
from fieldkit.inference.optimize import calibrate  # noqa: E402
from fieldkit.inference.model_store import verified_file  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "summarization" / "cnndm_dev_100.jsonl"
OUT = ROOT / "models" / "all-minilm-l6-v2" / "smoothing.npz"


def calibration_texts(n: int = 400) -> list[str]:
    sents: list[str] = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        article = json.loads(line)["article"]
        sents += [s.strip() for s in re.split(r"(?<=[.!?])\s+", article) if len(s.strip()) > 3]
    rng = np.random.default_rng(0)
    return [sents[i] for i in rng.choice(len(sents), size=min(n, len(sents)), replace=False)]


def main() -> None:
    entry = get_entry("all-minilm-l6-v2")
    amax = calibrate(verified_file(entry, "model"), verified_file(entry, "tokenizer"),
                     calibration_texts(), entry.max_tokens or 256)
    arrays = {f"amax:{k}": v.astype(np.float32) for k, v in amax.items()}
    if len(sys.argv) > 2 and sys.argv[1] == "--alpha-file":
        for k, a in json.loads(Path(sys.argv[2]).read_text()).items():
            arrays[f"alpha:{k}"] = np.float32(a)
    np.savez(OUT, **arrays)
    print(f"wrote {OUT} ({len(amax)} activation tensors)")


if __name__ == "__main__":
    main()
