"""Rule cases (Ruff-style: one fixture per finding code). A check's rules are pure functions
``rule(measured, task, settings) -> Finding | list[Finding] | None`` (dlcheck/rules.py), so each
code is tested on hand-built numbers: ``tests/test_rules_<check>.py`` lists ``CASES`` (numbers that
must raise the code) and ``QUIET`` (healthy numbers near the threshold that must not), and
``tests/test_codes.py`` checks that every code of the catalogue has a case or a named test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dlcheck.codes import CODES
from dlcheck.rules import judge


@dataclass
class Case:
    """``rule`` on ``measured`` must say ``code`` (with ``severity``, default the catalogue's),
    its message containing every string of ``says``."""

    code: str
    rule: Callable
    measured: Any
    task: Any = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    severity: str | None = None
    says: tuple[str, ...] = ()
    name: str = ""
    advises: tuple[str, ...] = ()  # strings its advice contains

    def __str__(self) -> str:
        return f"{self.code}-{self.name or self.rule.__name__}"

    def check(self) -> None:
        found = judge((self.rule,), self.measured, self.task, self.settings)
        codes = [f.code for f in found]
        assert self.code in codes, f"{self.rule.__name__} said {codes}, not {self.code}"
        f = next(f for f in found if f.code == self.code)
        assert f.severity == (self.severity or CODES[self.code].severity)
        assert f.message and f.advice
        for text in self.says:
            assert text in f.message, f"{text!r} not in {f.message!r}"
        for text in self.advises:
            assert text in f.advice, f"{text!r} not in {f.advice!r}"


@dataclass
class Quiet:
    """``rule`` on healthy ``measured`` numbers must say nothing (or nothing but ``allowed``)."""

    rule: Callable
    measured: Any
    task: Any = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    allowed: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.rule.__name__}-{self.name}" if self.name else self.rule.__name__

    def check(self) -> None:
        found = [f for f in judge((self.rule,), self.measured, self.task, self.settings)
                 if f.code not in self.allowed]
        assert not found, f"{self.rule.__name__} said {[(f.code, f.message) for f in found]}"
