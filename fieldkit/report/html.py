"""The report as one self-contained HTML page: inline SVG charts, tables, provenance.

Why hand-written HTML with `html.escape` and no template engine: the page is small and
fixed, every piece of data goes through one escaping function, and nothing is loaded from
anywhere (no script, font, stylesheet or image URL).
"""

from __future__ import annotations

import html
import json
from typing import Any, Callable

from fieldkit.report.model import Chart, Report, Section, Table
from fieldkit.report.words import Words

CSS = """
body{font-family:system-ui,"DejaVu Sans",sans-serif;margin:0 auto;max-width:62rem;padding:1.5rem;
color:#1d2330;background:#fff;line-height:1.45}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;border-bottom:2px solid #4e79a7;
padding-bottom:.2rem;margin-top:2.2rem}h3{font-size:1rem;margin:1.4rem 0 .4rem}
.meta{color:#596275;font-size:.9rem}figure{margin:.8rem 0}figure svg{max-width:100%;height:auto}
figcaption{font-weight:600;margin-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0 1rem;width:100%}
th,td{border-bottom:1px solid #dde1e8;padding:.25rem .5rem;text-align:start;vertical-align:top}
th{background:#f2f4f8}td.n{text-align:end;font-variant-numeric:tabular-nums}
.cut{color:#596275;font-size:.8rem}code,.mono{font-family:"DejaVu Sans Mono",monospace;font-size:.8rem;
word-break:break-all;direction:ltr;unicode-bidi:isolate}nav ol{columns:2}details{margin:.3rem 0}
@media print{h2{break-before:page}figure,table{break-inside:avoid}}
"""


def e(value: Any) -> str:
    """Any value as safe HTML text (quotes too, so it is safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return f"<td>{e(v)}</td>"
    if isinstance(v, int):
        return f'<td class="n">{v:,}</td>'
    if isinstance(v, float):
        return f'<td class="n">{v:,.3f}</td>'
    return f"<td>{e(v)}</td>"


def table_html(t: Table, w: Words) -> str:
    head = "".join(f"<th>{e(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in t.rows)
    cut = ""
    if t.total is not None and t.total > len(t.rows):
        cut = f'<p class="cut">{e(w("showing", n=f"{len(t.rows):,}", total=f"{t.total:,}"))}</p>'
    return f"<h3>{e(t.title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{cut}"


def chart_html(c: Chart, svg: Callable[[Chart], str]) -> str:
    return f'<figure class="chart"><figcaption>{e(c.title)}</figcaption>{svg(c)}</figure>'


def section_html(s: Section, anchor: str, w: Words, svg: Callable[[Chart], str],
                 source: str) -> str:
    parts = [f'<section id="{e(anchor)}" data-kind="{e(s.kind)}"><h2>{e(s.title)} — <bdi>{e(source)}</bdi></h2>']
    parts += [f'<p class="meta">{e(line)}</p>' for line in s.summary]
    for b in s.blocks:
        parts.append(chart_html(b, svg) if isinstance(b, Chart) else table_html(b, w))
    parts.append("</section>")
    return "\n".join(parts)


def provenance_html(r: Report, w: Words) -> str:
    out = [f'<section id="provenance" data-kind="provenance"><h2>{e(w("provenance"))}</h2>']
    for inp in r.inputs:
        prov = inp.provenance or {}
        src = prov.get("source") or {}
        out.append(f"<h3>{e(w('file'))}: {e(inp.path)}</h3>")
        rows = [(w("sha256"), inp.sha256), (w("rows"), f"{inp.rows:,}"),
                (w("kind"), ", ".join(inp.kinds)),
                (w("version"), prov.get("fieldkit_version")), (w("created"), prov.get("created")),
                (w("source"), src.get("path")), (w("source") + " " + w("sha256"), src.get("sha256")),
                (w("format"), " ".join(str(x) for x in (src.get("format"), src.get("encoding")) if x))]
        out.append("<table><tbody>" + "".join(
            f'<tr><th>{e(k)}</th><td class="mono">{e(v)}</td></tr>' for k, v in rows if v) + "</tbody></table>")
        steps = prov.get("steps") or []
        if steps:
            head = [w("operation"), w("started"), w("seconds"), w("model_id"), w("model_sha"),
                    w("parameters")]
            body = "".join(
                "<tr>" + "".join(f"<td>{e(s.get(k))}</td>" for k in ("operation", "started", "seconds",
                                                                      "model"))
                + f'<td class="mono">{e(s.get("model_sha256"))}</td>'
                + f'<td class="mono">{e(json.dumps(s.get("parameters"), ensure_ascii=False, default=str))}</td></tr>'
                for s in steps if isinstance(s, dict))
            out.append(f"<h3>{e(w('steps'))}</h3><table><thead><tr>"
                       + "".join(f"<th>{e(h)}</th>" for h in head) + f"</tr></thead><tbody>{body}</tbody></table>")
    out.append(f'<p class="meta">{e(w("parameters"))}: <span class="mono">'
               f'{e(json.dumps(r.parameters, ensure_ascii=False, default=str))}</span></p></section>')
    return "\n".join(out)


def render(r: Report, svg: Callable[[Chart], str], sources: list[str]) -> str:
    """The whole page; `sources[i]` names the input of `r.sections[i]`."""
    w = Words(r.lang)
    nav = "".join(f'<li><a href="#s{i}">{e(s.title)} — <bdi>{e(src)}</bdi></a></li>'
                  for i, (s, src) in enumerate(zip(r.sections, sources)))
    nav += f'<li><a href="#provenance">{e(w("provenance"))}</a></li>'
    # data inside right-to-left words stays in its own direction (<bdi>): paths, times, numbers
    inputs = "".join(f"<li>{w('summary_rows', rows=f'<bdi>{i.rows:,}</bdi>', file=f'<bdi>{e(i.path)}</bdi>')} "
                     f"(<bdi>{e(', '.join(i.kinds))}</bdi>)</li>" for i in r.inputs)
    notes = "".join(f'<p class="meta">{e(n)}</p>' for n in r.notes)
    body = "\n".join(section_html(s, f"s{i}", w, svg, src)
                     for i, (s, src) in enumerate(zip(r.sections, sources)))
    return (f'<!DOCTYPE html>\n<html lang="{e(w.lang)}" dir="{w.direction}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="generator" content="fieldkit">'
            f"<title>{e(r.title)}</title><style>{CSS}</style></head><body>"
            f'<header><h1>{e(r.title)}</h1><p class="meta">{e(w("generated"))}: <bdi>{e(r.created)}</bdi></p>'
            f"{notes}<h3>{e(w('inputs'))}</h3><ul>{inputs}</ul></header>"
            f"<nav><h3>{e(w('contents'))}</h3><ol>{nav}</ol></nav>\n{body}\n"
            f"{provenance_html(r, w)}</body></html>\n")
