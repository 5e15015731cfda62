"""`fieldkit models prepare smollm2-135m-instruct --from FILE` end to end, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from tests.unit.gguf_support import MODEL_ID, smollm_gguf


def _fk(home, *args):
    env = dict(os.environ, FIELDKIT_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "fieldkit", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_prepare_from_gguf_then_list_verify_and_detect_damage(tmp_path):
    home = tmp_path / "home"
    run = _fk(home, "models", "prepare", MODEL_ID, "--from", str(smollm_gguf()))
    assert run.returncode == 0, run.stderr
    assert f"{MODEL_ID}: installed and verified" in run.stdout
    d = home / "models" / MODEL_ID
    meta = json.loads((d / "fieldkit-generator.json").read_text())
    assert {f["name"] for f in meta["files"]} == {"model.onnx", "tokenizer.json"}
    assert meta["size"] == sum((d / f["name"]).stat().st_size for f in meta["files"])
    assert meta["size"] < 120_000_000  # 4-bit blocks: about the GGUF's own size, not fp32's 540 MB
    listed = {m["id"]: m for m in json.loads(_fk(home, "models", "list", "--json").stdout)}
    assert listed[MODEL_ID]["installed"] and listed[MODEL_ID]["verified"]

    with open(d / "tokenizer.json", "ab") as f:
        f.write(b" ")
    bad = _fk(home, "models", "verify")
    assert bad.returncode == 2
    assert "sha256" in bad.stderr and "Traceback" not in bad.stderr


def test_prepare_from_a_wrong_file_fails_cleanly(tmp_path):
    junk = tmp_path / "model.gguf"
    junk.write_bytes(b"GGUF but not really")
    run = _fk(tmp_path / "home", "models", "prepare", MODEL_ID, "--from", str(junk))
    assert run.returncode == 2
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert not (tmp_path / "home" / "models" / MODEL_ID / "fieldkit-generator.json").exists()


def test_a_carried_in_gguf_is_registered_prepared_and_loadable(tmp_path, monkeypatch):
    from tests.unit.test_gguf_onnx import write_tiny_gguf

    gguf = tmp_path / "Tiny-Llama.Q4_1.gguf"
    write_tiny_gguf(gguf, "llama", "Q4_1", True, False, 10000.0, tokenizer=True)
    home = tmp_path / "home"
    run = _fk(home, "models", "prepare", "--from", str(gguf))
    assert run.returncode == 0, run.stderr
    assert "tiny-llama-q4-1: installed and verified" in run.stdout
    user = json.loads((home / "models" / "manifest.json").read_text())
    entry = next(m for m in user["models"] if m["id"] == "tiny-llama-q4-1")
    assert entry["task"] == "generate" and entry["files"][0]["size"] == gguf.stat().st_size
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    from fieldkit.inference.generator import load_generator

    g = load_generator("tiny-llama-q4-1")
    assert g.n_ctx == 256 and g.sha256 == entry["files"][0]["sha256"]
    out = g.complete("Hello there", max_new_tokens=6, repetition_penalty=1.0)
    assert isinstance(out, str) and g.last_stats.new_tokens <= 6
    assert g.encode("Hello") == [ord(c) - 32 for c in "Hello"]  # the 96-byte vocabulary


def test_an_unsupported_gguf_is_refused_before_any_work(tmp_path):
    from gguf import GGUFWriter

    path = tmp_path / "gpt2.gguf"
    wr = GGUFWriter(str(path), "gpt2")
    wr.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    run = _fk(tmp_path / "home", "models", "prepare", "--from", str(path))
    assert run.returncode == 2
    assert "architecture 'gpt2' is not supported" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "home" / "models" / "manifest.json").exists()
