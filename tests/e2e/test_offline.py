"""Offline guarantee: embed and search work with every socket refused, HF_HUB_OFFLINE=1, empty HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import polars as pl

from tests.conftest import ROOT, shared

LIKE_BEST = "What do you like best about using R?"

NO_NETWORK = textwrap.dedent('''
    import socket

    class _NoNetwork(OSError):
        pass

    def _refuse(*args, **kwargs):
        raise _NoNetwork("network access attempted in an offline test")

    class _Socket(socket.socket):
        def __init__(self, *args, **kwargs):
            _refuse()

    socket.socket = _Socket
    socket.create_connection = _refuse
    socket.getaddrinfo = _refuse
    socket.socketpair = _refuse
''')


def _env(tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NO_NETWORK)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "FIELDKIT_", "XDG_"))}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(guard), str(ROOT)]), PYTHONNOUSERSITE="1")
    return env, home


def _fieldkit(env, *args):
    return subprocess.run([sys.executable, "-m", "fieldkit", *args], env=env, cwd=env["HOME"],
                          capture_output=True, text=True, timeout=300)


def test_embed_and_search_with_network_refused(tmp_path):
    src = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    with open(src, newline="", encoding="utf-8") as f:
        lines = f.readlines()[:201]
    data = tmp_path / "answers.tsv"
    data.write_text("".join(lines), encoding="utf-8", newline="")
    env, home = _env(tmp_path)

    probe = subprocess.run([sys.executable, "-c", "import socket; socket.socket()"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "network access attempted" in probe.stderr  # guard is live

    out = tmp_path / "emb.parquet"
    r = _fieldkit(env, "embed", str(data), "--column", LIKE_BEST, "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert pl.read_parquet(out)["embedding"].dtype == pl.Array(pl.Float32, 384)

    r = _fieldkit(env, "search", str(data), "--column", LIKE_BEST, "--query", "the community",
                  "--top", "3", "--json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert len(hits) == 3 and any("communit" in h["text"].lower() for h in hits)
    # everything fieldkit wrote went under the (empty) HOME's default FIELDKIT_HOME
    assert (home / ".local" / "share" / "fieldkit" / "cache" / "embeddings").is_dir()
