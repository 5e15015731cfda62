"""JSON-lines logs (bunyan, pino, zap, MongoDB, journald exports ...): which keys hold time, level, message.

Why: structured loggers write one JSON object per line and name their keys as they like
(`time`, `ts`, `t.$date`, `@timestamp`; `msg`, `message`, `fields.message`). The time and
level keys are chosen from the values in a sample, not from their names: the time key is the one whose values
read as timestamps on nearly every line, the level key the one holding level words, the
message key the one named as loggers name it (`msg`, `message`, `MESSAGE`, `log` ...), else the
string key whose values hold the most words and vary. Polars then reads those
paths on every line (`str.json_path_match`), a malformed line simply gets nulls.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from fieldkit.io.log_header import _LEVEL_SET, LEVEL_NORMAL, TIME_FORMS, TimeForm, find_timestamps

BUNYAN_LEVELS = {"10": "TRACE", "20": "DEBUG", "30": "INFO", "40": "WARN", "50": "ERROR", "60": "FATAL"}
_MSG_NAMES = {"msg", "message", "short_message", "full_message", "text", "log", "body"}
_WORD = re.compile(r"(?<!\S)\S*[^\W\d_]\S*")  # a whitespace-separated token with a letter in it
_NAMES = {"host": ("host", "hostname", "hostName"), "process": ("process", "proc", "name", "app", "service"),
          "pid": ("pid",), "thread": ("thread", "threadName", "tid"),
          "component": ("logger", "logger_name", "component", "c", "target", "module")}


def _leaf(path: str) -> str:
    """The last key of a JSON path (`$['@fields'].msg` -> `msg`), as loggers name their fields."""
    return path.rsplit(".", 1)[-1].strip("[]'\"")


@dataclass
class JsonLayout:
    """JSON paths for the record fields (None when the sample had no such key)."""

    ts_path: str | None
    ts_form: TimeForm | None
    level_path: str | None
    msg_path: str | None
    columns: dict[str, str]  # header column -> path
    share: float  # sampled lines that parsed as JSON objects


def _flatten(obj: dict, prefix: str = "", depth: int = 0, out: dict | None = None) -> dict:
    out = {} if out is None else out
    for k, v in obj.items():
        path = f"{prefix}['{k}']" if not k.isidentifier() else f"{prefix}.{k}"
        if isinstance(v, dict) and depth < 1:
            _flatten(v, path, depth + 1, out)
        elif not isinstance(v, (dict, list)):
            out["$" + path] = v
    return out


def infer_json(lines: list[str], min_share: float = 0.9) -> JsonLayout | None:
    """The JSON layout of sample lines, or None when they are not (mostly) JSON objects."""
    lines = [ln.strip() for ln in lines if ln.strip()]
    if not lines or sum(ln.startswith("{") for ln in lines) / len(lines) < min_share:
        return None
    rows = []
    for ln in lines[:500]:
        try:
            obj = json.loads(ln)
        except ValueError:
            continue
        if isinstance(obj, dict):
            rows.append(_flatten(obj))
    if not rows or len(rows) / min(len(lines), 500) < 0.5:
        return None
    vals: dict[str, list] = defaultdict(list)
    for r in rows:
        for k, v in r.items():
            vals[k].append(v)
    n = len(rows)
    ts_path = ts_form = None
    best = 0.0
    for k, vs in vals.items():
        forms = Counter()
        for v in vs:
            hits = find_timestamps(str(v)) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else []
            if hits and hits[0][1] == 0:
                forms[hits[0][0]] += 1
        if forms:
            f, c = forms.most_common(1)[0]
            if c / n >= min_share and c / n > best:
                ts_path, ts_form, best = k, TIME_FORMS[f], c / n
    level_path = None
    for k, vs in vals.items():
        words = [re.sub(r"(?<=[A-Z])\d$", "", str(v).upper()) for v in vs]  # numbered levels: DEBUG1..DEBUG5
        ok = sum(w in _LEVEL_SET or w in LEVEL_NORMAL or w in BUNYAN_LEVELS for w in words)
        if k != ts_path and ok / n >= min_share and len(set(words)) <= 12:
            level_path = k
            break
    msg_path, best = None, -1.0
    for k, vs in vals.items():
        strs = [v for v in vs if isinstance(v, str)]
        if k in (ts_path, level_path) or len(strs) / n < 0.5:
            continue
        # a message is words: a cursor, trace id, logger name or timestamp string is one long
        # token (journald's __CURSOR, pino's trace_id and Cloudflare's EdgeStartTimestamp won on
        # length); a message key named as loggers name it wins outright
        named = _leaf(k).lower() in _MSG_NAMES
        words = sum(len(_WORD.findall(s)) for s in strs) / len(strs)
        score = (1e9 if named else 0.0) + words * (len(set(strs)) / len(strs)) ** 0.5 * (len(strs) / n)
        if score > best:
            msg_path, best = k, score
    columns = {}
    for col, names in _NAMES.items():
        for k in vals:
            last = _leaf(k)
            if last in names and k not in (ts_path, level_path, msg_path) and len(vals[k]) / n >= 0.5:
                columns[col] = k
                break
    return JsonLayout(ts_path, ts_form, level_path, msg_path, columns, len(rows) / min(len(lines), 500))
