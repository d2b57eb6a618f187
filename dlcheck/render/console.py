"""The human report: a table of checks with coloured verdicts, then findings with advice (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

STYLES = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red", "error": "bold magenta",
          "info": "cyan"}


def _console(stderr: bool) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_report(report, *, stderr: bool = False, strict: bool = False) -> None:
    """Print ``report``; to stderr when stdout carries a machine report (``--json -``)."""
    out = _console(stderr)
    table = Table(title=f"dlcheck {report.target}  ·  {report.device}  ·  seed {report.seed}",
                  title_justify="left", show_lines=False)
    table.add_column("check", style="bold")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("summary", overflow="fold")
    for c in report.checks:
        table.add_row(c.name, Text(c.status, style=STYLES[c.status]), f"{c.seconds:.1f}s", c.summary)
    out.print(table)
    if report.task:
        out.print(Text(f"task: {task_line(report.task)}", style="dim"))
    for c in report.checks:
        shown = [f for f in c.findings if f.severity != "error"]  # errors are printed on stderr
        if not shown and not c.artifacts and not c.details:
            continue
        out.print(Text(c.name, style="bold underline"))
        for key, rows in c.details.items():
            if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
                out.print(details_table(key, rows))
        for f in shown:
            line = Text("  ")
            line.append(f"{f.code} ", style=STYLES.get(f.severity, ""))
            line.append(f"{f.severity}: ", style=STYLES.get(f.severity, ""))
            line.append(f.message)
            out.print(line)
            if f.advice:
                out.print(Text(f"      → {f.advice}", style="dim"))
        for path in c.artifacts:
            out.print(Text(f"  wrote {path}", style="dim"))
    if report.ignored_unmatched:
        out.print(Text(f"note: --ignore {', '.join(report.ignored_unmatched)} matched no finding",
                       style="yellow"))
    code = report.exit_code(strict)
    verdict = Text("verdict: ")
    verdict.append(report.status, style=STYLES[report.status])
    verdict.append(f"  (exit {code}{', --strict' if strict else ''})")
    out.print(verdict)


def task_line(task: dict) -> str:
    """The report's task in one line (the JSON report's ``task`` object)."""
    parts = [task["kind"]]
    if task.get("classes") and task["kind"] in ("classification", "multilabel"):
        noun = "classes" if task["kind"] == "classification" else "labels"
        parts.append(f"{task['classes']} {noun}" + (f" per position ({task['positions']} positions)"
                                                    if task.get("dense") else ""))
    options = {k: v for k, v in (task.get("options") or {}).items() if not (k == "reduction" and v == "mean")}
    shown = ", ".join(f"{k}={_short(v)}" for k, v in options.items())
    parts.append(task["loss"] + (f"({shown})" if shown else ""))
    refs = task.get("references") or {}
    for key, name in (("expected", "expected at init"), ("floor", "floor")):
        if isinstance(refs.get(key), float):
            parts.append(f"{name} {refs[key]:.3g}")
    if task.get("logits") and task["logits"] != "the output tensor":
        parts.append(f"logits: {task['logits']}")
    if task.get("model_inputs"):
        parts.append(task["model_inputs"])
    line = ", ".join(parts) + ("" if task.get("source", "inferred") == "inferred" else f" ({task['source']})")
    extra = task.get("problem") or task.get("note")
    return line + (f"; {extra}" if extra else "")


def _short(value) -> str:
    if isinstance(value, list):
        body = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value[:3])
        return f"[{body}{', ...' if len(value) > 3 else ''}]"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


#: Long tables (layers of a deep net) show their first and last rows around a fold.
MAX_ROWS = 24


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if value is None:
        return "-"
    return str(value)


def details_table(title: str, rows: list[dict], max_rows: int = MAX_ROWS) -> Table:
    """A per-item table (``result.details[title]``: a list of row dicts, e.g. one per layer),
    folded in the middle when longer than ``max_rows``."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    table = Table(title=title.replace("_", " "), title_justify="left", show_edge=False, pad_edge=False)
    for col in columns:
        table.add_column(col.replace("_", " "), justify="left" if col in ("layer", "name", "kind", "type") else "right")
    if len(rows) > max_rows:
        head, tail = rows[:max_rows // 2], rows[-(max_rows // 2):]
        hidden = len(rows) - len(head) - len(tail)
    else:
        head, tail, hidden = rows, [], 0
    for r in head:
        table.add_row(*(_fmt(r.get(c)) for c in columns))
    if hidden:
        table.add_row(*(["…"] * len(columns)), style="dim")
        table.caption = f"{hidden} rows folded (all are in the JSON report)"
        table.caption_justify = "left"
    for r in tail:
        table.add_row(*(_fmt(r.get(c)) for c in columns))
    return table


def print_catalogue(entries) -> None:
    """`dlcheck list`: each check with its title and codes."""
    out = _console(False)
    for name, title, codes in entries:
        out.print(Text(name, style="bold"), Text(f"  {title}"))
        for c in codes:
            if c.check == "*":
                continue
            out.print(Text(f"  {c.code} ", style=STYLES.get(c.severity, "")), Text(f"{c.name}: {c.title}"))
    out.print(Text("general codes: DLC001 bad-input, DLC002 check-crashed, DLC003 over-budget", style="dim"))


def print_code(code) -> None:
    """`dlcheck explain CODE`."""
    out = _console(False)
    out.print(Text(f"{code.code} {code.name}", style="bold"),
              Text(f"({code.check}, {code.severity})", style=STYLES.get(code.severity, "")))
    out.print(Text("What it means: ", style="bold"), code.title)
    out.print(Text("Why it matters: ", style="bold"), code.why)
    out.print(Text("How to fix it: ", style="bold"), code.fix)
