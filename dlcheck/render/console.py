"""The human report (rich), designed for 80 columns first: the verdict table, then every finding
with its advice, then each check's per-item tables fitted to the width.

A per-item table shows the columns that carry the verdict first and adds the others while they
fit; numbers keep three significant digits and are never cut (a column is left out instead, and a
one-line note says which, and where the full table is); long layer names are shortened from the
middle (``layer3.…conv2``). Notes are kept to one line, so nothing wraps mid-phrase.

Every string reaches rich as a ``Text`` (never as markup): a layer named ``[/]`` or an exception
saying ``[bold red]x[/bold red]`` prints as written.
"""

from __future__ import annotations

import re

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from dlcheck.fixes import fix_for, fix_text

STYLES = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red", "error": "bold magenta",
          "info": "cyan", "skipped": "bold cyan"}

#: Long tables (layers of a deep net) show their first and last rows around a fold.
MAX_ROWS = 24

#: Shorter headers for columns whose key is long; other keys show with "_" as a space.
HEADERS = {"track_running_stats": "running stats", "update_ratio": "update ratio", "grad_norm": "grad norm",
           "w_std": "w std", "bias_from": "bias from", "own_gradient": "own grad",
           "largest_other": "largest other", "leak_ratio": "leak ratio", "depends_on": "depends on",
           "other_samples": "other samples", "initial_loss": "initial loss", "final_loss": "final loss"}
#: Columns of names: shortened to fit rather than left out.
NAME_COLUMNS = ("layer", "name", "module", "rule", "other_samples", "output")
#: Left-aligned text columns (numbers are right-aligned).
TEXT_COLUMNS = NAME_COLUMNS + ("kind", "type", "init")
#: Cell padding and the vertical rule between two columns of a per-item table.
SEPARATOR = 3


def _console(stderr: bool) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def status_label(check) -> str:
    """``skipped`` for a check that had nothing to look at, else its status."""
    return "skipped" if getattr(check, "skipped", False) and check.status == "pass" else check.status


def print_report(report, *, stderr: bool = False, strict: bool = False, console: Console | None = None,
                 interrupted: int | None = None) -> None:
    """Print ``report``; to stderr when stdout carries a machine report (``--json -``). ``console``
    is for tests (``Console(width=80, record=True)``). ``interrupted``: the exit code of a run a
    signal cut short (the verdict says "interrupted", never pass)."""
    out = console or _console(stderr)
    out.print(verdict_table(report))
    if report.task:
        parts, extra = task_parts(report.task)
        pieces = [p + "," for p in parts[:-1]] + [parts[-1] + (";" if extra else "")] + ([extra] if extra else [])
        line = wrap_phrases(pieces, out.width, first="task: ")
        out.print(Text(line, style="dim"), overflow="fold")
    _print_findings(out, report)
    for c in report.checks:
        tables = [(k, rows) for k, rows in c.details.items()
                  if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows)]
        if not tables and not c.artifacts:
            continue
        out.print(Text(c.name, style="bold underline"))
        csv = next((a for a in c.artifacts if a.endswith(".csv")), None)
        for key, rows in tables:
            out.print(details_table(key, rows, width=out.width, full_at=csv if len(tables) == 1 else None))
        for path in c.artifacts:
            out.print(Text(f"  wrote {path}", style="dim"), overflow="fold")
    if report.ignored_unmatched:
        out.print(Text(f"note: --ignore {', '.join(report.ignored_unmatched)} matched no finding",
                       style="yellow"))
    code = report.exit_code(strict)
    verdict = Text("verdict: ")
    if interrupted is not None:
        verdict.append("interrupted", style=STYLES["error"])
        verdict.append(f"  (exit {interrupted}; the {len(report.checks)} check{'s' if len(report.checks) != 1 else ''}"
                       f" that finished: {report.status})")
    else:
        verdict.append(report.status, style=STYLES[report.status])
        verdict.append(f"  (exit {code}{', --strict' if strict else ''})")
    out.print(verdict)


def verdict_table(report) -> Table:
    """One row per check: name, status (``skipped`` with its reason), seconds, summary."""
    title = Text(f"dlcheck {report.target}  ·  {report.device}  ·  seed {report.seed}", style="table.title")
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("summary", overflow="fold", ratio=1)
    for c in report.checks:
        label = status_label(c)
        summary = c.summary
        if label == "skipped" and c.reason:
            summary = c.reason
        table.add_row(Text(c.name), Text(label, style=STYLES[label]), f"{c.seconds:.1f}s", Text(summary))
    return table


def _print_findings(out: Console, report) -> None:
    """Every finding with its advice, check by check, right after the verdict table. Errors are
    left out: the CLI prints them on stderr, one sentence each."""
    for c in report.checks:
        shown = [f for f in c.findings if f.severity != "error"]
        if not shown:
            continue
        out.print(Text(c.name, style="bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1)
        for f in shown:
            body = Text(f.message)
            if f.advice:
                body.append(f"\n→ {f.advice}", style="dim")
            body.append(*fix_text(f.fix))  # --verify-fixes: before -> after (nothing without it)
            grid.add_row(Text(f"  {f.code} {f.severity}", style=STYLES.get(f.severity, "")), body)
        out.print(grid)


def task_line(task: dict) -> str:
    """The report's task in one line (the JSON report's ``task`` object)."""
    parts, extra = task_parts(task)
    return ", ".join(parts) + (f"; {extra}" if extra else "")


def task_parts(task: dict) -> tuple[list[str], str]:
    """The phrases of the task line (kind, classes, loss, references, ...) and its note."""
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
    if task.get("source", "inferred") != "inferred":
        parts[-1] += f" ({task['source']})"
    return parts, task.get("problem") or task.get("note") or ""


def wrap_phrases(pieces: list[str], width: int, first: str = "", indent: str = "  ") -> str:
    """``pieces`` (phrases with their punctuation) joined by spaces into lines of at most
    ``width``, broken between pieces, never inside one (unless one is longer than a line)."""
    lines, fresh = [first], True
    for piece in pieces:
        if fresh:
            lines[-1] += piece
            fresh = False
        elif len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append(indent + piece)
    return "\n".join(lines)


def _short(value) -> str:
    if isinstance(value, list):
        body = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value[:3])
        return f"[{body}{', ...' if len(value) > 3 else ''}]"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# -- per-item tables ----------------------------------------------------------------------------
def fmt(value) -> str:
    """A cell: numbers with three significant digits (at most 9 characters: ``-1.23e-05``),
    booleans as yes/no, None as '-'."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    if value is None:
        return "-"
    return str(value)


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters. Dotted module paths lose their middle
    (``layer3.0.downsample.conv2`` -> ``layer3.…conv2``), keeping a ``(input)``-style suffix;
    anything else loses its end."""
    if len(text) <= width:
        return text
    match = re.fullmatch(r"(.*?)(\s\(\w+\))?", text)
    body, suffix = match.group(1), match.group(2) or ""
    room = width - len(suffix)
    parts = body.split(".")
    if len(parts) > 2 and "(" not in body and room >= 5:
        head, tail = parts[0], parts[-1]
        i, j = 1, len(parts) - 2
        # keep whole components from both ends while they fit around the ellipsis
        while i <= j:
            longer_tail = parts[j] + "." + tail
            if len(head) + 2 + len(longer_tail) <= room and len(parts[j]) <= len(parts[i]):
                tail, j = longer_tail, j - 1
            elif len(head) + 1 + len(parts[i]) + 2 + len(tail) <= room:
                head, i = head + "." + parts[i], i + 1
            elif len(head) + 2 + len(longer_tail) <= room:
                tail, j = longer_tail, j - 1
            else:
                break
        if len(head) + 2 + len(tail) <= room:
            return f"{head}.…{tail}{suffix}"
        return "…" + body[-(room - 1):] + suffix  # the end of a module path says the most
    if room >= 2:
        return body[:room - 1] + "…" + suffix
    return text[:width - 1] + "…"


def _wrap_header(header: str, width: int) -> str:
    """The header broken between words into lines of at most ``width`` characters (a word
    longer than that keeps its own line: the column is as wide as its longest word)."""
    lines: list[str] = []
    for word in header.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _fit_note(width: int, *variants: str) -> str:
    """The first variant that fits on one line of ``width`` (the last one otherwise)."""
    for text in variants:
        if len(text) <= width:
            return text
    return variants[-1]


def details_table(title: str, rows: list[dict], max_rows: int = MAX_ROWS, width: int = 80,
                  full_at: str | None = None) -> Group:
    """A per-item table (``result.details[title]``: a list of row dicts, e.g. one per layer)
    fitted to ``width`` columns: folded in the middle when longer than ``max_rows``; columns in
    the order its check's spec gives (``registry.columns``) while they fit, shown in their own
    order; a dim note under it says what was folded or left out and where the full table is
    (``full_at``: the CSV under --out)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    if len(rows) > max_rows:
        head, tail = rows[:max_rows // 2], rows[-(max_rows // 2):]
        hidden = len(rows) - len(head) - len(tail)
    else:
        head, tail, hidden = rows, [], 0
    shown_rows = head + tail
    cells, headers, widths = _cells(columns, shown_rows, width)
    shown = _fitting_columns(title, columns, widths, width)
    left_out = [headers[c] for c in columns if c not in shown]

    table = Table(title=Text(title.replace("_", " "), style="italic"), title_justify="left", show_edge=False,
                  pad_edge=False)
    for c in shown:
        justify = "left" if c in TEXT_COLUMNS else "right"
        table.add_column(Text(_wrap_header(headers[c], widths[c])), justify=justify, no_wrap=True,
                         min_width=widths[c])
    for i in range(len(shown_rows)):
        if hidden and i == len(head):
            table.add_row(*(["…"] * len(shown)), style="dim")
        table.add_row(*(Text(cells[c][i]) for c in shown))
    notes = _table_notes(width, len(rows), hidden, left_out, full_at)
    return Group(table, *[Text(n, style="dim") for n in notes])


def _cells(columns: list[str], rows: list[dict], width: int) -> tuple[dict, dict, dict]:
    """(cells, headers, widths) per column: formatted values (names shortened to fit), headers,
    and the width each needs."""
    cells = {c: [fmt(r.get(c)) for r in rows] for c in columns}
    name_width = max(12, min(32, width // 3))
    for c in columns:
        if c in NAME_COLUMNS and cells[c] and all(isinstance(r.get(c), str) or r.get(c) is None for r in rows):
            cells[c] = [shorten(v, name_width) for v in cells[c]]
    headers = {c: HEADERS.get(c, c.replace("_", " ")) for c in columns}
    widths = {}
    for c in columns:
        longest_word = max(len(w) for w in headers[c].split()) if headers[c].split() else 1
        widths[c] = max([longest_word, 1] + [len(v) for v in cells[c]])
    return cells, headers, widths


def _fitting_columns(title: str, columns: list[str], widths: dict, width: int) -> list[str]:
    """The columns shown: the first always, then the spec's order while they fit; in their own order."""
    from dlcheck.registry import columns as priority

    order = [c for c in priority(title) if c in columns]
    order = [columns[0]] + [c for c in order if c != columns[0]] + [c for c in columns[1:] if c not in order]
    chosen, used = [], -SEPARATOR
    for c in order:
        if not chosen or used + SEPARATOR + widths[c] <= width:
            chosen.append(c)
            used += SEPARATOR + widths[c]
    return [c for c in columns if c in chosen]


def _table_notes(width: int, total: int, hidden: int, left_out: list[str], full_at: str | None) -> list[str]:
    """What a folded or narrowed table leaves out, and where the full table is."""
    left = ", ".join(left_out)
    notes = []
    columns_word = f"{len(left_out)} column{'s' if len(left_out) != 1 else ''}"
    if hidden and left_out:
        notes.append(_fit_note(width, f"{hidden} of {total} rows folded, {columns_word} not shown: {left}",
                               f"{hidden} of {total} rows folded, {columns_word} not shown"))
    elif hidden:
        notes.append(f"{hidden} of {total} rows folded")
    elif left_out:
        notes.append(_fit_note(width, f"{columns_word} not shown at this width: {left}",
                               f"not shown: {left}", f"{columns_word} not shown"))
    if not notes:
        return notes
    if full_at:
        name = full_at.replace("\\", "/").rsplit("/", 1)[-1]
        notes.append(_fit_note(width, f"the full table: {full_at}, or the JSON/HTML reports",
                               f"the full table: {name} under --out, and the JSON/HTML reports",
                               f"the full table: {name} (--out), --json, --html"))
    else:
        notes.append(_fit_note(width, "the full table: in the JSON (--json) and HTML (--html) reports, and --out CSV",
                               "the full table: --json, --html, --out"))
    return notes


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
    out.print(Text("What it means: ", style="bold"), Text(code.title))
    out.print(Text("Why it matters: ", style="bold"), Text(code.why))
    out.print(Text("How to fix it: ", style="bold"), Text(code.fix + fix_for(code.code)))
