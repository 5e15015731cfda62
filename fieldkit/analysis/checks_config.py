"""The high-frequency checks' settings: defaults, and a CHECKS.toml read with tomllib and validated.

A typo in a config file must not silently switch a check off, so unknown sections and keys
are refused with a did-you-mean hint, and every value is type-checked.
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from pathlib import Path
from typing import Any

from fieldkit.errors import InputError

# Thresholds: modified z-scores (0.6745 (x - median) / MAD, Iglewicz & Hoaglin). Their textbook
# cut-off 3.5 flagged 9-16% of real interviews and 2-6% of real numbers in the shared surveys;
# bench/cv_check_thresholds.py picks z by leave-one-dataset-out against a false-alarm budget
# (5% of interviews, 2% of answers) and the README quotes the left-out figures.
DEFAULTS: dict[str, Any] = {
    "id_column": "",  # default: the first of _uuid / X_uuid / uuid / instanceID / KEY
    "enumerator": "",  # default: a column named like enumerator*, then username/deviceid
    "dont_know": ["dont_know", "do_not_know", "dk", "don_t_know", "refuse", "refused",
                  "prefer_not_answer", "prefer_not_to_answer", "no_answer", "decline"],
    "duplicates": {"enabled": True, "near": True, "near_threshold": 0.95, "min_answers": 10,
                   "max_group": 200},
    "duration": {"enabled": True, "start": "", "end": "", "min_minutes": 5.0, "z": 6.0},
    "enumerators": {"enabled": True, "min_submissions": 5, "z": 3.5, "min_share_difference": 0.05,
                    "min_minutes_difference": 10.0},
    "other": {"enabled": True, "columns": [], "threshold": 0.85, "spelling_threshold": 0.8,
              "model": ""},
    "constraints": {"enabled": True},
    "relevant": {"enabled": True},
    # a required question blank in more than this share of the submissions that show it is
    # one finding for the question (another form version), not one per submission
    "required": {"enabled": True, "systematic_share": 0.5},
    "gps": {"enabled": True, "latitude": "", "longitude": "", "bbox": []},
    "outliers": {"enabled": True, "z": 6.0, "min_values": 10, "columns": [], "exclude": []},
}
CHECKS = ("duplicates", "duration", "enumerators", "other", "constraints", "relevant", "required",
          "gps", "outliers")


def _err(message: str, hint: str) -> InputError:
    return InputError(message, hint)


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(known)


def _check_value(where: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise _err(f"{where} must be true or false, not {value!r}", "write true or false")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _err(f"{where} must be a number, not {value!r}", f"for example {default}")
        if value < 0:
            raise _err(f"{where} must not be negative ({value})", f"for example {default}")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(f"{where} must be a whole number, not {value!r}", f"for example {default}")
        if value < 0:
            raise _err(f"{where} must not be negative ({value})", f"for example {default}")
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise _err(f"{where} must be a string, not {value!r}", 'quote it: key = "value"')
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise _err(f"{where} must be a list, not {value!r}", 'for example ["a", "b"]')
        return value
    return value


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """The defaults merged with a TOML file (validated); unknown keys are errors."""
    cfg = copy.deepcopy(DEFAULTS)
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise _err(f"config {p} does not exist", "give a CHECKS.toml file with --config")
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise _err(f"config {p.name} is not valid TOML: {str(e).splitlines()[0]}",
                       "see https://toml.io; sections like [duration], keys like min_minutes = 5") from e
    for key, value in {**raw, **(overrides or {})}.items():
        if key not in cfg:
            raise _err(f"unknown setting {key!r} in the checks config", _did_you_mean(key, list(cfg)))
        default = cfg[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise _err(f"[{key}] must be a section", f"write it as [{key}] with keys below it")
            for sub, v in value.items():
                if sub not in default:
                    raise _err(f"unknown setting {sub!r} in [{key}]", _did_you_mean(sub, list(default)))
                default[sub] = _check_value(f"{key}.{sub}", v, default[sub])
        else:
            cfg[key] = _check_value(key, value, default)
    bbox = cfg["gps"]["bbox"]
    if bbox:
        if len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
            raise _err("gps.bbox must be 4 numbers: [min_lon, min_lat, max_lon, max_lat]",
                       "for example bbox = [42.3, 36.3, 42.5, 36.5]")
        if bbox[0] > bbox[2] or bbox[1] > bbox[3]:
            raise _err("gps.bbox minimums are larger than its maximums",
                       "order: [min_lon, min_lat, max_lon, max_lat]")
    if not 0.0 < cfg["duplicates"]["near_threshold"] <= 1.0:
        raise _err("duplicates.near_threshold must be in (0, 1]", "the share of equal answers, e.g. 0.95")
    if not 0.0 < cfg["other"]["spelling_threshold"] <= 1.0:
        raise _err("other.spelling_threshold must be in (0, 1]", "character n-gram cosine, e.g. 0.8")
    if not 0.0 < cfg["required"]["systematic_share"] <= 1.0:
        raise _err("required.systematic_share must be in (0, 1]", "a share of submissions, e.g. 0.5")
    if not 0.0 < cfg["other"]["threshold"] <= 1.0:
        raise _err("other.threshold must be in (0, 1]", "cosine similarity, e.g. 0.85")
    return cfg
