"""Atomic Parquet store: provenance round trip, failure safety, file permissions."""

from __future__ import annotations

import os
import stat

import polars as pl
import pytest

from fieldkit.store import atomic_path, make_provenance, read_provenance, write_batches, write_frame


def _frame(n: int = 10) -> pl.DataFrame:
    return pl.DataFrame({"id": list(range(n)), "answer": [f"text {i}" for i in range(n)]})


def test_provenance_round_trip(tmp_path):
    prov = make_provenance({"path": "x.csv", "sha256": "ab", "format": "csv", "encoding": "utf-8"},
                           [{"operation": "convert", "parameters": {}}])
    for write in (write_frame, write_batches):
        out = tmp_path / f"{write.__name__}.parquet"
        write(_frame() if write is write_frame else [_frame()], out, prov)
        got = read_provenance(out)
        assert got["source"]["sha256"] == "ab"
        assert got["steps"][0]["operation"] == "convert"
        assert pl.read_parquet(out).equals(_frame())


def test_new_output_follows_umask_not_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        out = write_frame(_frame(), tmp_path / "a.parquet")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_existing_output_keeps_its_mode(tmp_path):
    out = tmp_path / "a.parquet"
    write_frame(_frame(), out)
    os.chmod(out, 0o640)
    write_frame(_frame(3), out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert pl.read_parquet(out).height == 3


def test_failure_leaves_existing_output_and_no_temp_files(tmp_path):
    out = tmp_path / "a.parquet"
    write_frame(_frame(), out)
    before = out.read_bytes()

    def boom():
        yield _frame()
        raise RuntimeError("disk fell off")

    with pytest.raises(RuntimeError):
        write_batches(boom(), out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet"]


def test_atomic_path_never_creates_target_on_interrupt(tmp_path):
    out = tmp_path / "b.parquet"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(out) as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
