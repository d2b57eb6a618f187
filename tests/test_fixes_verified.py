"""--verify-fixes' init-loss prior bias, overfit-small unfreeze and LR, and lr-find LR fixes
(dlcheck.fixes): each verified on its planted bug (the finding gone, the check passing), an LR fix
on a set-up whose failure has another cause reported as tried and not verified, a fix that cannot
work as not applying, and a healthy twin that gets nothing applied."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import dlcheck
from dlcheck import fixes
from dlcheck.fixes import fix_line

TESTS = Path(__file__).resolve().parent
ZOO, MODERN = TESTS / "zoo", TESTS / "modern"
PRIOR = "model[2].bias.data.copy_(torch.tensor([0.6107, 0.3206, 0.0687]).log())"

#: (set-up, check, code, the fix's name, a piece of the line the user pastes)
FIXED = [
    (MODERN / "fixes_bug_head_std.py", "init-loss", "DLC101", "scale_final_layer", PRIOR + "; model[2].weight.data.mul_("),
    (MODERN / "fixes_bug_bias_counts.py", "init-loss", "DLC105", "scale_final_layer", PRIOR),
    (ZOO / "bug_frozen.py", "overfit-small", "DLC204", "unfreeze",
     "model[0].weight.requires_grad_(True); model[0].bias.requires_grad_(True); model[2].weight.requires_grad_(True)"),
    (ZOO / "bug_lr_too_low.py", "overfit-small", "DLC201", "lr_from_lr_find", "torch.optim.Adam(model.parameters(), lr=0.0"),
    (ZOO / "bug_lr_too_low.py", "lr-find", "DLC303", "suggested_lr", "torch.optim.Adam(model.parameters(), lr=0.0"),
    (ZOO / "bug_lr_too_high.py", "lr-find", "DLC302", "suggested_lr", "torch.optim.SGD(model.parameters(), lr=1."),
]


def _finding(result, code):
    return next(f for f in result.findings if f.code == code)


@pytest.mark.parametrize("setup,check,code,name,line", FIXED, ids=[f"{f[2]}-{f[0].stem}" for f in FIXED])
def test_each_fix_is_verified_on_its_planted_bug(setup, check, code, name, line):
    result = dlcheck.check(check, str(setup), device="cpu", verify_fixes=True)
    fix = _finding(result, code).fix
    assert result.status in ("warn", "fail")
    assert (fix["name"], fix["code"], fix["verified"]) == (name, code, True), fix
    assert line in fix["applied"], fix["applied"]
    assert (fix["after"], fix["status_after"], fix["new_findings"]) == ("gone", "pass", [])
    assert "✓ verified fix: " + fix["applied"] in fix_line(fix)


def test_balanced_labels_keep_the_bias_at_zero():
    fix = _finding(dlcheck.check("init-loss", str(ZOO / "bug_init_scale.py"), device="cpu", verify_fixes=True),
                   "DLC101").fix
    assert fix["verified"] and fix["applied"].startswith("nn.init.zeros_(model.out.bias)")


def test_an_lr_fix_on_a_failure_with_another_cause_is_not_verified():
    result = dlcheck.check("overfit-small", str(MODERN / "fixes_bug_first_sample.py"), device="cpu",
                           verify_fixes=True)
    fix = _finding(result, "DLC205").fix
    assert fix["name"] == "lr_from_lr_find" and fix["applied"].startswith("torch.optim.Adam(model.parameters(), lr=")
    assert not fix["verified"] and fix["status_after"] == "fail" and "stalled" in fix["after"], fix
    assert "not a fix" in fix_line(fix)


def test_unfreezing_does_not_apply_where_nothing_is_frozen():
    result = dlcheck.check("overfit-small", str(ZOO / "bug_optimizer_misses_params.py"), device="cpu",
                           verify_fixes=True)
    fix = _finding(result, "DLC204").fix
    assert (fix["name"], fix["applied"], fix["verified"]) == ("unfreeze", None, False)
    assert "does not apply" in fix["after"]


def test_under_the_command_lines_lr_the_lr_fix_does_not_apply():
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "dlcheck", "lr-find", str(ZOO / "bug_lr_too_high.py"), "--lr", "10",
                           "--device", "cpu", "--verify-fixes", "--json", "-", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    findings = json.loads(proc.stdout)["checks"][0]["findings"]
    fix = next(f for f in findings if f["code"] == "DLC302")["fix"]
    assert fix["applied"] is None and "does not apply" in fix["after"], fix


def test_a_frozen_model_object_is_handed_back_frozen_and_bit_identical():
    sys.path.insert(0, str(ZOO))
    try:
        import bug_frozen as bug
    finally:
        sys.path.remove(str(ZOO))
    torch.manual_seed(0)
    net = bug.model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    grads = [p.requires_grad for p in net.parameters()]
    result = dlcheck.check("overfit-small", model=net, train_loader=bug.train_loader, device="cpu",
                           verify_fixes=True)
    assert _finding(result, "DLC204").fix["verified"]
    assert [p.requires_grad for p in net.parameters()] == grads
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_with_optimizer_wraps_the_factory_and_sets_the_lr():
    from dlcheck.target import Target

    built = []

    def factory(params, lr):
        built.append(lr)
        return torch.optim.SGD(params, lr=0.5)  # ignores the lr it is handed

    target = Target(model=nn.Linear(2, 2), train_loader=[], optimizer=factory, lr=1e-3)
    fixed = fixes.with_optimizer(target, lambda opt, lr: (opt.param_groups[0].update(lr=lr), opt)[1], lr=0.03)
    opt = fixed.optimizer(nn.Linear(2, 2).parameters(), lr=fixed.lr)
    assert (fixed.lr, target.lr, target.optimizer) == (0.03, 1e-3, factory)
    assert type(opt) is torch.optim.SGD and opt.param_groups[0]["lr"] == 0.03 and built == [0.03]
    default = fixes.with_optimizer(Target(model=nn.Linear(2, 2), train_loader=[]))  # no factory: Adam, as dlcheck builds it
    assert type(default.optimizer(nn.Linear(2, 2).parameters(), lr=0.1)) is torch.optim.Adam


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_healthy_twin_is_clean_and_gets_nothing_applied(seed):
    report = dlcheck.run(str(MODERN / "fixes_imbalanced_mlp.py"), device="cpu", seed=seed, verify_fixes=True)
    assert report.status == "pass", [(c.name, c.status, [f.code for f in c.findings]) for c in report.checks]
    assert all(f.fix is None for c in report.checks for f in c.findings)
