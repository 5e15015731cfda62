"""Encoding chosen by evidence (least mojibake), and UTF-8 files with a few bad lines."""

from __future__ import annotations

import codecs

import pytest

from fieldkit.io import load_dataset
from tests.conftest import shared
from tests.unit.encoding_corpus import CASES, build

REQUIRED = ["cp1252", "mac_roman", "cp1250", "cp1251", "koi8_r", "iso8859_7", "shift_jis", "euc_kr",
            "big5", "gb18030", "utf_16_le", "utf_16_be"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build(tmp_path_factory.mktemp("enc"))


@pytest.mark.parametrize("enc", REQUIRED + ["cp1256"])
def test_each_legacy_encoding_is_read_right(corpus, fk_home, enc):
    path, text = corpus[enc]
    ds = load_dataset(path)
    assert path.read_bytes().decode(ds.encoding) == text, (enc, ds.encoding)
    answers = ds.frame.collect()["answer"].to_list()
    want = [line.split(",", 2)[2].strip('"') for line in text.replace("\r\n", "\n").replace("\r", "\n")
            .strip().split("\n")[1:]]
    assert answers == want


def test_cr_only_mac_export_reads_no_break_spaces_right(tmp_path, fk_home):
    """The classic-Mac product list: `Conference<NBSP>phone`, not `ConferenceÊphone`."""
    text = "id,product\r" + "".join(f"{i},Conference\u00a0phone {i}\r" for i in range(278))
    p = tmp_path / "products.csv"
    p.write_bytes(text.encode("mac_roman"))
    ds = load_dataset(p)
    assert codecs.lookup(ds.encoding).name == "mac-roman"
    assert ds.frame.collect()["product"][0] == "Conference\u00a0phone 0"


def test_one_cp1252_line_in_a_utf8_file_is_repaired_and_counted(tmp_path, fk_home):
    src = shared("survey", "rstudio_r_community_survey_2019_en.tsv")
    raw = src.read_bytes()
    lines = raw.split(b"\r\n")
    header = lines[0].split(b"\t")
    bad = b"\t".join([b"Tr\xe8s cher \xe0 Gen\xe8ve"] + [b""] * (len(header) - 1))
    mixed = b"\r\n".join(lines[:300] + [bad] + lines[300:600]) + b"\r\n"
    p = tmp_path / "mixed.tsv"
    p.write_bytes(mixed)
    ds = load_dataset(p)
    assert ds.encoding == "utf-8"
    assert ds.extra["repairs"]["repaired_lines"] == 1
    assert any("1 line(s) were not valid UTF-8" in n for n in ds.notes)
    df = ds.frame.collect()
    first = df.columns[0]
    assert "Très cher à Genève" in df[first].to_list()
    # every genuine UTF-8 row reads as it does in the clean file
    clean = tmp_path / "clean.tsv"
    clean.write_bytes(b"\r\n".join(lines[:300] + lines[300:600]) + b"\r\n")
    ref = load_dataset(clean).frame.collect()
    kept = df.filter(df[first] != "Très cher à Genève")
    assert kept[ref.columns[1]].to_list() == ref[ref.columns[1]].to_list()
    assert "\ufffd" not in "".join(str(v) for v in kept.row(0))


def test_inspect_reports_the_repaired_lines(tmp_path, fk_home, capsys):
    from tests.e2e.test_hostile import run

    p = tmp_path / "m.csv"
    p.write_bytes("id,answer\n1,café au lait\n2,naïve\n3,Zürich\n".encode() + b"4,cr\xe8me\n")
    code, out, err = run(capsys, "inspect", str(p))
    assert code == 0, err
    assert "encoding:  utf-8" in out and "1 line(s) were not valid UTF-8" in out


def test_the_corpus_covers_the_issue_list():
    assert set(REQUIRED) <= set(CASES)
