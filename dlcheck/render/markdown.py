"""A Markdown summary for CI job pages (e.g. ``--markdown $GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

from dlcheck.render._write import write_text

ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "💥", "info": "ℹ️"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def dumps(report) -> str:
    lines = [f"## dlcheck: {ICONS[report.status]} {report.status}", "",
             f"Target `{report.target}` on `{report.device}`, seed {report.seed}.", "",
             "| check | status | seconds | summary |", "|---|---|---|---|"]
    for c in report.checks:
        lines.append(f"| {c.name} | {ICONS[c.status]} {c.status} | {c.seconds:.1f} | {_cell(c.summary)} |")
    for c in report.checks:
        if not c.findings:
            continue
        lines += ["", f"### {c.name}", ""]
        for f in c.findings:
            lines.append(f"- {ICONS.get(f.severity, '')} **{f.code}** {_cell(f.message)}")
            if f.advice:
                lines.append(f"  - advice: {_cell(f.advice)}")
    return "\n".join(lines) + "\n"


def write(report, path: str) -> None:
    # $GITHUB_STEP_SUMMARY is appended to by every step: append, never replace (whole or not at all).
    write_text(dumps(report), path, append=True)
