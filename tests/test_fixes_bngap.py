"""--verify-fixes for bn-gap (dlcheck/checks/bn_gap/fixes.py): running statistics restored,
momentum 0.1, GroupNorm for BatchNorm at tiny batches, each verified on a planted bug; the lines
name the modules by attribute path; healthy set-ups get nothing and keep their model bit-identical."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import dlcheck

TESTS = Path(__file__).resolve().parent
ZOO, MODERN = TESTS / "zoo", TESTS / "modern"

#: (set-up, code, the fix's name, the line the user pastes)
FIXED = [
    (MODERN / "fixesb_bug_bn_untracked.py", "DLC503", "track_running_stats",
     "model.features[1] = nn.BatchNorm2d(16, track_running_stats=True)"),
    (ZOO / "bug_bn_momentum_zero.py", "DLC504", "momentum_default", "model.bn.momentum = 0.1"),
    (MODERN / "fixesb_bug_bn_keras_momentum.py", "DLC510", "momentum_not_inverted",
     "model.features[1].momentum = 0.1; model.features[4].momentum = 0.1"),
    (MODERN / "fixesb_bug_bn_small_batch.py", "DLC505", "group_norm_for_batch_norm",
     "model.features[1] = nn.GroupNorm(4, 16); model.features[4] = nn.GroupNorm(8, 32)"),
    (ZOO / "bug_bn_batch_two.py", "DLC506", "group_norm_for_batch_norm", "model[1] = nn.GroupNorm(4, 16)"),
]


def _finding(result, code):
    return next(f for f in result.findings if f.code == code)


def _module(path: Path):
    sys.path.insert(0, str(path.parent))
    try:
        return importlib.import_module(path.stem)
    finally:
        sys.path.remove(str(path.parent))


@pytest.mark.parametrize("setup,code,name,line", FIXED, ids=[f[1] for f in FIXED])
def test_each_bn_fix_is_verified_on_its_planted_bug(setup, code, name, line):
    result = dlcheck.check("bn-gap", str(setup), device="cpu", verify_fixes=True)
    fix = _finding(result, code).fix
    assert result.status in ("warn", "fail")
    assert (fix["name"], fix["verified"], fix["applied"]) == (name, True, line), fix
    assert (fix["after"], fix["status_after"], fix["new_findings"]) == ("gone", "pass", [])


def test_momentum_zero_fix_also_closes_the_gap_it_caused():
    """momentum=0 leaves eval mode with mean 0 / var 1: the layer's own gap (DLC507, fail) goes
    with the momentum, the fixed re-run passes."""
    result = dlcheck.check("bn-gap", str(ZOO / "bug_bn_momentum_zero.py"), device="cpu", verify_fixes=True)
    assert _finding(result, "DLC507").severity == "fail"
    assert _finding(result, "DLC504").fix["status_after"] == "pass"


@pytest.mark.parametrize("setup,code", [(ZOO / "bug_bn_batch_two.py", "DLC506"),
                                         (MODERN / "fixesb_bug_bn_untracked.py", "DLC503")])
def test_the_pasted_line_itself_fixes_the_model(setup, code):
    bug = _module(setup)
    fix = _finding(dlcheck.check("bn-gap", str(setup), device="cpu", verify_fixes=True), code).fix
    torch.manual_seed(0)
    net = bug.model()
    exec(fix["applied"], {"model": net, "nn": nn})
    result = dlcheck.check("bn-gap", model=net, train_loader=bug.train_loader,
                           val_loader=getattr(bug, "val_loader", None), device="cpu")
    assert result.status == "pass" and code not in {f.code for f in result.findings}


def test_the_users_model_object_keeps_its_batchnorm():
    bug = _module(ZOO / "bug_bn_momentum_zero.py")
    torch.manual_seed(0)
    net = bug.Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = dlcheck.check("bn-gap", model=net, train_loader=bug.train_loader, device="cpu", verify_fixes=True)
    assert _finding(result, "DLC504").fix["verified"]
    assert net.bn.momentum == 0.0 and isinstance(net.bn, nn.BatchNorm1d)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_an_untracked_model_object_is_not_given_running_statistics():
    bug = _module(MODERN / "fixesb_bug_bn_untracked.py")
    torch.manual_seed(0)
    net = bug.DigitNet()
    keys = set(net.state_dict())
    result = dlcheck.check("bn-gap", model=net, train_loader=bug.train_loader, val_loader=bug.val_loader,
                           device="cpu", verify_fixes=True)
    assert _finding(result, "DLC503").fix["verified"]
    assert not net.features[1].track_running_stats and net.features[1].running_mean is None
    assert set(net.state_dict()) == keys


def test_a_healthy_bn_set_up_gets_nothing_applied():
    ok = _module(ZOO / "ok_digits_bn_cnn.py")
    torch.manual_seed(0)
    net = ok.DigitNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = dlcheck.check("bn-gap", model=net, train_loader=ok.train_loader, val_loader=ok.val_loader,
                           device="cpu", verify_fixes=True)
    assert result.status == "pass" and all(f.fix is None for f in result.findings)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("kind,channels,groups", [("BatchNorm2d", 16, 4), ("BatchNorm2d", 32, 8),
                                                  ("BatchNorm2d", 512, 32), ("BatchNorm2d", 96, 24),
                                                  ("BatchNorm2d", 3, 1), ("BatchNorm1d", 128, 8),
                                                  ("BatchNorm1d", 10, 1)])
def test_group_count_divides_the_channels(kind, channels, groups):
    from dlcheck.checks.bn_gap.fixes import groups_for

    assert groups_for(kind, channels) == groups and channels % groups == 0
