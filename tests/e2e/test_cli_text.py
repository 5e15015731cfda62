"""`fieldkit themes`, `dupes` and `summarize` end to end on real answers and articles:
outputs, printed tables, exit codes and one-line errors with hints."""

from __future__ import annotations

import json

import polars as pl
import pytest

from fieldkit.cli import main
from fieldkit.io import load_dataset
from fieldkit.store import read_provenance
from tests.conftest import SAMPLE_DATA, shared

LEAST = "What do you like least about using R?"
RECOMMEND = "How likely are you to recommend R to a colleague, friend, or family member?"


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.fixture(scope="module")
def answers_csv(tmp_path_factory):
    """400 real "like least" answers (with their empties), a group column and two planted copies."""
    ds = load_dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv"))
    df = ds.frame.select(pl.col(LEAST).alias("answer"), pl.col(RECOMMEND).alias("score")).head(400).collect()
    copies = df.filter(pl.col("answer").str.len_chars() > 40).head(1)
    planted = copies.with_columns(pl.col("answer").str.to_uppercase())
    df = pl.concat([df, copies, planted])
    path = tmp_path_factory.mktemp("text") / "answers.csv"
    df.write_csv(path)
    return path, copies["answer"][0]


def test_themes_writes_all_rows_and_prints_the_table(capsys, answers_csv, tmp_path):
    path, _ = answers_csv
    out = tmp_path / "themes.parquet"
    code, stdout, err = run(capsys, "themes", str(path), "--column", "answer", "-o", str(out),
                            "--by", "score", "--labels", "keywords")
    assert code == 0, err
    df = pl.read_parquet(out)
    assert df.columns == ["answer", "score", "theme_id", "theme_label", "theme_score"]
    assert df.height == 402
    empty = df.filter(pl.col("answer").is_null())
    assert empty.height > 0 and (empty["theme_id"] == -1).all() and (empty["theme_label"] == "other").all()
    assert empty["theme_score"].null_count() == empty.height
    labels = df.filter(pl.col("theme_id") > 0).group_by("theme_id").agg(pl.col("theme_label").n_unique())
    assert (labels["theme_label"] == 1).all()
    assert "other" in stdout and "keywords:" in stdout and "share of each theme by score" in stdout
    assert f"wrote 402 rows" in stdout
    step = read_provenance(out)["steps"][-1]
    assert set(step) == {"operation", "parameters", "model", "model_sha256", "started", "seconds"}
    assert step["operation"] == "themes" and step["parameters"]["column"] == "answer" and step["model"]
    assert step["parameters"]["k"] == len(set(df["theme_id"].to_list()) - {-1})


def test_themes_forced_k(capsys, answers_csv, tmp_path):
    path, _ = answers_csv
    code, stdout, _ = run(capsys, "themes", str(path), "-c", "answer", "--k", "4", "--labels", "keywords")
    assert code == 0 and stdout.startswith("4 themes in 402 rows (k=4, forced)")


def test_missing_column_is_a_usage_error_with_a_hint(capsys, answers_csv, tmp_path):
    path, _ = answers_csv
    out = tmp_path / "keep.parquet"
    out.write_bytes(b"precious")
    for cmd in (["themes", str(path), "-c", "answr", "-o", str(out)],
                ["dupes", str(path), "-c", "answr", "-o", str(out)],
                ["summarize", str(path), "-c", "answr", "-o", str(out)]):
        code, stdout, err = run(capsys, *cmd)
        assert code == 2
        lines = err.strip().splitlines()
        assert lines[0] == "error: column 'answr' is not in answers.csv"
        assert lines[1].startswith("hint: did you mean: 'answer'")
        assert "Traceback" not in err
    assert out.read_bytes() == b"precious"  # an existing output is never damaged


def test_themes_refuses_a_column_without_words(capsys, tmp_path):
    """A text column of GPS readings (the sample Kobo export's 'gps') made themes of look-alike numbers, each
    "(no keywords)": refused with the reason and a hint, nothing written; dupes still runs on it."""
    src = SAMPLE_DATA / "kobo_water_survey.csv"
    out = tmp_path / "keep.parquet"
    out.write_bytes(b"precious")
    code, _, err = run(capsys, "themes", str(src), "-c", "gps", "-o", str(out))
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err
    assert lines[0].startswith("error: column 'gps' of kobo_water_survey.csv holds no words (values like '36.")
    assert lines[1].startswith("hint: pick a column of answers")
    assert out.read_bytes() == b"precious"
    code, _, err = run(capsys, "dupes", str(src), "-c", "gps", "--exact", "-o", str(tmp_path / "d.parquet"))
    assert code == 0, err


def test_dupes_exact_and_near(capsys, answers_csv, tmp_path):
    path, copied = answers_csv
    out = tmp_path / "dupes.parquet"
    code, stdout, err = run(capsys, "dupes", str(path), "-c", "answer", "--exact", "-o", str(out))
    assert code == 0, err
    df = pl.read_parquet(out)
    assert df.columns == ["answer", "score", "dup_group", "dup_size"]
    grp = df.filter(pl.col("answer").str.to_lowercase() == copied.lower())
    assert grp.height >= 3 and grp["dup_group"].n_unique() == 1 and grp["dup_group"][0] is not None
    assert df.filter(pl.col("answer").is_null())["dup_group"].null_count() == df["answer"].null_count()
    assert stdout.splitlines()[0].endswith("of 402 rows") and "(exact)" in stdout.splitlines()[0]
    code, stdout, _ = run(capsys, "dupes", str(path), "-c", "answer", "--threshold", "0.9")
    assert code == 0 and "near (cosine >= 0.9)" in stdout
    code, _, err = run(capsys, "dupes", str(path), "-c", "answer", "--threshold", "2")
    assert code == 2 and err.startswith("error: --threshold 2.0 is outside (0, 1]")


def test_summarize_a_text_file_quotes_the_article(capsys, tmp_path):
    row = json.loads(shared("summarization", "cnndm_dev_100.jsonl").open().readline())
    doc = tmp_path / "article.md"
    doc.write_text("# Kilmarnock\n\n" + row["article"], encoding="utf-8")
    code, stdout, err = run(capsys, "summarize", str(doc), "--sentences", "2")
    assert code == 0, err
    from fieldkit.analysis.sentences import split_sentences

    got = split_sentences(stdout.strip())
    assert 1 <= len(got) <= 3 and all(s in row["article"] for s in got)  # 2 +- 1: the word budget


def test_summarize_column_and_groups_to_parquet(capsys, answers_csv, tmp_path):
    path, _ = answers_csv
    code, stdout, _ = run(capsys, "summarize", str(path), "-c", "answer", "-n", "3")
    assert code == 0
    bullets = [line for line in stdout.splitlines() if line.startswith("- ")]
    assert len(bullets) == 3 and all("% of answers)" in b for b in bullets)
    out = tmp_path / "by.parquet"
    code, stdout, _ = run(capsys, "summarize", str(path), "-c", "answer", "--by", "score", "-o", str(out))
    assert code == 0
    df = pl.read_parquet(out)
    assert df.columns == ["group", "n_rows", "summary", "mode", "model"]
    assert df["n_rows"].sum() == 402 and (df["mode"] == "extractive").all()
    assert df["n_rows"].to_list() == sorted(df["n_rows"].to_list(), reverse=True)
    assert read_provenance(out)["steps"][-1]["operation"] == "summarize"


def test_summarize_abstractive_without_model_names_the_command(capsys, fk_home, tmp_path):
    doc = tmp_path / "a.txt"
    doc.write_text("One fact here. Another fact there. A third one.", encoding="utf-8")
    code, stdout, err = run(capsys, "summarize", str(doc), "--mode", "abstractive")
    assert code == 2 and stdout == ""
    assert err.strip().splitlines()[-1] == "hint: fieldkit models prepare smollm2-135m-instruct"


def test_summarize_dataset_without_column_and_bad_paths(capsys, answers_csv, tmp_path):
    path, _ = answers_csv
    code, _, err = run(capsys, "summarize", str(path))
    assert code == 2 and "say which column" in err and "hint: add --column" in err
    code, _, err = run(capsys, "summarize", str(tmp_path / "nope.txt"))
    assert code == 2 and err.startswith("error: ") and "does not exist" in err
    code, _, err = run(capsys, "summarize", str(path), "--by", "score")
    assert code == 2 and err.startswith("error: --by needs --column")


@pytest.mark.parametrize("argv", [
    ["themes", "--column", "feedback/comment"],
    ["dupes", "--column", "feedback/comment"],
    ["embed", "--column", "feedback/comment"],
])
@pytest.mark.parametrize("bad_out, message", [
    ("out.csv", "does not end in .parquet"),
    ("no_such_dir/out.parquet", "does not exist"),
])
def test_bad_output_is_refused_before_any_work(argv, bad_out, message, capsys, tmp_path, monkeypatch):
    # Review finding: `-o x.csv` silently wrote Parquet into x.csv, and a missing folder was
    # only noticed after the whole column had been embedded.
    import fieldkit.analysis.embeddings as emb

    def no_work(*a, **k):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(emb, "embed_column", no_work)
    sample = str(SAMPLE_DATA / "kobo_water_survey.csv")
    target = tmp_path / bad_out
    code, _, err = run(capsys, argv[0], sample, *argv[1:], "-o", str(target))
    assert code == 2 and err.startswith("error: ") and message in err and "Traceback" not in err
    assert not target.exists()


def test_summarize_by_group_says_what_each_group_says_more(capsys, tmp_path):
    """--by is contrastive: per group, themes it mentions more than the others, with true counts."""
    import re

    level = "How would you rate your level of experience using R?"
    ds = load_dataset(shared("survey", "rstudio_r_community_survey_2019_en.tsv"))
    df = (ds.frame.select(pl.col(LEAST).alias("answer"), pl.col(level).alias("level")).collect()
          .filter((pl.col("answer").str.strip_chars().str.len_chars() > 0) & pl.col("level").is_not_null()))
    path = tmp_path / "least.csv"
    df.write_csv(path)
    out = tmp_path / "groups.parquet"
    code, stdout, _ = run(capsys, "summarize", str(path), "-c", "answer", "--by", "level", "-o", str(out))
    assert code == 0
    table = pl.read_parquet(out)
    sizes = dict(df.group_by("level").len().iter_rows())
    assert dict(zip(table["group"], table["n_rows"])) == sizes
    found = 0
    for group, text in zip(table["group"], table["summary"]):
        for here, total, pct_here, pct_there in re.findall(
                r"\((\d+) of (\d+) answers here, (\d+)%; (\d+)% in the other groups\)", text):
            found += 1
            assert int(total) == sizes[group] and 0 < int(here) <= int(total)
            assert int(pct_here) > int(pct_there)  # a group's distinct theme is more frequent in it
        assert "words used more here:" in text or "nothing stands out" in text
    assert found >= 2, stdout
