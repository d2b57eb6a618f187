"""Every finding code of the catalogue is asserted by a test: by a rule case on hand-built numbers
(``CASES`` in tests/test_rules_*.py, see tests/rulecase.py), or, for codes said outside a check's
pure rules (bad input, crashes, torchrun), by name in a test that runs the real thing. The rule
cases (and the healthy ``QUIET`` numbers, which must raise nothing) of every check run here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from dlcheck.codes import CODES

HERE = Path(__file__).resolve().parent
RULE_MODULES = sorted(p.stem for p in HERE.glob("test_rules_*.py"))
def cases(kind: str) -> list:
    """Every ``CASES`` (or ``QUIET``) entry of the rule test modules, named by its module."""
    found = []
    for name in RULE_MODULES:
        found += [pytest.param(case, id=f"{name[len('test_rules_'):]}:{case}")
                  for case in getattr(importlib.import_module(name), kind, [])]
    return found


@pytest.mark.parametrize("case", cases("CASES"))
def test_rule_says_its_code(case):
    case.check()


@pytest.mark.parametrize("case", cases("QUIET"))
def test_rule_stays_quiet_on_healthy_numbers(case):
    case.check()


def rule_cases() -> dict[str, list]:
    found: dict[str, list] = {}
    for name in RULE_MODULES:
        for case in getattr(importlib.import_module(name), "CASES", []):
            found.setdefault(case.code, []).append(case)
    return found


def named_in_tests() -> set[str]:
    """Codes a test file names inside an assertion-bearing line or a literal list of codes."""
    codes = set()
    for path in HERE.rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        codes |= set(re.findall(r"DLC\d{3}", path.read_text()))
    return codes


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_is_asserted_by_a_test(code):
    assert code in rule_cases() or code in named_in_tests(), \
        f"{code} ({CODES[code].name}) is not asserted by any test: add a Case to tests/test_rules_<check>.py"


def test_every_rule_case_names_a_catalogued_code():
    for code, cases in rule_cases().items():
        assert code in CODES, f"{cases[0]} names {code}, which is not in dlcheck/codes.py"
