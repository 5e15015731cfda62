"""The cleaning log: changes applied where old_value still holds, refused (and reported) elsewhere."""

from __future__ import annotations

import pytest

from fieldkit.analysis.cleaning import apply_log, read_log
from fieldkit.errors import InputError
from fieldkit.io import load_dataset
from tests.conftest import shared


@pytest.fixture(scope="module")
def irq():
    ds = load_dataset(shared("survey", "reach_irq_talafar_water_raw.xlsx"))
    return ds.frame.collect()


def _log(tmp_path, rows: list[str]):
    p = tmp_path / "log.csv"
    p.write_text("uuid,question,old_value,new_value,reason,who,when\n" + "\n".join(rows) + "\n",
                 encoding="utf-8")
    return read_log(p)


def test_log_applies_matching_rows_and_refuses_stale_ones(tmp_path, irq):
    u = irq["X_uuid"].to_list()
    age = irq["age_respondent_r"].to_list()
    log = _log(tmp_path, [
        f"{u[0]},age_respondent_r,{age[0]},25,typo,ana,2021-07-06",
        f"{u[0]},age_respondent_r,25,26,second look,ana,2021-07-07",  # chained on the same cell
        f"{u[1]},hhh_r,yes,no,wrong answer,bob,2021-07-06",
        f"{u[2]},age_respondent_r,{age[2] + 1},40,stale,bob,2021-07-06",  # old value moved
        "not-a-uuid,age_respondent_r,1,2,x,y,z",
        f"{u[1]},no_such_question,1,2,x,y,z",
        f"{u[3]},primary_livelihood_other,NA,carpenter,recode,ana,2021-07-08",
    ])
    res = apply_log(irq.lazy(), log, "X_uuid")
    out = res.frame.collect()
    assert out["age_respondent_r"][0] == 26 and out["hhh_r"][1] == "no"
    assert out["primary_livelihood_other"][3] == "carpenter"
    assert out["age_respondent_r"][2] == age[2]  # refused: untouched
    assert out.schema == irq.schema and out.height == irq.height
    changed = [c for c in irq.columns if not out[c].equals(irq[c], check_names=True)]
    assert sorted(changed) == ["age_respondent_r", "hhh_r", "primary_livelihood_other"]
    assert sorted(res.applied["log_row"].to_list()) == [2, 3, 4, 8]
    assert dict(zip(res.refused["log_row"].to_list(), res.refused["problem"].to_list())) == {
        5: f"old_value no longer matches: the data holds {age[2]}",
        6: "uuid not in the data",
        7: "no such column in the data",
    }


def test_wrong_type_and_bad_log_are_input_errors(tmp_path, irq):
    u = irq["X_uuid"][0]
    log = _log(tmp_path, [f"{u},age_respondent_r,{irq['age_respondent_r'][0]},forty,typo,ana,now"])
    with pytest.raises(InputError, match="not a valid Int64"):
        apply_log(irq.lazy(), log, "X_uuid").frame.collect()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,column,old,new\n1,a,b,c\n")
    with pytest.raises(InputError, match="has no column 'uuid'"):
        read_log(bad)
