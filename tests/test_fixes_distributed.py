"""--verify-fixes under torchrun (two ranks on the CPU with gloo): every rank tries the same fix on
its own copy and re-runs the check in the distributed session, so the fix has one verdict, written
by rank 0; the fixes that choose from measured numbers (init-loss's factor, data-check's mean/std)
choose from all ranks' numbers, and pick what one process reading the same samples picks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import dlcheck
from test_distributed import SETUPS, torchrun

MODERN = Path(__file__).resolve().parent / "modern"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on POSIX")


def _fixes(checks) -> dict:
    """``{code: fix}`` of the findings that carry one (JSON dicts or results' findings)."""
    out = {}
    for check in checks:
        for f in (check["findings"] if isinstance(check, dict) else check.findings):
            fix = f.get("fix") if isinstance(f, dict) else f.fix
            if fix is not None:
                out[f["code"] if isinstance(f, dict) else f.code] = fix
    return out


def _two_ranks(tmp_path, setup: Path, checks: str) -> tuple[dict, list[dict]]:
    report = tmp_path / "r.json"
    done = torchrun("run", setup, "--checks", checks, "--verify-fixes", "--json", report, "-q",
                    dump=tmp_path, timeout=120)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    return json.loads(report.read_text()), ranks


@pytest.mark.parametrize("setup,checks,codes", [
    ("fixdist_bug_raw_pixels.py", "init-loss,data-check", {"DLC101": "scale_final_layer", "DLC701": "standardise_inputs"}),
    ("fixdist_bug_double_softmax.py", "overfit-small", {"DLC203": "remove_output_activation"}),
], ids=["measured-choices", "double-softmax"])
def test_a_planted_bug_gets_the_fix_one_process_verifies(tmp_path, setup, checks, codes):
    written, ranks = _two_ranks(tmp_path, MODERN / setup, checks)
    fixes = _fixes(written["checks"])
    assert {c: f["name"] for c, f in fixes.items()} == codes, fixes
    for fix in fixes.values():
        assert {"name", "code", "applied", "before", "after", "status_after", "new_findings"} <= set(fix)
        assert (fix["verified"], fix["after"], fix["status_after"], fix["new_findings"]) == (True, "gone", "pass", [])
    assert _fixes(ranks[0]["checks"]) == _fixes(ranks[1]["checks"]) == fixes  # one verdict, every rank
    single = dlcheck.run(str(MODERN / setup), device="cpu", checks=checks.split(","), verify_fixes=True)
    alone = _fixes(single.checks)
    assert {c: f["applied"] for c, f in fixes.items()} == {c: f["applied"] for c, f in alone.items()}
    assert all(f["verified"] for f in alone.values())


def test_a_healthy_set_up_gets_nothing_applied_under_torchrun(tmp_path):
    written, _ = _two_ranks(tmp_path, SETUPS / "dist_digits.py", "init-loss,overfit-small,data-check")
    assert [c["status"] for c in written["checks"]] == ["pass"] * 3
    assert _fixes(written["checks"]) == {}


def test_ranks_that_choose_differently_do_not_try_the_fix(monkeypatch):
    """The ranks' choices compared (fixes._agreed): a fix whose line differs between the ranks is
    'not tried under torchrun', naming each rank's choice; one that raised on a rank names it."""
    import torch.distributed as dist

    from dlcheck import distributed, fixes

    every = []
    monkeypatch.setattr(distributed, "active", lambda: True)
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(dist, "all_gather_object", lambda out, mine: out.__setitem__(slice(None), every))
    every[:] = [("applied", "x.mul_(0.1)"), ("applied", "x.mul_(0.1)")]
    assert fixes._agreed(("applied", "x.mul_(0.1)"), "the fix's choice") is None
    every[:] = [("applied", "x.mul_(0.1)"), ("applied", "x.mul_(0.05)")]
    said = fixes._agreed(every[0], "the fix's choice")
    assert said == "not tried under torchrun: the ranks disagree on the fix's choice (rank 0: x.mul_(0.1); rank 1: x.mul_(0.05))"
    every[:] = [("none", ""), ("raised", "the fixed set-up raised ValueError: no")]
    assert fixes._agreed(every[0], "the fix's choice") == "rank 1: the fixed set-up raised ValueError: no"
