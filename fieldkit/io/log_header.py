"""Per-file log header inference: where the timestamp is, and which leading fields are a header.

Why: every system writes its own header, and templates mined over `host sshd[123]: ...` or
`[10.30 16:49:06] chrome.exe - ...` split one event per host or program. So the layout is
learnt from a sample of the file itself: the timestamp grammar (a small set of date and time
shapes, found anywhere in the first tokens) and then, position by position after it, whether
the token has one constant *shape* on nearly every line (a level word, a number, `name[pid]`,
a `[bracketed block]`, a `dotted.Logger`, a token ending in `:`, a lone separator, or a word
padded into a column). The header ends at the first position whose shape varies: that is where
the message starts. The layout becomes one anchored regex that Polars applies to every line.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

HEADER_COLS = ("host", "process", "pid", "thread", "component", "context")

# LOG and PANIC are PostgreSQL's (`... [pid] LOG:  checkpoint starting`): LOG is its informational level.
# SILLY and TIMING are Node's loggers' (npmlog, winston): below INFO, so TRACE / DEBUG. Not HTTP (theirs too):
# a JSON log's `scheme: http` field would read as a level.
LEVEL_WORDS = ("TRACE", "DEBUG", "INFO", "INFORMATION", "NOTICE", "WARNING", "WARN", "ERROR", "ERR",
               "SEVERE", "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "FAILURE", "VERBOSE", "FINE",
               "FINER", "FINEST", "CONFIG", "LOG", "PANIC", "SILLY", "TIMING")
LEVEL_NORMAL = {"WARNING": "WARN", "ERR": "ERROR", "CRIT": "CRITICAL", "INFORMATION": "INFO",
                "V": "TRACE", "D": "DEBUG", "I": "INFO", "W": "WARN", "E": "ERROR", "F": "FATAL",
                "A": "FATAL", "VERBOSE": "TRACE", "FINE": "DEBUG", "FINER": "TRACE", "FINEST": "TRACE",
                "CONFIG": "INFO", "LOG": "INFO", "PANIC": "FATAL", "SILLY": "TRACE", "TIMING": "DEBUG"}
_LEVEL_SET = set(LEVEL_WORDS)
LEVEL_ALT = "|".join(LEVEL_WORDS)
_LETTERS = set("VDIWEFA")

_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_FRAC = r"(?:[.,]\d{1,9})?"
# Zone names written after the time (postgres `... 01:45:01.123 PDT [pid]`, `date`'s `... EST 2021`): part of
# the timestamp, not a host. Kept as written (naive) except UTC/GMT: a name does not say its offset for sure.
ZONE_NAMES = ("UTC|GMT|CEST|CET|EEST|EET|WEST|WET|BST|IST|MSK|EST|EDT|CST|CDT|MST|MDT|PST|PDT|AKST|AKDT|HST|"
              "JST|KST|HKT|SGT|AEST|AEDT|ACST|ACDT|AWST|NZST|NZDT")
_ZONE = r"(?:\s?(?:Z|[+-]\d{2}:?\d{2})|\s?(?:" + ZONE_NAMES + r")\b)?"
ZONE_END = r"\s?(?:Z|[+-]\d{2}:?\d{2}|" + ZONE_NAMES + r")$"  # what is cut off before strptime
CTIME_ZONE = r" (?:" + ZONE_NAMES + r") (\d{4})$"  # a ctime stamp's zone, before the year


@dataclass(frozen=True)
class TimeForm:
    """One timestamp shape: its regex (no groups) and how the text is turned into a datetime."""

    name: str
    pattern: str
    fmt: str  # Polars strptime format after normalisation ("epoch" / "compact_ms" are special)
    has_year: bool = True


# A grammar of date and time shapes, not a list of products: any header may carry any of them.
TIME_FORMS: tuple[TimeForm, ...] = (
    TimeForm("iso", r"\d{4}-\d{2}-\d{2}(?:T| {1,2})\d{2}:\d{2}:\d{2}" + _FRAC + _ZONE, "%Y-%m-%d %H:%M:%S%.f"),
    TimeForm("ymd_slash", r"\d{4}/\d{2}/\d{2}(?:T| {1,2})\d{2}:\d{2}:\d{2}" + _FRAC + _ZONE, "%Y/%m/%d %H:%M:%S%.f"),
    TimeForm("yday", r"\d{4}-\d{3}T\d{2}:\d{2}:\d{2}" + _FRAC, "%Y-%jT%H:%M:%S%.f"),  # ISO 8601 ordinal date
    TimeForm("ymd_dash_dots", r"\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}(?:\.\d{1,9})?", "%Y-%m-%d-%H.%M.%S%.f"),
    TimeForm("ctime", _DAY + r" " + _MON + r" [ \d]?\d \d{2}:\d{2}:\d{2}(?:\.\d+)?(?: (?:" + ZONE_NAMES + r"))? \d{4}",
             "%a %b %e %H:%M:%S%.f %Y"),
    TimeForm("clf", r"\d{2}/" + _MON + r"/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?", "%d/%b/%Y:%H:%M:%S"),
    TimeForm("dmy_mon", r"\d{1,2} " + _MON + r" \d{4} \d{2}:\d{2}:\d{2}" + _FRAC, "%e %b %Y %H:%M:%S%.f"),
    TimeForm("mdy_slash", r"\d{2}/\d{2}/\d{4}[ T]\d{2}:\d{2}:\d{2}" + _FRAC, "%m/%d/%Y %H:%M:%S%.f"),
    TimeForm("yy_slash", r"\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}" + _FRAC, "%y/%m/%d %H:%M:%S%.f"),
    TimeForm("compact_ms", r"\d{8}-\d{1,2}:\d{1,2}:\d{1,2}:\d{1,3}", "compact_ms"),
    TimeForm("compact", r"\d{8}[T ]\d{6}" + _FRAC, "%Y%m%d %H%M%S%.f"),
    TimeForm("yymmdd", r"\d{6} \d{6}", "%y%m%d %H%M%S"),
    TimeForm("mon_year", _MON + r" [ \d]?\d,? \d{4},? \d{1,2}:\d{2}:\d{2}" + _FRAC, "%b %e %Y %H:%M:%S%.f"),
    TimeForm("syslog", _MON + r" [ \d]?\d \d{2}:\d{2}:\d{2}" + _FRAC, "%b %e %H:%M:%S%.f", False),
    TimeForm("md_dash", r"\d{2}-\d{2} \d{2}:\d{2}:\d{2}" + _FRAC, "%m-%d %H:%M:%S%.f", False),
    TimeForm("md_dot", r"\d{2}\.\d{2} \d{2}:\d{2}:\d{2}" + _FRAC, "%m.%d %H:%M:%S%.f", False),
    TimeForm("md_slash", r"\d{2}/\d{2} \d{2}:\d{2}:\d{2}" + _FRAC, "%m/%d %H:%M:%S%.f", False),
    TimeForm("glog", r"[IWEF]\d{4} \d{2}:\d{2}:\d{2}" + _FRAC, "%m%d %H:%M:%S%.f", False),
    TimeForm("epoch", r"1\d{9}(?:\.\d{1,9}|\d{9}|\d{6}|\d{3})?", "epoch"),  # s, ms, us, ns
    TimeForm("time", r"\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?", "%H:%M:%S%.f", False),
)
_FORM_RES = [re.compile(r"(?<![\w.:-])(" + f.pattern + r")(?!\w|[:.]\d)") for f in TIME_FORMS]


def plausible(form: TimeForm, text: str) -> bool:
    """Whether a text of this form is a real date and time (month <= 12, hour < 24 ...).

    Why: the all-digit forms also match plain numbers (`262144 262144` has the yymmdd shape);
    a shape whose fields are out of range is a number, not a timestamp, whatever the file.
    """
    if form.fmt in ("epoch", "compact_ms"):
        return True
    t = re.sub(r"(:\d{2}|\.\d{2}\.\d{2}|\d{6})[.,]\d{1,9}", r"\1", text.strip())  # the seconds' fraction
    t = re.sub(CTIME_ZONE, r" \1", t) if form.name == "ctime" else re.sub(ZONE_END, "", t)
    fmt = form.fmt.replace("%.f", "").replace("%e", "%d")
    if form.name == "glog":
        t = t[1:]
    if form.name in ("iso", "ymd_slash"):
        t = t.replace("T", " ", 1)
    if form.name == "mon_year":
        t = t.replace(",", "")
    if not form.has_year and form.name != "time":
        t, fmt = "2000 " + t, "%Y " + fmt  # a leap year: Feb 29 is a date
    try:
        datetime.strptime(" ".join(t.split()), " ".join(fmt.split()))
    except ValueError:
        return False
    return True
MAX_PREFIX_TOKENS = 6
_TS_END = r"(?:[\s,|:\]]|$)"

# Header token tokenizer: a bracketed block (one nesting level), or a run of non-blanks.
_BRACKET = r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]"
_TOKEN = re.compile(r"\s*(" + _BRACKET + r"|\([^()]*\)|<[^<>\s]*>|\S+)(\s*)")
_PROCPID = re.compile(r"^([\w./()@-]+)\[(\d+)\]:?$")
_DOTTED = re.compile(r"^[A-Za-z_][\w$]*(?:\.[\w$]+)+$")
_COLON = re.compile(r"^[^\s:]*[^\s:\d][^\s:]*:$")
_TAG = re.compile(r"^[A-Z][A-Z0-9_]*:$")  # an upper-case word and a colon: `ERROR:`, `DETAIL:`, `STATEMENT:`
_SEPS = {"-", "|", ",", ":", "--", ">", "::", "-->", "=>"}

# Per-shape regex fragments; group names are filled in by _field_regex.
_SHAPE_RE = {
    "num": r"-?\d+",
    "bracket": r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]",
    "paren": r"\([^()]*\)",
    "angle": r"<[^<>\s]*>",
    "dotted": r"[A-Za-z_][\w$]*(?:\.[\w$]+)+",
    "word": r"[^\s\[\]]+",
}


def _shape(tok: str, letters_ok: bool = True) -> str:
    bare = tok.strip("[]<>():").upper()
    if bare in _LEVEL_SET and len(tok) - len(bare) <= 3:
        return "level"
    if letters_ok and len(tok) == 1 and tok in _LETTERS:
        return "letter"
    if tok in _SEPS:
        return "sep"
    if tok.lstrip("-").isdigit():
        return "num"
    if _PROCPID.match(tok):
        return "colon" if tok.endswith(":") else "procpid"
    if tok.startswith("["):
        return "bracket"
    if tok.startswith("(") and tok.endswith(")"):
        return "paren"
    if tok.startswith("<") and tok.endswith(">"):
        return "angle"
    if _COLON.match(tok):
        return "colon"
    if _DOTTED.match(tok):
        return "dotted"
    return "word"


@dataclass
class Layout:
    """What was learnt about one file's header (also what the digest reports about it)."""

    form: TimeForm | None = None
    prefix_tokens: int = 0  # whitespace tokens before the timestamp (a file name, an epoch, ids ...)
    ts_open: str = ""  # `[` when the timestamp is bracketed
    ts_close: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)  # (shape, literal for separators)
    names: list[str | None] = field(default_factory=list)  # column each field fills (None: dropped)
    prefix_names: list[str | None] = field(default_factory=list)
    pipe: int = 0  # `|`- or `:`-separated header: number of fields before the message
    sep: str = "|"
    ts_share: float = 0.0  # share of sampled lines whose timestamp was found
    first_ts: bool = False  # the file's first line has it
    has_pid: bool = False  # a `name[pid]:` field carries pids on some lines
    json: object = None  # a fieldkit.io.log_json.JsonLayout for JSON-lines logs
    comments: bool = False  # `#` lines are directives (W3C `#Fields:`), not entries
    preamble: int = 0  # lines before the first timestamped one (a file header such as W3C `#Fields:`), not entries
    year: int | None = None  # for year-less timestamps
    year_source: str = ""  # where that year came from (said in the digest)
    mtime: datetime | None = None
    inner: "Layout | None" = None  # a header at the start of the messages (syslog in JSON lines, a service's own)

    @property
    def ts_mode(self) -> bool:
        """Records start at the timestamp: a line without one continues the record before it."""
        return self.json is None and self.form is not None and (
            self.ts_share >= 0.5 or (self.first_ts and self.ts_share >= 0.05))

    @property
    def columns(self) -> list[str]:
        if self.json is not None:
            names = list(self.json.columns)
        else:
            names = [n for n in self.prefix_names + self.names if n]
            if self.has_pid or any(s == "procpid" for s, _ in self.fields):
                names.append("pid")
        if self.inner is not None:
            names += [c for c in self.inner.columns if c != "level" and c not in names]
        return names

    def describe(self) -> str:
        nested = f"; in the messages: {self.inner.describe()}" if self.inner is not None else ""
        if self.json is not None:
            j = self.json
            return ", ".join(["JSON lines"] + [f"{what} at {p}" for what, p in (
                ("timestamp", j.ts_path), ("level", j.level_path), ("message", j.msg_path), *j.columns.items())
                if p]) + nested
        parts = [f"timestamp {self.form.name}" if self.form else "no timestamp"]
        parts += [n for n in dict.fromkeys(self.columns)]
        return ", ".join(parts) + nested

    # --- regexes ----------------------------------------------------------------------------------
    def ts_regex(self) -> str:
        """Anchored regex matching the header up to the end of the timestamp (a record start)."""
        if self.form is None:
            return ""
        pre = "".join(rf"(?P<p{i}>\S+)\s+" for i in range(self.prefix_tokens))
        return ("^" + pre + re.escape(self.ts_open) + "(?P<ts>" + self.form.pattern + ")" + re.escape(self.ts_close)
                + _TS_END)

    def header_regex(self) -> str:
        """Anchored regex for the header and the blanks after it, with a named group per column.

        What it leaves of a line is the message; matching the header alone (not `(?P<msg>.*)$`
        as well) keeps the capture engine off the message text, the long part of a line.
        """
        base = self.ts_regex()[:-len(_TS_END)] if self.form else "^"
        if self.pipe:
            sep = re.escape(self.sep)
            parts = "".join(rf"{sep}(?P<f{i}>[^{sep}]*)" for i in range(self.pipe))
            return base + r"\s*" + parts + sep + r"\s*"
        out = base
        for i, (shape, lit) in enumerate(self.fields):
            sep = r"\s*" if (i == 0 or shape in ("sep", "bracket") or self.fields[i - 1][0] == "sep") else r"\s+"
            sep = "" if shape == "tag" else sep
            out += sep + _field_regex(shape, lit, f"f{i}")
        return out + r"(?:\s+|$)" if self.fields else out + r"(?:[\s,|\]]+|$)"

    def full_regex(self) -> str:
        """`header_regex` followed by the message as group `msg`."""
        return self.header_regex() + r"(?P<msg>.*)$"


def _field_regex(shape: str, lit: str, name: str) -> str:
    if shape == "level":
        return rf"[\[<(]?(?P<{name}>(?i:{LEVEL_ALT}))[\]>)]?:?"
    if shape == "letter":
        return rf"(?P<{name}>[VDIWEFA])"
    if shape == "sep":
        return re.escape(lit)
    if shape == "tag":  # blanks included: when the word is not a level the message starts at it
        return rf"(?:\s+(?P<{name}>(?i:{LEVEL_ALT})):)?"
    if shape == "procpid":
        return rf"(?P<{name}>[\w./()@-]+)\[(?P<{name}pid>\d+)\]:?"
    if shape == "colon":
        return rf"(?P<{name}>[^\s:\[]*[^\s:\d\[][^\s:\[]*)(?:\[(?P<{name}pid>\d+)\])?:"
    if shape == "padded":
        return rf"(?P<{name}>\S+)"
    inner = _SHAPE_RE[shape]
    if shape == "bracket":
        return rf"\[(?P<{name}>(?:[^\[\]]|\[[^\[\]]*\])*)\]"
    return rf"(?P<{name}>{inner})"


def find_timestamps(line: str) -> list[tuple[int, int, int, str, str]]:
    """Every timestamp in the first tokens: (form index, prefix token count, end offset, opening, closing)."""
    out = []
    head = line[:240]
    taken: list[tuple[int, int]] = []
    for i, rx in enumerate(_FORM_RES):
        for m in rx.finditer(head):
            start, end = m.start(1), m.end(1)
            if not plausible(TIME_FORMS[i], m.group(1)):
                continue
            if any(a <= start < b or start <= a < end for a, b in taken):
                continue  # a longer form already claimed this text
            before = head[:start]
            opening = ""
            if before.endswith(("[", "(", '"')):
                opening, before = before[-1], before[:-1]
            if before and not before[-1].isspace():
                continue
            k = len(before.split())
            if k > MAX_PREFIX_TOKENS:
                break
            closing = head[end] if opening and head[end:end + 1] in ("]", ")", '"') else ""
            taken.append((start, end))
            out.append((i, k, end + len(closing), opening, closing))
    return out


def _tokens(rest: str, n: int = 8) -> list[tuple[str, str]]:
    out, pos = [], 0
    while len(out) < n:
        m = _TOKEN.match(rest, pos)
        if m is None or not m.group(1):
            break
        out.append((m.group(1), m.group(2)))
        pos = m.end()
    return out


def infer_layout(lines: list[str], min_share: float = 0.9) -> Layout:
    """Learn the header layout from sample lines (record starts; a few hundred is plenty)."""
    lines = [ln for ln in lines if ln.strip()]
    lay = Layout()
    if not lines:
        return lay
    found = [{(f[0], f[1], f[3], f[4]): f[2] for f in find_timestamps(ln)} for ln in lines]
    keys = Counter(key for f in found for key in f)
    rests: list[str] = []
    if keys:
        top = keys.most_common(1)[0][1]
        # of the timestamps on (nearly) every line, the last one ends the header: what comes before
        # it (an epoch, a date, a file name, ids) is header too
        key = max((kk for kk, c in keys.items() if c >= 0.9 * top), key=lambda kk: (kk[1], keys[kk]))
        n = keys[key]
        if n / len(lines) >= 0.3 or (key in found[0] and n >= 3):
            form_i, k, op, cl = key
            lay.form, lay.prefix_tokens, lay.ts_open, lay.ts_close = TIME_FORMS[form_i], k, op, cl
            lay.ts_share = n / len(lines)
            lay.first_ts = key in found[0]
            rests = [ln[f[key]:] for ln, f in zip(lines, found) if key in f]
            lay.prefix_names = _name_prefix([ln.split()[:k] for ln, f in zip(lines, found) if key in f], k)
    if lay.form is None:
        rests = lines
    _infer_fields(lay, rests, min_share)
    return lay


def _name_prefix(rows: list[list[str]], k: int) -> list[str | None]:
    """Columns for the tokens before the timestamp: a host-like one is the host, the rest context."""
    names: list[str | None] = []
    for i in range(k):
        vals = [r[i] for r in rows if len(r) > i]
        hostish = sum(bool(re.match(r"^[A-Za-z][\w-]*\d[\w.:/-]*$", v)) for v in vals)
        dotted = sum(bool(_DOTTED.match(v)) and not re.search(r"\d", v) for v in vals)
        if "host" not in names and vals and hostish / len(vals) >= 0.9:
            names.append("host")
        elif "component" not in names and vals and dotted / len(vals) >= 0.9:
            names.append("component")
        else:
            names.append("context")
    return names


def _infer_fields(lay: Layout, rests: list[str], min_share: float) -> None:
    if not rests:
        return
    n = len(rests)
    stripped = [r.lstrip(" ,") for r in rests]
    for sep in "|:":
        if sum(r.startswith(sep) for r in stripped) / n < min_share:
            continue
        rows = [r.split(sep)[1:] for r in stripped]
        k = 0  # leading fields that are one token and followed by another separator on nearly every line
        while k < 4 and sum(len(row) > k + 1 and row[k].strip() and " " not in row[k].strip()
                            for row in rows) / n >= min_share:
            k += 1
        if k == 0:
            continue
        lay.pipe, lay.sep = k, sep
        shapes = []
        for i in range(k):
            vals = [row[i].strip() for row in rows if len(row) > i + 1]
            c = Counter(_shape(v, False) for v in vals).most_common(1)[0][0]
            shapes.append((c if c in ("level", "num", "dotted") else "word", ""))
        lay.fields = [("pipe", "")] * k
        # delimited headers name their own fields: words are components, numbers pids, levels levels
        names: list[str | None] = []
        for shape, _ in shapes:
            want = {"level": "level", "num": "pid"}.get(shape, "component")
            names.append(want if want not in names else "context")
        lay.names = names
        return
    toks = [_tokens(r) for r in rests]
    letters = all(len(t) > 2 and t[2][0] in _LETTERS for t in toks[:50]) or \
        all(len(t) > 0 and t[0][0] in _LETTERS for t in toks[:50])

    def dominant(i: int) -> tuple[str, float, str, float]:
        shapes = Counter()
        pads = 0
        lits = Counter()
        for t in toks:
            if len(t) > i:
                s = _shape(t[i][0], letters)
                shapes[s] += 1
                pads += len(t[i][1]) >= 2
                if s == "sep":
                    lits[t[i][0]] += 1
        if not shapes:
            return "none", 0.0, "", 0.0
        s, c = shapes.most_common(1)[0]
        return s, c / n, (lits.most_common(1)[0][0] if lits else ""), pads / n

    i, seen_level = 0, False
    while i < 7:
        s, share, lit, pad = dominant(i)
        if share < min_share:
            if lay.form is not None and _tagged(toks, i, n, min_share):
                lay.fields.append(("tag", ""))
            break
        if s in ("level", "letter", "num", "procpid", "bracket", "sep", "dotted", "paren", "angle"):
            lay.fields.append((s, lit))
            seen_level |= s in ("level", "letter")
            if s == "dotted" and not seen_level and not _ahead(dominant, i, min_share):
                lay.fields.pop()
                break
            i += 1
            continue
        if s == "colon":
            lay.fields.append((s, lit))
            lay.has_pid = any(len(t) > i and _PROCPID.match(t[i][0]) for t in toks)
            break
        if s == "word":
            # a word is a header field when a header shape follows soon, or when it is padded into a column
            if _ahead(dominant, i, min_share) or (seen_level and pad >= min_share):
                lay.fields.append(("padded" if pad >= min_share else "word", lit))
                i += 1
                continue
        break
    # a number right before the message is part of it unless a level or name comes after it
    while lay.fields and lay.fields[-1][0] in ("num", "dotted") and not seen_level and len(lay.fields) == 1 \
            and lay.form is None:
        lay.fields.pop()
    lay.names = _name_fields(lay.fields)


def _tagged(toks: list[list[tuple[str, str]]], i: int, n: int, min_share: float) -> bool:
    """Position i holds `WORD:` on nearly every line and a level word on a good share of them (PostgreSQL's
    `ERROR:` lines followed by `DETAIL:`/`STATEMENT:` ones): the level when it is one, else the message's start."""
    words = [t[i][0] for t in toks if len(t) > i and _TAG.match(t[i][0])]
    levels = sum(w[:-1] in _LEVEL_SET for w in words)
    return len(words) / n >= min_share and levels / n >= 1 - min_share and levels < len(words)


def _ahead(dominant, i: int, min_share: float) -> bool:
    for j in range(i + 1, min(i + 4, 7)):
        s, share, _, _ = dominant(j)
        if share < min_share:
            return False
        if s in ("level", "letter", "procpid", "colon", "sep"):
            return True
        if s not in ("word", "num", "dotted", "bracket"):
            return False
    return False


def _name_fields(fields: list[tuple[str, str]]) -> list[str | None]:
    """Column names from shapes and order: numbers are pid then thread, words before a level are host then component."""
    names: list[str | None] = []
    level_at = next((i for i, (s, _) in enumerate(fields) if s in ("level", "letter")), None)
    for i, (s, _) in enumerate(fields):
        before_level = level_at is None or i < level_at
        if s in ("level", "letter", "tag"):
            names.append("level")
        elif s == "sep":
            names.append(None)
        elif s == "num":
            names.append("pid" if "pid" not in names else "thread")
        elif s == "procpid":
            names.append("process")
        elif s in ("bracket", "paren", "angle"):
            names.append("thread" if ("thread" not in names and level_at is not None and i > level_at
                                      and "component" not in names) else "context")
        elif s == "colon":
            names.append("component" if (not before_level or "process" in names) else "process")
        elif s == "dotted":
            names.append("component")
        else:  # word / padded
            if before_level and "host" not in names and "process" not in names and not any(
                    n == "component" for n in names):
                nxt = fields[i + 1][0] if i + 1 < len(fields) else ""
                names.append("process" if nxt == "sep" else "host")
            elif "component" not in names:
                names.append("component")
            else:
                names.append("context")
    return names
