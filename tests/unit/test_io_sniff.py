"""Encoding, delimiter and newline detection on files written in each encoding."""

from __future__ import annotations

import codecs

import pytest

from fieldkit.errors import InputError, UsageError
from fieldkit.io import load_dataset
from fieldkit.io import sniff

FRENCH = "nom,commentaire\nJosé,Très bien l’été à Genève\nFrançois,Déjà vu – naïve\n"
CHINESE = "编号,评论\n1,很好吃，送餐很快\n2,味道一般，价格偏贵\n3,服务态度好\n"


@pytest.mark.parametrize(
    "text,encoding,expected",
    [
        (CHINESE, "gbk", "gb18030"),
        (CHINESE, "gb18030", "gb18030"),
        (FRENCH, "cp1252", "cp1252"),
        (FRENCH, "mac_roman", "mac-roman"),
        ("name,city\nJosé,São Paulo\nFrançois,Zürich\n", "latin-1", "cp1252"),
        (CHINESE, "utf-8", "utf-8"),
        # one accented letter in a sea of ASCII: cp1252, not Mac Roman's `È`
        ("id,comment\n" + "".join(f"{i},plain ascii answer {i}\n" for i in range(3000)) + "3000,café\n",
         "cp1252", "cp1252"),
    ],
)
def test_detects_field_encodings_and_reads_the_text(tmp_path, fk_home, text, encoding, expected):
    p = tmp_path / "f.csv"
    p.write_bytes(text.encode(encoding))
    ds = load_dataset(p)
    assert codecs.lookup(ds.encoding).name == codecs.lookup(expected).name
    df = ds.frame.collect()
    want = [line.split(",") for line in text.strip().splitlines()]
    assert df.columns == want[0]
    assert df.rows() == [tuple(int(v) if v.isdigit() else v for v in row) for row in want[1:]]


@pytest.mark.parametrize("bom_enc,name", [("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"),
                                          ("utf-8", "utf-8-sig")])
def test_bom_files(tmp_path, fk_home, bom_enc, name):
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-8": codecs.BOM_UTF8}
    p = tmp_path / "b.csv"
    p.write_bytes(bom[bom_enc] + "région,note\nÎle,été\n".encode(bom_enc))
    ds = load_dataset(p)
    assert ds.encoding == name
    assert ds.frame.collect().rows() == [("Île", "été")]
    assert ds.columns == ["région", "note"]


def test_encoding_override_wins(tmp_path, fk_home):
    p = tmp_path / "m.csv"
    p.write_bytes("a,b\nx,é\n".encode("mac_roman"))
    ds = load_dataset(p, encoding="macroman")
    assert ds.frame.collect()["b"].to_list() == ["é"]
    with pytest.raises(UsageError, match="unknown encoding"):
        load_dataset(p, encoding="klingon-8")


@pytest.mark.parametrize("delim", [",", "\t", ";", "|"])
def test_delimiters_sniffed(tmp_path, fk_home, delim):
    rows = [["id", "answer", "score"], ["1", "good, very good", "3.5"], ["2", "bad", "1.0"]]
    body = "\n".join(delim.join(f'"{v}"' if delim in v or "," in v and delim == "," else v for v in r)
                     for r in rows) + "\n"
    p = tmp_path / "d.txt"
    p.write_text(body, encoding="utf-8")
    ds = load_dataset(p)
    assert ds.delimiter == delim
    assert ds.frame.collect()["answer"].to_list() == ["good, very good", "bad"]


@pytest.mark.parametrize("nl,name", [("\n", "LF"), ("\r\n", "CRLF"), ("\r", "CR")])
def test_newline_styles(tmp_path, fk_home, nl, name):
    p = tmp_path / "n.csv"
    p.write_bytes(nl.join(["a,b", "1,x", "2,y", ""]).encode())
    ds = load_dataset(p)
    assert ds.extra["newline"] == name
    assert ds.frame.collect().rows() == [(1, "x"), (2, "y")]


def test_binary_detection_names_common_files():
    assert sniff.binary_name(b"\x89PNG\r\n\x1a\n....") == "a PNG image"
    assert sniff.binary_name(b"%PDF-1.7\n") == "a PDF document"
    assert sniff.binary_name(b"a,b,c\n\x00,2,3\n") is None  # one stray NUL is a messy CSV
    assert sniff.binary_name(bytes(range(256)) * 10) == "a binary file"
    assert sniff.binary_name(codecs.BOM_UTF16_LE + "a,b\n".encode("utf-16-le")) is None


def test_utf16_without_bom_is_recognised(tmp_path, fk_home):
    p = tmp_path / "u.csv"
    p.write_bytes("name,value\nalpha,1\nbeta,2\n".encode("utf-16-le"))
    ds = load_dataset(p)
    assert ds.encoding == "utf-16-le"
    assert ds.frame.collect()["name"].to_list() == ["alpha", "beta"]


def test_undecodable_bytes_are_counted_not_hidden(tmp_path, fk_home):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"a,b\n1,ok\n2,\xff\xfe broken\n")
    ds = load_dataset(p, encoding="utf-8")
    assert ds.extra["repairs"]["replaced_chars"] == 2
    assert any("U+FFFD" in n for n in ds.notes)


def test_unreadable_file_message(tmp_path, monkeypatch):
    p = tmp_path / "secret.csv"
    p.write_text("a\n1\n")
    import fieldkit.io.dataset as dataset

    monkeypatch.setattr(dataset.os, "access", lambda path, mode: False)
    with pytest.raises(InputError, match="permission denied") as e:
        load_dataset(p)
    assert "permissions" in e.value.hint
