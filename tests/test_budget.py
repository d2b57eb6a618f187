"""Issue 24, items 4 and 5: --budget is a wall-time bound held between batch reads and steps (a
loader slower than the budget stops being read once it is spent, and the report says DLC003 with
what finished); a huge step count without a budget is refused with the limit named; a model
without any parameter fails with DLC005 in every check that trains (exit 1, never error).
Through the real CLI, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dlcheck
from dlcheck.config import MAX_STEPS
from helpers import unhealthy

ROOT = Path(__file__).resolve().parent.parent
SETUPS = Path(__file__).resolve().parent / "setups"
SLOW, NO_PARAMS = SETUPS / "h24_budget_slow.py", SETUPS / "h24_budget_noparams.py"


def dlcheck_cli(*args, sleep: float = 0.0, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "DLCHECK_TEST_SLEEP": str(sleep)}
    return subprocess.run([sys.executable, "-m", "dlcheck", *map(str, args)], capture_output=True, text=True,
                          cwd=SETUPS, env=env, timeout=timeout)


def report(path: Path) -> dict:
    return {c["name"]: c for c in json.loads(path.read_text())["checks"]}


def codes(check: dict) -> set[str]:
    return {f["code"] for f in check["findings"]}


def test_the_budget_holds_between_slow_batch_reads(tmp_path):
    """2 s per batch, --budget 3: lr-find alone would read its 100 sweep steps (200 s) and more
    for the probes, init-loss its batches, overfit-small its subset. Each check stops reading once
    its 3 s are spent and says DLC003; the healthy model is failed by none."""
    out = tmp_path / "r.json"
    start = time.perf_counter()
    proc = dlcheck_cli("run", SLOW, "--checks", "init-loss,overfit-small,lr-find", "--budget", "3",
                       "--json", out, "--quiet", sleep=2.0)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert wall < 60, f"{wall:.0f} s: the budget was not held between batch reads"
    checks = report(out)
    for name in ("init-loss", "overfit-small", "lr-find"):
        check = checks[name]
        assert "DLC003" in codes(check) and check["status"] == "warn", check
        assert check["seconds"] < 3 + 2 * 2 + 2, check  # the budget, at most one batch read and a step over
    assert "the time budget ended the run" in checks["overfit-small"]["summary"]


def test_a_huge_step_count_without_a_budget_is_refused():
    proc = dlcheck_cli("lr-find", SLOW, "--steps", "1000000000")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "--steps" in lines[0] and str(MAX_STEPS) in lines[0] and "--budget" in lines[0], lines[0]


def test_a_huge_step_count_with_a_budget_is_bounded_by_it(tmp_path):
    out = tmp_path / "r.json"
    start = time.perf_counter()
    proc = dlcheck_cli("lr-find", SLOW, "--steps", "1000000000", "--budget", "2", "--json", out, "--quiet")
    assert time.perf_counter() - start < 60
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DLC003" in codes(report(out)["lr-find"])


def test_the_step_limit_itself_still_runs():
    """The limit refuses only what is above it (users' recipes with long sweeps keep working)."""
    from dlcheck.config import Settings, check_settings_for

    settings = Settings(check_settings={"lr-find": {"steps": MAX_STEPS}})
    assert check_settings_for(settings, "lr-find", {"steps": 100})["steps"] == MAX_STEPS


def test_a_model_without_parameters_fails_with_dlc005(tmp_path):
    out = tmp_path / "r.json"
    proc = dlcheck_cli("run", NO_PARAMS, "--json", out, "--quiet")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = report(out)
    assert not [c["name"] for c in checks.values() if c["status"] == "error"], checks
    for name in ("overfit-small", "lr-find", "init-stats", "optimizer"):  # the checks that train
        assert checks[name]["status"] == "fail" and codes(checks[name]) == {"DLC005"}, checks[name]
        assert "no parameters" in checks[name]["summary"]
    pairing = [f for f in checks["data-check"]["findings"] if f["code"] == "DLC710"]
    assert pairing and "no parameters" in pairing[0]["message"]  # its part skipped, with the reason
    assert checks["data-check"]["status"] == "pass"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_healthy_twin_is_clean(seed, monkeypatch):
    """The slow target's loader without the sleep: a digits MLP every check passes."""
    monkeypatch.setenv("DLCHECK_TEST_SLEEP", "0")
    result = dlcheck.run(str(SLOW), device="cpu", seed=seed)
    noisy = unhealthy(result, loud=True)
    assert not noisy, noisy
