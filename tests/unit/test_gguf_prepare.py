"""`fieldkit models prepare smollm2-135m-instruct --from FILE` end to end, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
    home = tmp_path / "home"
    run = _fk(home, "models", "prepare", "my-llm", "--from", str(smollm_gguf()))
    assert run.returncode == 0, run.stderr
    user = json.loads((home / "models" / "manifest.json").read_text())
    entry = next(m for m in user["models"] if m["id"] == "my-llm")
    assert entry["task"] == "generate" and entry["files"][0]["size"] == smollm_gguf().stat().st_size
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    from fieldkit.inference.generator import load_generator

    g = load_generator("my-llm")
    assert "Paris" in g.chat([{"role": "user", "content": "What is the capital of France?"}], max_new_tokens=20)
    assert g.sha256 == entry["files"][0]["sha256"]
