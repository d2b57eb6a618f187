"""A Markdown summary for CI job pages (e.g. ``--markdown $GITHUB_STEP_SUMMARY``).

Text from the user's model and data (layer and class names, exception messages, paths) is data:
in prose every Markdown and HTML character is escaped (``<`` as ``&lt;``, ``*`` as ``\\*``), and
the target is a code span fenced by more backticks than it holds, so no viewer renders a tag,
a link or emphasis from it.
"""

from __future__ import annotations

import re

from dlcheck.render._write import write_text

ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "💥", "info": "ℹ️"}

#: characters Markdown gives a meaning to (backslash-escaped); & < > become HTML entities
_SPECIAL = re.compile(r"([\\`*_\[\]~|])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def text(value) -> str:
    """``value`` as literal Markdown prose on one line: nothing in it is markup or HTML."""
    flat = " ".join(str(value).split())
    escaped = _SPECIAL.sub(r"\\\1", flat)
    return "".join(_ENTITIES.get(ch, ch) for ch in escaped)


def code(value) -> str:
    """``value`` as a code span on one line (shown verbatim, HTML and all): fenced by one backtick
    more than its longest run of backticks; '|' escaped so a table cell is not split."""
    flat = " ".join(str(value).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def dumps(report) -> str:
    lines = [f"## dlcheck: {ICONS[report.status]} {report.status}", "",
             f"Target {code(report.target)} on {code(report.device)}, seed {report.seed}.", "",
             "| check | status | seconds | summary |", "|---|---|---|---|"]
    for c in report.checks:
        lines.append(f"| {text(c.name)} | {ICONS[c.status]} {c.status} | {c.seconds:.1f} | {text(c.summary)} |")
    for c in report.checks:
        if not c.findings:
            continue
        lines += ["", f"### {text(c.name)}", ""]
        for f in c.findings:
            lines.append(f"- {ICONS.get(f.severity, '')} **{text(f.code)}** {text(f.message)}")
            if f.advice:
                lines.append(f"  - advice: {text(f.advice)}")
    return "\n".join(lines) + "\n"


def write(report, path: str) -> None:
    # $GITHUB_STEP_SUMMARY is appended to by every step: append, never replace (whole or not at all).
    write_text(dumps(report), path, append=True)
