"""TF-IDF sentence vectors for extractive documents, on real DialogSum, CNN/DM and Chinese reviews:
they compare sentences by shared content words, and a document summary loads no model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fieldkit.analysis import summarize as S
from fieldkit.analysis.sentences import split_sentences
from fieldkit.analysis.summary_dialogue import dialogue_sentences
from fieldkit.analysis.summary_genre import parse_turns
from fieldkit.analysis.summary_vectors import MODEL_ID, TfidfVectors, english_stop_words, tfidf_vectors
from fieldkit.io import load_dataset
from tests.conftest import shared


def test_rows_are_unit_length_and_compare_by_shared_content_words(dialogues):
    dialogue = dialogues[0][0]
    sentences = [s for _, s, _ in dialogue_sentences(parse_turns(dialogue))]
    v = tfidf_vectors(sentences + [sentences[0]])
    norms = np.linalg.norm(v, axis=1)
    assert v.dtype == np.float32 and v.shape[0] == len(sentences) + 1
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-5)
    assert v[0] @ v[-1] == pytest.approx(1.0, abs=1e-5)  # the same sentence twice
    words = [set(re.findall(r"\w+", s.lower())) for s in sentences]
    for i in range(len(sentences)):
        for j in range(i + 1, len(sentences)):
            if not words[i] & words[j]:  # no word in common: nothing to compare by
                assert v[i] @ v[j] == pytest.approx(0.0, abs=1e-6)


def test_stop_words_alone_give_a_zero_vector():
    v = tfidf_vectors(["Yes, I am.", "The pump at the north well broke.", "The pump is fixed.",
                       "The north road is dry."])
    assert not v[0].any()
    assert v[1] @ v[2] > 0 and v[1] @ v[3] > 0  # "pump", "north"
    assert v[2] @ v[3] == pytest.approx(0.0, abs=1e-6)  # only stop words in common


def test_chinese_sentences_compare_by_character_bigrams():
    reviews = [r for r in load_dataset(shared("nonlatin", "waimai_reviews_600.csv")).read().to_dicts()]
    text_col = next(k for k, x in reviews[0].items() if isinstance(x, str) and len(x) > 4)
    texts = [r[text_col] for r in reviews if r[text_col]][:40]
    v = tfidf_vectors(texts)
    assert np.count_nonzero(np.linalg.norm(v, axis=1)) >= 38
    sims = v @ v.T
    assert (sims[np.triu_indices(len(texts), 1)] > 0).mean() > 0.2  # shared characters count


def test_english_stop_words_are_scikit_learns_list():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    assert english_stop_words() == frozenset(ENGLISH_STOP_WORDS)


def test_document_summary_loads_no_model_and_not_scikit_learn(dialogues, tmp_path):
    """Cold start counts for a CLI user: the default extractive path needs only numpy."""
    path = tmp_path / "call.txt"
    path.write_text("\n".join(d for d, _ in dialogues[100:130]), encoding="utf-8")
    article = json.loads(shared("summarization", "cnndm_dev_100.jsonl").read_text("utf-8").splitlines()[0])
    (tmp_path / "article.txt").write_text(article["article"], encoding="utf-8")
    code = ("import sys\nfrom fieldkit.analysis.summarize import summarize_text\n"
            f"for p in ({str(path)!r}, {str(tmp_path / 'article.txt')!r}):\n"
            "    s = summarize_text(open(p, encoding='utf-8').read())\n"
            "    print(s.genre, s.model, len(s.units))\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'onnxruntime'}))")
    env = dict(os.environ, PYTHONPATH=str(Path(S.__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].startswith(f"dialogue {MODEL_ID} ") and out[1] in {f"report {MODEL_ID} {n}" for n in (2, 3, 4)}
    assert out[2] == "[]"


def test_default_report_summary_quotes_the_article_with_tfidf_vectors():
    rows = [json.loads(x) for x in shared("summarization", "cnndm_dev_100.jsonl").read_text("utf-8").splitlines()]
    for row in rows[:5]:
        s = S.summarize_text(row["article"])
        sentences = split_sentences(row["article"])
        assert s.model == MODEL_ID and s.genre == "report" and 2 <= len(s.units) <= 4  # 3 +- 1 (word budget)
        positions = [sentences.index(u) for u in s.units]
        assert positions == sorted(positions)


def test_tfidf_vectors_keep_the_embedder_interface():
    v = TfidfVectors().embed_all(["Water trucks came twice.", "Water trucks came twice.", "No fuel."])
    assert v.shape[0] == 3 and v[0] @ v[1] == pytest.approx(1.0, abs=1e-5)
