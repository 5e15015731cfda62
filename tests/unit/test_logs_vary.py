"""Word-valued variables (package names, link groups) on real logs of programs the miner was not built with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from fieldkit.analysis.logtemplates import TemplateMiner, mask_expr
from fieldkit.analysis.logtemplates_vary import vary_mask
from fieldkit.io.logs import scan_log
from tests.conftest import shared
from tests.unit.test_logs_templates import grouping_accuracy

DPKG = Path(__file__).resolve().parent.parent / "data" / "logs" / "dpkg_excerpt.log"
OLD = {"sim_threshold": 0.8, "depth": 2, "token_classes": (), "vary": None}  # the miner before these rules


def dpkg_kind(raw: str) -> str:
    """dpkg(1) FILES: `startup type command`, `status state pkg version`, `action pkg v1 v2`, `conffile ...`."""
    w = raw.split()[2:]
    if w[0] == "status":
        return "status " + w[1]
    if w[0] == "startup":
        return " ".join(w[:3])
    return w[0]


def test_dpkg_lines_group_by_their_kind():
    """Each package was its own template (accuracy 0.07 on this excerpt): a package name is a variable."""
    df = scan_log(DPKG).collect()
    truth = pl.Series([dpkg_kind(r) for r in df["raw"]])
    miner = TemplateMiner()
    ids = miner.add_messages(df["message"])
    assert grouping_accuracy(ids, truth) == 1.0
    assert len(miner.clusters) == truth.n_unique()
    templates = set(miner.table()["template"])
    assert {"status unpacked <*>", "install <*> <none> <*>", "startup archives unpack"} <= templates
    assert grouping_accuracy(TemplateMiner(**OLD).add_messages(df["message"]), truth) < 0.2


def test_dpkg_params_put_back_give_each_message(tmp_path):
    from fieldkit.analysis.log_params import fill, line_params

    msgs = scan_log(DPKG).collect()["message"]
    miner = TemplateMiner()
    ids = miner.add_messages(msgs)
    templates = dict(zip(miner.table()["template_id"].to_list(), miner.table()["template"].to_list()))
    params = line_params(msgs, ids, templates)
    assert [fill(templates[i], p) for i, p in zip(ids.to_list(), params.to_list())] == msgs.to_list()
    first = msgs.to_list().index(next(m for m in msgs if m.startswith("status unpacked")))
    assert params[first].to_list() == [msgs[first].removeprefix("status unpacked ")]  # package and version


def test_a_small_enumeration_stays_two_events():
    """HealthApp's `action:...TIME_TICK` (144 lines) and `action:...SCREEN_ON` (17) are two loghub events."""
    msgs = scan_log(shared("logs", "HealthApp_2k.log")).collect()["message"]
    ids = TemplateMiner().add_messages(msgs)
    tick = ids.filter(msgs.str.contains("action:android.intent.action.TIME_TICK")).unique()
    screen = ids.filter(msgs.str.contains("action:android.intent.action.SCREEN_ON")).unique()
    assert tick.len() == 1 and screen.len() == 1 and tick[0] != screen[0]


def test_vary_needs_many_rare_values():
    names = ["pager", "vi", "awk", "editor", "rmt", "lzma"]
    lines = pl.Series([f"link group {n} updated" for n in names] + ["state up now", "state down now",
                                                                      "state gone now", "x y"])
    # six names seen once each: a variable; three states seen 50 times each: words of their own events
    counts = np.array([1] * 6 + [50, 50, 50, 1])
    got = vary_mask(lines, counts, 3, 0.2, 1).to_list()
    assert got[:6] == ["link group <*> updated"] * 6
    assert got[6:] == lines.to_list()[6:]
    assert vary_mask(lines, counts, 7, 0.2, 1).to_list() == lines.to_list()  # fewer values than asked
    assert vary_mask(pl.Series(["a b", "c b", "d b"]), np.ones(3), 3, 1.0, 1).to_list() == ["a b", "c b", "d b"]


def test_joined_values_are_one_token():
    got = pl.DataFrame({"m": ["Unpacking git (1:2.39.5-0+deb12u2) ...", "onExtend:1514038530000 14 0 4",
                              "at host:port 10.0.0.1:80 ok"]}).select(
        mask_expr(pl.col("m"), False, ("joined",)))["m"].to_list()
    assert got == ["Unpacking git <*> ...", "onExtend:<*>", "at host:port <*> ok"]
