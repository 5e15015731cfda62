"""The questionnaire: an XLSForm (survey, choices, settings) read with pyxform, matched to a dataset.

pyxform is the reference XLSForm converter (ODK/Kobo use it), so reading through it gets the
same survey tree, bindings and translations the data was collected with. This module keeps
what later steps need: each question's path, type, labels per language, relevant (with the
enclosing groups'), constraint, and choices; and which dataset column holds which question
(bare names, `group/q`, `group.q`, and select_multiple options as `q/option` or `q.option`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fieldkit.errors import InputError, UsageError

NO_DATA_TYPES = {"note", "begin group", "end group", "group", "repeat", "survey", "audit",
                 "begin repeat", "end repeat"}
META_TYPES = {"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber",
              "username", "email", "audit", "start-geopoint"}
DEFAULT_LANG = "default"
LANG_RE = re.compile(r"^(?P<name>.*?)\s*\((?P<code>[A-Za-z\-]+)\)\s*$")


@dataclass
class Question:
    """One survey question as the form defines it."""

    name: str
    type: str  # pyxform's type: "select one", "select all that apply", "integer", "text", ...
    path: tuple[str, ...]  # enclosing group names, outermost first
    labels: dict[str, str] = field(default_factory=dict)  # language -> label
    relevant: str = ""  # own relevant
    group_relevants: list[str] = field(default_factory=list)  # the enclosing groups', outer first
    constraint: str = ""
    constraint_message: dict[str, str] = field(default_factory=dict)
    required: bool = False  # always, or when `required_if` holds
    required_if: str = ""  # a conditional required expression ("" when always or never)
    list_name: str | None = None
    in_repeat: bool = False
    repeats: tuple[str, ...] = ()  # the enclosing repeat groups, outermost first

    @property
    def is_select_one(self) -> bool:
        return self.type == "select one"

    @property
    def is_select_multiple(self) -> bool:
        return self.type == "select all that apply"

    @property
    def is_numeric(self) -> bool:
        return self.type in ("integer", "decimal", "range")

    @property
    def has_data(self) -> bool:
        return self.type not in NO_DATA_TYPES


@dataclass
class Choice:
    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Form:
    """The parsed XLSForm: questions in form order, choice lists, languages."""

    path: Path
    title: str
    questions: list[Question]
    choices: dict[str, list[Choice]]
    languages: list[str]
    default_language: str
    groups: dict[str, dict[str, str]] = field(default_factory=dict)  # group name -> labels
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {q.name: q for q in self.questions}

    def language(self, lang: str | None) -> str:
        """The form language meant by `lang` ('Arabic (ar)', 'Arabic', 'ar'); the default if None."""
        if lang is None:
            return self.default_language
        want = lang.strip().casefold()
        for full in self.languages:
            m = LANG_RE.match(full)
            names = {full.casefold()}
            if m:
                names |= {m.group("name").casefold(), m.group("code").casefold()}
            if want in names:
                return full
        shown = ", ".join(repr(x) for x in self.languages) or "(labels without a language)"
        raise UsageError(f"language {lang!r} is not in the form {self.path.name}",
                         f"its languages are: {shown}")

    def label(self, name: str, lang: str | None = None) -> str | None:
        q = self.by_name.get(name)
        return _pick(q.labels, self.language(lang), self.default_language) if q else None

    def choice_labels(self, list_name: str, lang: str | None = None) -> dict[str, str]:
        """choice name -> label in the language (falls back to the default, then the name)."""
        lang = self.language(lang)
        return {c.name: _pick(c.labels, lang, self.default_language) or c.name
                for c in self.choices.get(list_name, [])}


def _pick(labels: dict[str, str], lang: str, default: str) -> str | None:
    if not labels:
        return None
    return labels.get(lang) or labels.get(default) or next(iter(labels.values()))


def _labels(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v not in (None, "")}
    return {DEFAULT_LANG: str(value)}


def read_form(path: str | Path) -> Form:
    """Parse an XLSForm workbook; a missing survey sheet or a form pyxform rejects is an InputError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"form {path} does not exist", "give the XLSForm .xlsx with --form")
    _require_survey_sheet(path)
    try:
        from pyxform.errors import PyXFormError
        from pyxform.xls2json import parse_file_to_json
    except ImportError as e:  # pragma: no cover - a dependency of fieldkit
        raise InputError("reading XLSForms needs pyxform", "pip install pyxform") from e
    try:
        tree = parse_file_to_json(str(path), warnings=[])
    except PyXFormError as e:
        raise InputError(f"form {path.name} is not a valid XLSForm: {_first(e)}",
                         "fix the form (ODK's XLSForm rules), or check it with pyxform") from e
    except Exception as e:  # noqa: BLE001 - pyxform raises many kinds on damaged workbooks
        raise InputError(f"form {path.name} cannot be read: {type(e).__name__}: {_first(e)}",
                         "open it in a spreadsheet program and save it again as .xlsx") from e
    questions: list[Question] = []
    groups: dict[str, dict[str, str]] = {}
    langs: list[str] = []
    _walk(tree, (), [], (), questions, groups, langs)
    choices = {name: [Choice(str(c.get("name")), _labels(c.get("label"))) for c in items]
               for name, items in (tree.get("choices") or {}).items()}
    for items in choices.values():
        for c in items:
            _note_langs(c.labels, langs)
    default = str(tree.get("default_language") or DEFAULT_LANG)
    if default not in langs and langs:
        default = langs[0] if DEFAULT_LANG not in langs else DEFAULT_LANG
    return Form(path=path, title=str(tree.get("title") or path.stem), questions=questions,
                choices=choices, languages=langs, default_language=default, groups=groups,
                settings={k: tree[k] for k in ("id_string", "version") if tree.get(k)})


def _require_survey_sheet(path: Path) -> None:
    try:
        from python_calamine import CalamineWorkbook

        names = CalamineWorkbook.from_path(str(path)).sheet_names
    except Exception as e:  # noqa: BLE001 - calamine raises its own error types
        raise InputError(f"form {path.name} is not a readable Excel workbook: {_first(e)}",
                         "an XLSForm is an .xlsx file with survey and choices sheets") from e
    if "survey" not in [n.strip().lower() for n in names]:
        shown = ", ".join(repr(n) for n in names)
        raise InputError(f"form {path.name} has no 'survey' sheet",
                         f"an XLSForm needs a sheet named survey; its sheets are: {shown}")


def _note_langs(labels: dict[str, str], langs: list[str]) -> None:
    for k in labels:
        if k not in langs:
            langs.append(k)


def _walk(node: dict, path: tuple[str, ...], rels: list[str], repeats: tuple[str, ...],
          out: list[Question], groups: dict, langs: list[str]) -> None:
    for child in node.get("children") or []:
        ctype = str(child.get("type", ""))
        name = str(child.get("name", ""))
        bind = child.get("bind") or {}
        labels = _labels(child.get("label"))
        _note_langs(labels, langs)
        if ctype in ("group", "repeat") and child.get("children") is not None:
            groups[name] = labels
            own = [str(bind["relevant"])] if bind.get("relevant") else []
            _walk(child, path + (name,), rels + own,
                  repeats + ((name,) if ctype == "repeat" else ()), out, groups, langs)
            continue
        if ctype in ("survey",):
            continue
        out.append(Question(
            name=name, type=ctype, path=path, labels=labels,
            relevant=str(bind.get("relevant") or ""), group_relevants=list(rels),
            constraint=str(bind.get("constraint") or ""),
            constraint_message=_labels(bind.get("jr:constraintMsg")),
            required=_required(bind.get("required")) != "false", required_if=_required_if(bind),
            list_name=child.get("itemset") or child.get("list_name"), in_repeat=bool(repeats),
            repeats=repeats))


def _required(value: Any) -> str:
    """The bind's required as 'true', 'false' or its condition (pyxform keeps a condition as text)."""
    text = str(value if value is not None else "").strip()
    low = text.lower()
    if low in ("true", "yes", "true()", "1"):
        return "true"
    if low in ("", "false", "no", "false()", "0"):
        return "false"
    return text


def _required_if(bind: dict) -> str:
    r = _required(bind.get("required"))
    return "" if r in ("true", "false") else r


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:200] if lines else type(e).__name__


# ---- matching the form to a dataset's columns ----------------------------------------------

SEPS = ("/", ".", ":", "-")


def _norm(name: str) -> str:
    from fieldkit.io.survey import meta_key

    return meta_key(name)


@dataclass
class FormMatch:
    """Which dataset column holds which question, and the option columns of each select_multiple."""

    columns: dict[str, str]  # question name -> column
    options: dict[str, dict[str, str]]  # select_multiple name -> {choice name: option column}
    missing: list[str]  # questions with data that have no column

    def column_of(self, name: str) -> str | None:
        return self.columns.get(name)


def match_columns(form: Form, columns: list[str]) -> FormMatch:
    """Find each question's column: full group path with any separator first, then the bare name."""
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
        by_norm.setdefault(c.lower(), c)
    found: dict[str, str] = {}
    options: dict[str, dict[str, str]] = {}
    missing: list[str] = []
    for q in form.questions:
        if not q.has_data:
            continue
        candidates = [sep.join(q.path + (q.name,)) for sep in SEPS] if q.path else []
        candidates.append(q.name)
        col = next((by_norm.get(c.lower()) or by_norm.get(_norm(c)) for c in candidates
                    if by_norm.get(c.lower()) or by_norm.get(_norm(c))), None)
        if col is not None:
            found[q.name] = col
        if q.is_select_multiple and q.list_name:
            opts: dict[str, str] = {}
            bases = [col] if col else []
            bases += [c for c in candidates if c not in bases]
            for choice in form.choices.get(q.list_name, []):
                for base in bases:
                    hit = next((by_norm.get(f"{base}{sep}{choice.name}".lower())
                                for sep in SEPS if by_norm.get(f"{base}{sep}{choice.name}".lower())),
                               None)
                    if hit:
                        opts[choice.name] = hit
                        break
            if opts:
                options[q.name] = opts
        if col is None and q.name not in options and q.type not in META_TYPES:
            missing.append(q.name)
    return FormMatch(found, options, missing)


# ---- labels as a view -------------------------------------------------------------------------

def header_labels(form: Form, match: FormMatch, lang: str | None = None) -> dict[str, str]:
    """column -> label in `lang` for question columns and select_multiple option columns."""
    lang = form.language(lang)
    out: dict[str, str] = {}
    for q in form.questions:
        col = match.columns.get(q.name)
        label = _pick(q.labels, lang, form.default_language)
        if col and label:
            out[col] = label
        if q.name in match.options and q.list_name:
            names = form.choice_labels(q.list_name, lang)
            for choice, ocol in match.options[q.name].items():
                out[ocol] = f"{label or q.name}: {names.get(choice, choice)}"
    return out


def label_exprs(form: Form, match: FormMatch, schema: pl.Schema, lang: str | None = None
                ) -> list[pl.Expr]:
    """Expressions replacing select codes by their choice labels (select_multiple: each code)."""
    exprs: list[pl.Expr] = []
    for q in form.questions:
        col = match.columns.get(q.name)
        if not col or not q.list_name or not (q.is_select_one or q.is_select_multiple):
            continue
        mapping = form.choice_labels(q.list_name, lang)
        if not mapping:
            continue
        src = pl.col(col).cast(pl.String)
        if q.is_select_one:
            exprs.append(src.replace(mapping).alias(col))
        else:
            exprs.append(src.str.split(" ").list.eval(pl.element().replace(mapping))
                         .list.join("; ").alias(col))
    return exprs


def value_labels(form: Form, match: FormMatch, lang: str | None = None
                 ) -> dict[str, tuple[bool, dict[str, str]]]:
    """column -> (select_multiple?, code -> choice label in `lang`): what the TUI shows in cells."""
    out: dict[str, tuple[bool, dict[str, str]]] = {}
    for q in form.questions:
        col = match.columns.get(q.name)
        if col and q.list_name and (q.is_select_one or q.is_select_multiple):
            mapping = form.choice_labels(q.list_name, lang)
            if mapping and any(k != v for k, v in mapping.items()):
                out[col] = (q.is_select_multiple, mapping)
    return out


def describe(form: Form, match: FormMatch, lang: str | None = None) -> dict[str, Any]:
    """What `inspect --form` prints: languages, counts, unmatched questions, labels."""
    lang = form.language(lang)
    kinds: dict[str, int] = {}
    for q in form.questions:
        if q.has_data:
            kinds[q.type] = kinds.get(q.type, 0) + 1
    return {
        "form": str(form.path), "title": form.title, "languages": form.languages,
        "language": lang, "questions": sum(kinds.values()), "types": kinds,
        "groups": len(form.groups),
        "repeats": sorted({q.path[-1] for q in form.questions if q.in_repeat and q.path}),
        "matched": len(match.columns), "select_multiple_matched": len(match.options),
        "missing": match.missing,
        "labels": header_labels(form, match, lang),
    }
