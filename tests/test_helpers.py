"""The tests' own helpers where a mistake would hide a failure: ``unhealthy`` sets aside the
machine-timed findings (DLC981) and nothing else."""

from __future__ import annotations

from types import SimpleNamespace as NS

from helpers import unhealthy


def _check(name, status, *found):
    return NS(name=name, status=status, summary=f"{name} {status}",
              findings=[NS(code=code, severity=severity, message=code) for code, severity in found])


def test_a_warning_of_the_loaders_timing_alone_counts_as_passing():
    run = NS(checks=[_check("preflight", "warn", ("DLC981", "warn"), ("DLC980", "info"))])
    assert unhealthy(run) == {} and unhealthy(run, loud=True) == {}


def test_anything_else_is_still_reported():
    run = NS(checks=[_check("preflight", "warn", ("DLC981", "warn"), ("DLC987", "warn")),
                     _check("overfit-small", "fail", ("DLC981", "warn")),
                     _check("init-loss", "error"),
                     _check("lr-find", "pass", ("DLC302", "warn")),
                     _check("bn-gap", "pass", ("DLC400", "info"))])
    assert set(unhealthy(run)) == {"preflight", "overfit-small", "init-loss"}
    assert set(unhealthy(run, loud=True)) == {"preflight", "overfit-small", "init-loss", "lr-find"}
    assert unhealthy(run, loud=True)["preflight"][2] == [("DLC987", "DLC987")]
