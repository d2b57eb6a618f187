"""--verify-fixes (dlcheck.fixes): each catalogued fix applied to a copy of its planted bug's
set-up, the check re-run, the finding gone; a fix that does not help is not reported as verified;
a healthy set-up gets nothing applied and its model object handed back bit-identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dlcheck

TESTS = Path(__file__).resolve().parent
ZOO, MODERN = TESTS / "zoo", TESTS / "modern"

#: (set-up, check, code, the fix's name, a piece of the line the user pastes)
FIXED = [
    (ZOO / "bug_init_scale.py", "init-loss", "DLC101", "scale_final_layer",
     "nn.init.zeros_(model.out.bias); model.out.weight.data.mul_(0.1)"),
    (ZOO / "bug_double_softmax.py", "overfit-small", "DLC203", "remove_output_activation", "model[3] = nn.Identity()"),
    (ZOO / "bug_sorted_unshuffled.py", "data-check", "DLC707", "shuffle_loader", "DataLoader(..., shuffle=True)"),
    (ZOO / "bug_raw_pixels.py", "data-check", "DLC701", "standardise_inputs", "transforms.Normalize(mean=[94.59"),
    (ZOO / "bug_lstm_not_batch_first.py", "batch-independence", "DLC801", "set_batch_first",
     "model.lstm.batch_first = True"),
    (MODERN / "optim_bug_adam_l2.py", "optimizer", "DLC973", "adamw_for_adam",
     "torch.optim.AdamW(params, lr=lr, weight_decay=0.01)"),
]


def _finding(result, code):
    return next(f for f in result.findings if f.code == code)


@pytest.mark.parametrize("setup,check,code,name,line", FIXED, ids=[f[2] for f in FIXED])
def test_each_catalogued_fix_is_verified_on_its_planted_bug(setup, check, code, name, line):
    result = dlcheck.check(check, str(setup), device="cpu", verify_fixes=True)
    fix = _finding(result, code).fix
    assert result.status in ("warn", "fail")
    assert (fix["name"], fix["code"], fix["verified"]) == (name, code, True), fix
    assert line in fix["applied"]
    assert fix["before"] == _finding(result, code).message
    assert (fix["after"], fix["status_after"], fix["new_findings"]) == ("gone", "pass", [])


def test_a_fix_that_does_not_help_is_not_reported_as_verified():
    result = dlcheck.check("init-loss", str(MODERN / "fixes_bug_offset_logits.py"), device="cpu", verify_fixes=True)
    finding = _finding(result, "DLC101")
    fix = finding.fix
    assert fix["applied"] and not fix["verified"], fix
    assert fix["after"].startswith("initial loss") and fix["status_after"] in ("warn", "fail")
    from dlcheck.fixes import fix_line

    assert "not a fix" in fix_line(fix) and "still: initial loss" in fix_line(fix)


def test_without_the_option_nothing_is_tried_and_the_json_is_as_before():
    result = dlcheck.check("init-loss", str(ZOO / "bug_init_scale.py"), device="cpu")
    assert _finding(result, "DLC101").fix is None
    assert "fix" not in _finding(result, "DLC101").to_dict()


def test_a_model_object_is_handed_back_bit_identical_after_a_fix_was_applied():
    sys.path.insert(0, str(ZOO))
    try:
        from bug_init_scale import Net, X, y
        from _data import loader
    finally:
        sys.path.remove(str(ZOO))
    torch.manual_seed(0)
    net = Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = dlcheck.check("init-loss", model=net, train_loader=loader(X, y), device="cpu", verify_fixes=True)
    assert _finding(result, "DLC101").fix["verified"]
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_healthy_set_up_gets_nothing_applied_and_its_model_back_bit_identical():
    sys.path.insert(0, str(ZOO))
    try:
        import ok_digits_mlp as ok
    finally:
        sys.path.remove(str(ZOO))
    torch.manual_seed(0)
    net = ok.model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    report = dlcheck.run(model=net, train_loader=ok.train_loader, val_loader=ok.val_loader, device="cpu",
                         verify_fixes=True)
    assert report.status == "pass", [(c.name, c.status, [f.code for f in c.findings]) for c in report.checks]
    assert all(f.fix is None for c in report.checks for f in c.findings)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_the_cli_writes_the_fix_into_the_json_and_explain_names_it():
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "dlcheck", "run", str(ZOO / "bug_init_scale.py"), "--checks",
                           "init-loss,data-check", "--device", "cpu", "--verify-fixes", "--json", "-", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    fix = next(f for f in checks["init-loss"]["findings"] if f["code"] == "DLC101")["fix"]
    assert {"name", "code", "applied", "before", "after", "status_after", "new_findings"} <= set(fix)
    assert fix["verified"] and fix["status_after"] == "pass"
    assert all("fix" not in f for f in checks["data-check"]["findings"])  # nothing to fix there
    explained = subprocess.run([sys.executable, "-m", "dlcheck", "explain", "DLC707"], capture_output=True,
                               text=True, env=env, timeout=120)
    assert "Verified fix:" in explained.stdout and "shuffle_loader" in explained.stdout


def test_shuffling_a_distributed_sampler_keeps_it_and_says_so():
    """A loader whose DistributedSampler does not shuffle sorted data: the fix shuffles that
    sampler (each rank keeps its shard) and the line says DistributedSampler, not DataLoader."""
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.data.distributed import DistributedSampler

    sys.path.insert(0, str(ZOO))
    from _data import standardised

    X, y = standardised("digits")
    order = torch.argsort(y, stable=True)
    data = TensorDataset(X[order], y[order])
    loader = DataLoader(data, batch_size=32, sampler=DistributedSampler(data, num_replicas=1, rank=0, shuffle=False))
    result = dlcheck.check("data-check", model=lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
                           train_loader=loader, device="cpu", verify_fixes=True)
    fix = _finding(result, "DLC707").fix
    assert fix["applied"] == "DistributedSampler(dataset, shuffle=True)" and fix["verified"], fix
    assert loader.sampler.shuffle is False  # the user's loader is untouched


@pytest.mark.parametrize("before,after,new,verified", [
    ("fail", "pass", [], True),
    ("fail", "warn", ["DLC209 warn"], True),  # the failure gone, a different finding it hid stated
    ("warn", "warn", ["DLC209 warn"], False),  # no better, and something new: not a fix
    ("warn", "fail", ["DLC202 fail"], False),  # worse
    ("warn", "pass", [], True),
])
def test_a_fix_is_verified_only_when_its_finding_is_gone_and_the_check_no_worse(before, after, new, verified):
    from dlcheck.fixes import _compare
    from dlcheck.results import CheckResult, Finding

    finding = Finding("DLC204", before, "frozen")
    was = CheckResult("overfit-small", status=before, findings=[finding])
    now = CheckResult("overfit-small", status=after,
                      findings=[Finding(n.split()[0], n.split()[1], "m") for n in new])
    out = _compare({}, was, finding, now)
    assert (out["after"], out["verified"], len(out["new_findings"])) == ("gone", verified, len(new))
