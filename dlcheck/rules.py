"""Rules: numbers in, finding out.

Every check has the same shape (README, "Development"):

1. it **measures** into a plain dataclass (``Measured``), touching the model and data only there;
2. pure **rules** judge that data, one small function per finding code, in a ``RULES`` tuple in
   the order their findings are reported: ``rule(measured, task, settings) -> Finding | None``
   (a rule that can say one of two related codes may return either; a rule that names several
   layers returns one finding naming them all). A rule reads nothing but its arguments, so a
   test can call it on hand-built numbers (``tests/test_rules_*.py``: one case per code);
3. the **summary and metrics** are functions of the measured data too;
4. figures and tables are kept on the result as data (``CheckResult.figure`` / ``.table``);
   ``dlcheck.artifacts`` writes them for ``--out`` and the HTML report draws them.

A rule that needs another rule's verdict reads the numbers that verdict rests on instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dlcheck.results import Finding

#: ``rule(measured, task, settings)``: a Finding, a list of them, or None.
Rule = Callable[[Any, Any, Mapping[str, Any]], "Finding | list[Finding] | None"]


def finding(code: str, message: str, advice: str = "", severity: str | None = None) -> Finding:
    """A finding with its code's catalogue severity and fix unless given."""
    from dlcheck.codes import CODES

    entry = CODES[code]
    return Finding(code=code, severity=severity or entry.severity, message=message, advice=advice or entry.fix)


def judge(rules: Iterable[Rule], measured: Any, task: Any, settings: Mapping[str, Any]) -> list[Finding]:
    """Every rule on the measured data, in order: the findings they made."""
    found: list[Finding] = []
    for rule in rules:
        out = rule(measured, task, settings)
        if out is None:
            continue
        found.extend([out] if isinstance(out, Finding) else out)
    return found
