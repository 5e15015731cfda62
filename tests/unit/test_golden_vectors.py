"""The speed path against stored sentence-transformers vectors (no torch needed).

tests/golden/minilm_reference.npz holds fp32 reference vectors (made by bench/make_golden.py)
for the real texts the previous int8 recipe embedded worst: short dialogue turns ("Thank
you!"), all-capital messages, log lines with numbers, Chinese and Arabic answers.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.golden.texts import DATA, GOLDEN, SETS, text_hash


@pytest.fixture(scope="module")
def golden():
    if not DATA.exists():
        pytest.skip("../shared/data is absent")
    with np.load(GOLDEN, allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    texts, refs = [], []
    for name, load in SETS.items():
        all_texts = load()
        rows = stored[f"rows:{name}"]
        picked = [all_texts[int(i)] for i in rows]
        assert [text_hash(t) for t in picked] == list(stored[f"hash:{name}"]), \
            f"the shared {name} texts changed; rebuild with bench/make_golden.py"
        texts += picked
        refs.append(stored[f"ref:{name}"].astype(np.float32))
    ref = np.concatenate(refs)
    return texts, ref / np.linalg.norm(ref, axis=1, keepdims=True)


def test_speed_path_keeps_min_cosine_on_every_hard_text(golden, fk_home):
    from fieldkit.inference.embedder import get_embedder

    texts, ref = golden
    emb = get_embedder()
    assert emb.provenance().get("graph"), "the int8 speed path did not run"
    cos = (emb.embed_all(texts, batch_size=32) * ref).sum(axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.99, f"{texts[worst][:60]!r}: cosine {cos.min():.4f}"
    assert len(texts) == 96


def test_a_text_embeds_the_same_whatever_its_batch(golden, fk_home):
    """One activation scale per batch made a short text depend on its neighbours (0.982 vs 0.988)."""
    from fieldkit.inference.embedder import get_embedder

    texts, _ = golden
    emb = get_embedder()
    together = emb.embed_all(texts, batch_size=32)
    alone = np.concatenate([emb.embed_all([t]) for t in texts[::8]])
    assert np.abs(together[::8] - alone).max() < 1e-4
