"""The air-gapped kit end to end: build it here, install it with no network, tamper with it.

The build fetches the run-time wheels from the package index (CI reaches it); the install runs
in a network namespace with no interfaces (`unshare -n`), into a fresh venv with an empty HOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DATA
from tests.unit.gguf_support import prepared_home

pytestmark = pytest.mark.slow


def _fk(*args: str, env: dict | None = None, timeout: int = 1200) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "fieldkit", *args], capture_output=True, text=True,
                          env=full, cwd=ROOT, timeout=timeout)


def _offline_ok() -> str:
    if not shutil.which("unshare"):
        return "unshare is not installed"
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    return "" if r.returncode == 0 else f"unshare -n is not permitted here ({r.stderr.strip()[:80]})"


def _site(home: Path) -> dict:
    """The environment of a laptop at the site: no PYTHONPATH, no FIELDKIT_HOME, an empty HOME."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "PYTHON": sys.executable}


def _offline(cmd: list[str], env: dict, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-n", *cmd], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    work = tmp_path_factory.mktemp("kit")
    key = work / "key"
    assert _fk("kit", "keygen", str(key)).returncode == 0
    r = _fk("kit", "build", str(work / "kit"), "--sign-key", str(key),
            env={"FIELDKIT_HOME": str(prepared_home())})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "signed: MANIFEST.sig" in r.stdout
    return work, work / "kit", key


def test_kit_installs_and_runs_with_no_network(kit):
    why = _offline_ok()
    if why:
        pytest.skip(why)
    work, folder, key = kit
    assert (folder / "models" / "smollm2-135m-instruct" / "model.onnx").is_file()
    assert not any("torch" in p.name or "sentence_transformers" in p.name for p in (folder / "wheels").iterdir())
    home = work / "home1"
    home.mkdir()
    venv = work / "venv1"
    r = _offline(["bash", str(folder / "install.sh"), str(venv), "--pubkey", f"{key}.pub"], _site(home), work)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
    assert "signature: good" in r.stdout
    fk = str(venv / "bin" / "fieldkit")
    survey = work / "survey.csv"
    shutil.copy(SAMPLE_DATA / "kobo_water_survey.csv", survey)
    r = _offline([fk, "themes", str(survey), "--column", "feedback/comment", "-o", str(work / "t.parquet")],
                 _site(home), work)
    assert r.returncode == 0, r.stderr[-1500:]
    import polars as pl

    out = pl.read_parquet(work / "t.parquet")
    assert {"theme_id", "theme_label", "theme_score"} <= set(out.columns) and out.height == 300
    text = work / "report.txt"
    text.write_text("The borehole pump in Kalma camp broke on 3 May. About 400 families now walk four "
                    "kilometres to the river. The water committee asked the district office for a mechanic "
                    "twice, but nobody has come. Nurses at the clinic report more cases of diarrhoea in "
                    "children under five since the pump stopped.\n", encoding="utf-8")
    r = _offline([fk, "summarize", str(text), "--mode", "abstractive"], _site(home), work)
    assert r.returncode == 0, r.stderr[-1500:]
    assert len(r.stdout.split()) >= 5
    # the models landed in the empty HOME's store, verified
    r = _offline([fk, "models", "list"], _site(home), work)
    assert "smollm2-135m-instruct  generate  -    verified" in r.stdout


def _linked_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, copy_function=os.link)
    return dst


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.unlink()  # break the hard link first: the original kit stays intact
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("victim", ["model", "wheel"])
def test_a_flipped_byte_is_named_and_nothing_is_installed(kit, victim):
    work, folder, key = kit
    bad = _linked_copy(folder, work / f"bad-{victim}")
    if victim == "model":
        target = bad / "models" / "smollm2-135m-instruct" / "model.onnx"
    else:
        target = sorted((bad / "wheels").glob("numpy-*.whl"))[0]
    _flip_byte(target)
    rel = target.relative_to(bad).as_posix()
    r = _fk("kit", "verify", str(bad), "--pubkey", f"{key}.pub")
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == f"error: {rel} does not match its sha256 in MANIFEST"
    home = work / f"home-{victim}"
    home.mkdir()
    venv = work / f"venv-{victim}"
    r = subprocess.run(["bash", str(bad / "install.sh"), str(venv)], capture_output=True, text=True,
                       env=_site(home), cwd=work, timeout=300)
    assert r.returncode != 0
    assert f"{rel} does not match its sha256" in r.stderr
    assert not venv.exists() and not any(home.iterdir())
    assert _fk("kit", "verify", str(folder), "--pubkey", f"{key}.pub").returncode == 0


def test_signature_must_match_the_key(kit):
    work, folder, key = kit
    other = work / "other"
    assert _fk("kit", "keygen", str(other)).returncode == 0
    r = _fk("kit", "verify", str(folder), "--pubkey", f"{other}.pub")
    assert r.returncode == 2 and "does not verify" in r.stderr
    r = subprocess.run(["bash", str(folder / "install.sh"), str(work / "venv-sig"), "--pubkey", f"{other}.pub"],
                       capture_output=True, text=True, env=_site(work), cwd=work, timeout=300)
    assert r.returncode != 0 and not (work / "venv-sig").exists()


def test_update_kit_carries_only_what_changed(kit):
    why = _offline_ok()
    if why:
        pytest.skip(why)
    work, folder, key = kit
    upd = work / "update"
    r = _fk("kit", "build", str(upd), "--sign-key", str(key), "--since", str(folder),
            env={"FIELDKIT_HOME": str(prepared_home())})
    assert r.returncode == 0, r.stderr[-1500:]
    # nothing changed since the base kit: no wheel and no model travels again
    assert not list((upd / "wheels").glob("*.whl")) and not list((upd / "models").iterdir())
    assert "# base " in (upd / "MANIFEST").read_text()
    assert _fk("kit", "verify", str(upd), "--pubkey", f"{key}.pub").returncode == 0
    home = work / "home-upd"
    home.mkdir()
    r = _offline(["bash", str(upd / "install.sh"), str(work / "venv-upd")], _site(home), work)
    assert r.returncode == 2 and "needs the kit it updates" in r.stderr
    r = _offline(["bash", str(upd / "install.sh"), str(work / "venv-upd"), "--base", str(folder)],
                 _site(home), work)
    assert r.returncode == 0, r.stderr[-1500:]
    r = _offline([str(work / "venv-upd" / "bin" / "fieldkit"), "--version"], _site(home), work)
    assert r.returncode == 0 and "fieldkit" in r.stdout
