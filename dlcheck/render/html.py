"""The HTML report (``--html PATH``): one self-contained file a CI job can attach and a person can
open anywhere, a phone included. No network and no other file: CSS inline, plots embedded as
data URIs (SVG drawn from the result's data, or the PNGs a check wrote to ``--out``), one small
inline script that sorts tables by a click on a header.

What it holds: the run's header (target, device, seed, versions, task), the verdict table, then
per check its summary, findings with advice and the ``dlcheck explain`` text of each code, its
plots, its per-item tables and its metrics. It reads the report and never changes it.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from dlcheck.render._write import write_text

_STYLE = """
:root{--fg:#1d2330;--muted:#5c6577;--line:#d9dee7;--bg:#fff;--soft:#f4f6fa;
--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--error:#8250df;--info:#0969da;--skipped:#57606a}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1120px;padding:0 14px 40px;color:var(--fg);background:var(--bg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;overflow-wrap:break-word}
h1{font-size:1.45em;margin:18px 0 6px}h2{font-size:1.2em;margin:0}h3{font-size:1em;margin:14px 0 6px}
header dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dt{color:var(--muted)}dd{margin:0}
code,.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.badge{display:inline-block;padding:0 8px;border-radius:10px;color:#fff;font-size:.85em;font-weight:600;
white-space:nowrap;vertical-align:middle}
.pass{background:var(--pass)}.warn{background:var(--warn)}.fail{background:var(--fail)}
.error{background:var(--error)}.info{background:var(--info)}.skipped{background:var(--skipped)}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:6px 0}
th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--soft);position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.sortable th{cursor:pointer}table.sortable th:after{content:" \\2195";color:var(--muted);font-weight:400}
table.verdicts td:first-child,table th{white-space:nowrap}
section.check{border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:16px 0}
section.check>.head{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center}
.muted{color:var(--muted)}
ul.findings{list-style:none;padding:0;margin:8px 0}
ul.findings li{border-left:4px solid var(--line);padding:4px 10px;margin:6px 0;background:var(--soft)}
ul.findings li.fail{border-color:var(--fail)}ul.findings li.warn{border-color:var(--warn)}
ul.findings li.error{border-color:var(--error)}ul.findings li.info{border-color:var(--info)}
.advice{color:var(--muted)}.advice:before{content:"\\2192\\00a0"}
details{margin:4px 0}summary{cursor:pointer;color:var(--muted)}
figure{margin:10px 0}figure img{max-width:100%;height:auto;border:1px solid var(--line);background:#fff}
figcaption{color:var(--muted);font-size:.9em}
@media (max-width:600px){body{font-size:14px;padding:0 8px 30px}th,td{padding:3px 5px}
section.check{padding:10px 8px}table.verdicts td:nth-child(3),table.verdicts th:nth-child(3){display:none}}
"""

#: Sorts a table by the clicked header: numbers by value (``data-v``), text alphabetically.
_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], i = th.cellIndex, dir = th.dataset.dir === "asc" ? -1 : 1;
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    function key(td) { var v = td.dataset.v !== undefined ? td.dataset.v : td.textContent, n = parseFloat(v);
      return isNaN(n) ? [1, v] : [0, n]; }
    Array.prototype.slice.call(body.rows).sort(function (a, b) {
      var x = key(a.cells[i]), y = key(b.cells[i]);
      return (x[0] - y[0] || (x[1] > y[1]) - (x[1] < y[1])) * dir;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _status(check) -> str:
    return "skipped" if getattr(check, "skipped", False) and check.status == "pass" else check.status


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(status)}</span>'


def _number(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _cell(value) -> str:
    if value is None:
        return '<td class="muted">-</td>'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<td class="num" data-v="{_e(value)}" title="{_e(value)}">{_e(_number(value))}</td>'
    if isinstance(value, (list, tuple)):
        return f"<td>{_e(', '.join(_number(v) for v in value))}</td>"
    if isinstance(value, dict):
        return f"<td>{_e(', '.join(f'{k} {_number(v)}' for k, v in value.items()))}</td>"
    return f"<td>{_e(_number(value))}</td>"


def _table(rows: list[dict], caption: str = "") -> str:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>" for r in rows)
    title = f"<h3>{_e(caption)} <span class=\"muted\">({len(rows)} rows)</span></h3>" if caption else ""
    return (f'{title}<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _pairs(items: dict, caption: str = "") -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th>{_cell(v)}</tr>" for k, v in items.items())
    title = f"<h3>{_e(caption)}</h3>" if caption else ""
    return f'{title}<div class="scroll"><table>{rows}</table></div>'


# -- plots ----------------------------------------------------------------------------------------
def _images(check) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """(title, MIME type, bytes) of each plot of ``check``, and notes on plots that could not be
    drawn. The PNGs the check wrote to --out when they are there; else the plots drawn from the
    result.s own data (its figures)."""
    from dlcheck.render import plots, svg

    written = [Path(a) for a in check.artifacts if a.lower().endswith(".png")]
    if written and all(p.is_file() for p in written):
        return [(p.name, "image/png", p.read_bytes()) for p in written], []
    images, notes = [], []
    for fig in check.figures:
        try:
            drawn = svg.draw(fig)  # cheap: no matplotlib; else the matplotlib drawing
            mime, data = ("image/svg+xml", drawn) if drawn is not None else plots.draw(fig)
        except Exception as exc:  # a plot that cannot be drawn must not cost the report
            notes.append(f"{fig.title or fig.kind} could not be drawn: {type(exc).__name__}: {exc}")
            continue
        images.append((fig.title, mime, data))
    return images, notes


def _figure(title: str, mime: str, data: bytes) -> str:
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return (f'<figure><img src="{uri}" alt="{_e(title)}" loading="lazy">'
            f"<figcaption>{_e(title)}</figcaption></figure>")


# -- sections -------------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    import platform
    from importlib import metadata

    from dlcheck import __version__

    found = {"dlcheck": __version__, "python": platform.python_version()}
    for name in ("torch", "torchvision", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _task(task: dict) -> str:
    items = {}
    for key, value in task.items():
        if value in (None, "", [], {}):
            continue
        items[key.replace("_", " ")] = value
    return _pairs(items)


def _finding(f) -> str:
    from dlcheck.codes import lookup

    code = lookup(f.code)
    explain = ""
    if code is not None:
        explain = (f"<details><summary><code>dlcheck explain {_e(f.code)}</code>: {_e(code.name)}</summary>"
                   f"<p><b>What it means:</b> {_e(code.title)}<br><b>Why it matters:</b> {_e(code.why)}"
                   f"<br><b>How to fix it:</b> {_e(code.fix)}</p></details>")
    advice = f'<div class="advice">{_e(f.advice)}</div>' if f.advice else ""
    return (f'<li class="{_e(f.severity)}"><span class="code"><b>{_e(f.code)}</b></span> {_badge(f.severity)} '
            f"{_e(f.message)}{advice}{explain}</li>")


def _check(check) -> str:
    status = _status(check)
    parts = [f'<section class="check" id="check-{_e(check.name)}"><div class="head"><h2>{_e(check.name)}</h2>'
             f'{_badge(status)}<span class="muted">{check.seconds:.1f} s</span></div>',
             f"<p>{_e(check.summary)}</p>"]
    if status == "skipped":
        parts.append(f'<p class="muted">Skipped: {_e(check.reason or check.summary)}. The JSON report keeps '
                     f'<code>"status": "pass"</code> with <code>"skipped": true</code>.</p>')
    if check.findings:
        parts.append('<ul class="findings">' + "".join(_finding(f) for f in check.findings) + "</ul>")
    if check.ignored:
        parts.append(f'<p class="muted">Ignored (--ignore): {_e(", ".join(check.ignored))}</p>')
    images, notes = _images(check)
    parts += [_figure(*image) for image in images]
    parts += [f'<p class="muted">{_e(n)}</p>' for n in notes]
    for key, value in check.details.items():
        caption = key.replace("_", " ")
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            parts.append(_table(value, caption))
        elif isinstance(value, dict) and value:
            parts.append(_pairs(value, caption))
        elif value not in (None, [], {}):
            parts.append(f"<h3>{_e(caption)}</h3><p>{_e(value)}</p>")
    if check.metrics:
        parts.append(f"<details><summary>metrics ({len(check.metrics)})</summary>{_pairs(check.metrics)}</details>")
    if check.artifacts:
        files = ", ".join(f"<code>{_e(a)}</code>" for a in check.artifacts)
        parts.append(f'<p class="muted">Written to --out: {files}</p>')
    parts.append("</section>")
    return "".join(parts)


def dumps(report) -> str:
    """The whole report as one HTML document."""
    status = report.status
    header = {"target": report.target, "device": report.device, "seed": report.seed,
              "versions": ", ".join(f"{k} {v}" for k, v in _versions().items())}
    head = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in header.items())
    rows = "".join(
        f'<tr><td><a href="#check-{_e(c.name)}">{_e(c.name)}</a></td><td>{_badge(_status(c))}</td>'
        f'<td class="num">{c.seconds:.1f} s</td><td>{_e(c.reason if _status(c) == "skipped" and c.reason else c.summary)}'
        f"</td></tr>" for c in report.checks)
    verdicts = (f'<div class="scroll"><table class="verdicts"><thead><tr><th>check</th><th>status</th><th>time</th>'
                f"<th>summary</th></tr></thead><tbody>{rows}</tbody></table></div>")
    task = f"<h3>task</h3>{_task(report.task)}" if report.task else ""
    unmatched = (f'<p class="muted">--ignore {_e(", ".join(report.ignored_unmatched))} matched no finding</p>'
                 if report.ignored_unmatched else "")
    body = "".join(_check(c) for c in report.checks)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>dlcheck {_e(status)}: {_e(report.target)}</title><style>{_STYLE}</style></head><body>"
            f"<header><h1>dlcheck report {_badge(status)}</h1><dl>{head}</dl>{task}</header>"
            f"<main><h3>verdicts</h3>{verdicts}{unmatched}{body}</main>"
            f'<footer class="muted">dlcheck {_e(header["versions"].split(",")[0].split()[-1])}: '
            f"exit code {report.exit_code()} (warnings fail only with --strict)</footer>"
            f"<script>{_SCRIPT}</script></body></html>\n")


def write(report, path: str) -> None:
    write_text(dumps(report), path)
