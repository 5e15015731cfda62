"""The kit's parts on their own: manifest paths as hostile input, signatures, wheel closure, model packs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from fieldkit.errors import FieldkitError, InputError, UsageError
from fieldkit.kit import manifest as mf
from fieldkit.kit import signing
from fieldkit.kit import wheels as wh


@pytest.mark.parametrize("rel", ["../etc/passwd", "/etc/passwd", "wheels/../../x", "a//b", ".hidden",
                                 "wheels/.x", "", "a b", "wheels\\x.whl", "x/" * 9 + "y"])
def test_unsafe_manifest_paths_are_refused(rel):
    with pytest.raises(InputError):
        mf.plain_relpath(rel)


def test_plain_paths_pass():
    assert mf.plain_relpath("wheels/torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl")
    assert mf.plain_relpath("models/smollm2-135m-instruct/model.onnx")


def _kit(tmp_path: Path) -> Path:
    root = tmp_path / "kit"
    (root / "wheels").mkdir(parents=True)
    (root / "wheels" / "a-1.0-py3-none-any.whl").write_bytes(b"wheel bytes")
    (root / "requirements.txt").write_text("a==1.0\n")
    (root / "MANIFEST").write_text(mf.write_manifest(root, ["test"]))
    return root


def test_manifest_round_trip_and_every_kind_of_change(tmp_path):
    root = _kit(tmp_path)
    entries, meta, _ = mf.read_manifest(root)
    assert [e.path for e in entries] == ["requirements.txt", "wheels/a-1.0-py3-none-any.whl"]
    mf.check_files(root, entries)
    (root / "extra.txt").write_text("x")
    with pytest.raises(InputError, match="extra.txt is in the kit but not in its MANIFEST"):
        mf.check_files(root, entries)
    (root / "extra.txt").unlink()
    os.symlink("/etc/passwd", root / "wheels" / "b.whl")
    with pytest.raises(InputError, match="symlink"):
        mf.check_files(root, entries)
    (root / "wheels" / "b.whl").unlink()
    whl = root / "wheels" / "a-1.0-py3-none-any.whl"
    whl.write_bytes(b"wheel byteS")  # same size, one byte changed
    with pytest.raises(InputError, match="a-1.0-py3-none-any.whl does not match its sha256"):
        mf.check_files(root, entries)


@pytest.mark.parametrize("line", ["deadbeef  1  x", "0" * 64 + "  1  ../x", "0" * 64 + " 1 x",
                                  "0" * 64 + "  1  MANIFEST"])
def test_malformed_manifest_lines(line):
    with pytest.raises(InputError):
        mf.parse_manifest(mf.HEADER + "\n" + line + "\n")


def test_signatures(tmp_path):
    key, pub = signing.keygen(tmp_path / "key")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    sig = signing.sign(key, b"MANIFEST text")
    assert signing.verify(pub, b"MANIFEST text", sig)
    assert not signing.verify(pub, b"MANIFEST texT", sig)
    other, other_pub = signing.keygen(tmp_path / "other")
    assert not signing.verify(other_pub, b"MANIFEST text", sig)
    with pytest.raises(UsageError, match="already exists"):
        signing.keygen(tmp_path / "key")
    (tmp_path / "junk.pub").write_text("not a key")
    with pytest.raises(InputError):
        signing.verify(tmp_path / "junk.pub", b"x", sig)


def test_closure_follows_the_target_platform():
    """tqdm needs colorama on Windows only: the Windows closure has it, this machine's does not."""
    roots = ["tqdm", "textual>=0.80"]
    native, native_else = wh.closure(wh.Target.make(wh.NATIVE, "3.11"), roots)
    win, win_else = wh.closure(wh.Target.make("win_amd64", "3.11"), roots)
    assert "tqdm" in native and "rich" in native and "markdown-it-py" in native
    names = set(win) | {r.split("<")[0].split(">")[0].split("=")[0].split("!")[0].lower() for r in win_else}
    assert "colorama" in names
    assert "colorama" not in set(native) | {r.lower() for r in native_else}
    # textual asks for markdown-it-py[linkify]: the extra's own requirement is followed
    assert "linkify-it-py" in native
    with pytest.raises(UsageError):
        wh.Target.make("solaris_sparc", "3.11")


# ------------------------------------------------------------------ model packs

def _export_default(tmp_path: Path) -> Path:
    from fieldkit.inference.packs import export_pack

    pack = tmp_path / "pack"
    info = export_pack("all-minilm-l6-v2", pack)
    assert {f["name"] for f in info.files} == {"model.onnx", "tokenizer.json", "smoothing.npz"}
    return pack


def test_pack_round_trip_into_an_empty_store(tmp_path, fk_home):
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.packs import install_pack

    pack = _export_default(tmp_path)
    install_pack(pack)
    installed = fk_home / "models" / "all-minilm-l6-v2" / "model.onnx"
    assert installed.is_file()
    from fieldkit.inference.model_store import verified_files

    assert verified_files(get_entry("all-minilm-l6-v2"))


def _edit_pack_json(pack: Path, fn) -> None:
    meta = json.loads((pack / "fieldkit-pack.json").read_text())
    fn(meta)
    (pack / "fieldkit-pack.json").write_text(json.dumps(meta))


def test_hostile_packs_leave_the_store_untouched(tmp_path, fk_home):
    from fieldkit.inference.packs import install_pack

    good = _export_default(tmp_path)
    install_pack(good)
    model = fk_home / "models" / "all-minilm-l6-v2" / "model.onnx"
    before = model.read_bytes()[:4096], model.stat().st_size
    cases = []
    a = tmp_path / "a"
    shutil.copytree(good, a)
    _edit_pack_json(a, lambda m: m.update(id="../../home"))
    cases.append((a, "is not a plain name"))
    b = tmp_path / "b"
    shutil.copytree(good, b)
    (b / "tokenizer.json").rename(b / "x.json")
    os.symlink("/etc/passwd", b / "tokenizer.json")
    cases.append((b, "not a plain file"))
    c = tmp_path / "c"
    shutil.copytree(good, c)
    _edit_pack_json(c, lambda m: m["files"][0].update(name="../.bashrc"))
    cases.append((c, "is not a plain name"))
    d = tmp_path / "d"
    shutil.copytree(good, d)
    data = bytearray((d / "model.onnx").read_bytes())
    data[-100] ^= 0xFF
    (d / "model.onnx").write_bytes(bytes(data))
    _edit_pack_json(d, lambda m: [f.update(sha256=__import__("hashlib").sha256(bytes(data)).hexdigest())
                                  for f in m["files"] if f["name"] == "model.onnx"])
    cases.append((d, "not the known all-minilm-l6-v2 file"))
    for pack, why in cases:
        with pytest.raises(FieldkitError, match=why):
            install_pack(pack)
        assert (model.read_bytes()[:4096], model.stat().st_size) == before
    assert not list((fk_home / "models").glob(".*")), "a failed install left staging files"
    assert not (fk_home.parent / "home").exists()
