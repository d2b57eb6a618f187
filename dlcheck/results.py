"""Results are plain data: a check measures and judges, renderers only read these objects."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

#: Statuses from best to worst; the report's status is the worst of its checks.
STATUS_ORDER = ("pass", "warn", "fail", "error")
#: Finding severities; ``info`` notes never change a status.
SEVERITIES = ("info", "warn", "fail", "error")


def rounded(x, digits: int = 6):
    """A number for a report: ``digits`` significant digits (stable, readable JSON and tables);
    NaN/Inf as the strings "nan"/"inf"; None stays None."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    return float(f"{x:.{digits}g}")


def listing(items, shown: int = 4) -> str:
    """``a, b, c, d and 7 more``: a list for a one-line message."""
    items = [str(i) for i in items]
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def worst(statuses) -> str:
    """The worst status in ``statuses`` (``pass`` when there are none)."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    best = "pass"
    for s in statuses:
        if s == "info":
            continue
        if rank[s] > rank[best]:
            best = s
    return best


@dataclass
class Finding:
    """One thing a check noticed: a stable code, how bad it is, what it means, what to do."""

    code: str
    severity: str
    message: str
    advice: str = ""
    #: ``--verify-fixes``: the catalogued fix tried on a fresh copy of the set-up and what the check
    #: said after it (dlcheck.fixes); written to JSON only when set
    fix: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["fix"] is None:
            del data["fix"]
        return data


@dataclass
class Figure:
    """One plot as plain data: ``dlcheck.render.plots.draw`` calls ``plots.<kind>(path, **data)``.
    ``file`` names the PNG that ``dlcheck.artifacts`` writes under ``--out`` (``loss.png`` becomes
    ``overfit-small-loss.png``); without one the plot is only embedded in the HTML report."""

    kind: str
    title: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    file: str = ""


@dataclass
class Table:
    """One per-item table as plain data (rows of one dict each), written as CSV under ``--out``
    (``file``) by ``dlcheck.artifacts``; ``frame()`` is the pandas DataFrame."""

    file: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


@dataclass
class CheckResult:
    """What one check measured and concluded."""

    name: str
    status: str = "pass"
    summary: str = ""
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    #: Per-item tables (layers, candidate LRs, ...) for renderers; not part of the JSON contract's
    #: required keys but written under ``details`` so machines can read them too.
    details: dict[str, Any] = field(default_factory=dict)
    #: The traceback of a crash, shown only with ``--debug``.
    traceback: str | None = None
    #: Codes that --ignore removed from this result.
    ignored: list[str] = field(default_factory=list)
    #: True when the check had nothing to look at (no BatchNorm layer, no transform): the status
    #: stays ``pass`` (DESIGN §4) and ``reason`` says why; written to JSON only when set.
    skipped: bool = False
    reason: str = ""
    #: Plots as plain data (``plots.<kind>(path, **data)``), so that a report that embeds them
    #: (``--html``) can draw them also when no ``--out`` was given. Never written to JSON.
    figures: list["Figure"] = field(default_factory=list)
    #: Per-item tables as data, written as CSV under ``--out``. Never written to JSON.
    tables: list["Table"] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the check passed or only warned (what CI treats as green)."""
        return self.status in ("pass", "warn")

    def add(self, code: str, message: str, advice: str = "", severity: str | None = None) -> Finding:
        """Record a finding; its severity defaults to the code's catalogue severity."""
        from dlcheck.codes import CODES

        sev = severity or CODES[code].severity
        finding = Finding(code=code, severity=sev, message=message, advice=advice or CODES[code].fix)
        self.findings.append(finding)
        return finding

    def skip(self, reason: str) -> "CheckResult":
        """Mark the check as having nothing to look at; ``reason`` is one phrase for the reports
        ("the model has no BatchNorm layer"). The status stays what its findings make it: a check
        that skipped and still found something wrong (or crashed) is shown with that status."""
        self.skipped = True
        self.reason = reason
        return self

    def figure(self, kind: str, caption: str = "", file: str = "", **data) -> "Figure":
        """Keep the data of one plot (``kind`` names a function of dlcheck.render.plots, ``data``
        its arguments after the path; ``caption`` is the report's): written as ``file`` under
        ``--out``, embedded by ``--html``."""
        fig = Figure(kind=kind, title=caption, data=data, file=file)
        self.figures.append(fig)
        return fig

    def table(self, file: str, rows: list[dict[str, Any]]) -> "Table":
        """Keep one per-item table, written as the CSV ``file`` under ``--out``."""
        table = Table(file=file, rows=list(rows))
        self.tables.append(table)
        return table

    def frames(self) -> dict[str, Any]:
        """Every per-item table of this check as a pandas DataFrame, by name: its CSV tables
        (``"loss"`` for loss.csv, ``"layers"``, ...) and the per-item tables of its report
        (``details``), for notebook users: ``result.frames()["layers"].sort_values("std")``."""
        import pandas as pd

        out = {t.file.rsplit(".", 1)[0]: t.frame() for t in self.tables}
        for key, rows in self.details.items():
            if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
                out.setdefault(key, pd.DataFrame(rows))
        return out

    def settle(self, ignore: frozenset[str] = frozenset()) -> "CheckResult":
        """Drop ignored findings and set ``status`` to the worst remaining severity. A skipped
        check whose status is no longer ``pass`` is not shown as skipped."""
        self.ignored = sorted({f.code for f in self.findings if f.code in ignore})
        self.findings = [f for f in self.findings if f.code not in ignore]
        if self.status != "error":
            self.status = worst(f.severity for f in self.findings)
        if self.status != "pass":
            self.skipped = False
        return self

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "seconds": round(self.seconds, 3),
            "metrics": self.metrics,
            "findings": [f.to_dict() for f in self.findings],
            "artifacts": list(self.artifacts),
        }
        if self.details:
            data["details"] = self.details
        if self.skipped:
            data["skipped"] = True
            data["reason"] = self.reason
        return data


@dataclass
class Report:
    """Every check of one invocation, plus where it ran."""

    target: str
    device: str
    seed: int
    checks: list[CheckResult] = field(default_factory=list)
    version: str = ""
    ignored_unmatched: list[str] = field(default_factory=list)
    #: The task dlcheck inferred or was told (dlcheck.task.Task.to_dict()), None when unknown.
    task: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return worst(c.status for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "warn")

    def exit_code(self, strict: bool = False) -> int:
        """0 pass/warn, 1 any fail (or warn under ``strict``), 2 any error (DESIGN §4)."""
        status = self.status
        if status == "error":
            return 2
        if status == "fail" or (strict and status == "warn"):
            return 1
        return 0

    def problems(self, strict: bool = False) -> str:
        """The checks that make this report red (fail, error; warn too under ``strict``), each
        with its findings and their advice, as text; empty when the report is green."""
        bad = ("fail", "error", "warn") if strict else ("fail", "error")
        lines = []
        for check in self.checks:
            if check.status not in bad:
                continue
            lines.append(f"{check.name}: {check.status} - {check.summary}".rstrip(" -"))
            for f in check.findings:
                if f.severity != "info":
                    lines.append(f"  [{f.severity}] {f.code} {f.message}")
                    lines.extend([f"      advice: {f.advice}"] if f.advice else [])
        return "\n".join(lines)

    def assert_ok(self, strict: bool = False) -> "Report":
        """Raise AssertionError whose message is every failing check with its findings when the
        report is red (any fail or error; any warn too under ``strict``), as ``exit_code`` judges;
        return the report otherwise: ``dlcheck.run("train_setup.py").assert_ok()`` in a test."""
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        if self.exit_code(strict):
            raise AssertionError(f"dlcheck {self.target}: {self.status}\n{self.problems(strict)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        from dlcheck import __version__

        data = {
            "tool": "dlcheck",
            "version": self.version or __version__,
            "target": self.target,
            "device": self.device,
            "seed": self.seed,
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
        }
        if self.task is not None:
            data["task"] = self.task
        if self.ignored_unmatched:
            data["ignored_unmatched"] = list(self.ignored_unmatched)
        return data
