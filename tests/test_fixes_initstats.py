"""--verify-fixes for init-stats (dlcheck/checks/init_stats/fixes.py): He / Xavier
re-initialisation of the weight layers for the nonlinearity that follows each, verified on planted
bugs; a plant where it cannot help is reported as not verified; healthy set-ups get nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import dlcheck

TESTS = Path(__file__).resolve().parent
ZOO, MODERN = TESTS / "zoo", TESTS / "modern"
TANH_LOOP = ("for layer in [model[0], model[2], model[4], model[6], model[8], model[10], model[12], model[14], "
             "model[16], model[18]]: nn.init.xavier_normal_(layer.weight, gain=nn.init.calculate_gain(\"tanh\"))")

#: (set-up, code, a piece of the line the user pastes)
FIXED = [
    (ZOO / "bug_tanh_collapse.py", "DLC401", TANH_LOOP + "; nn.init.xavier_normal_(model[20].weight)"),
    (MODERN / "fixesb_bug_relu_explode.py", "DLC402", "for layer in [model[0], model[2], model[4], model[6], "
     "model[8], model[10], model[12], model[14]]: nn.init.kaiming_normal_(layer.weight, nonlinearity=\"relu\")"),
    (ZOO / "bug_tanh_saturated.py", "DLC403", 'nn.init.xavier_normal_(model.fc1.weight, gain=nn.init.calculate_gain('
     '"tanh")); nn.init.xavier_normal_(model.fc2.weight, gain=nn.init.calculate_gain("tanh"))'),
    (MODERN / "fixesb_bug_tanh_vanish.py", "DLC405", TANH_LOOP),
    (MODERN / "fixesb_bug_tanh_vanish.py", "DLC407", TANH_LOOP),
]


def _finding(result, code):
    return next(f for f in result.findings if f.code == code)


def _module(path: Path):
    sys.path.insert(0, str(path.parent))
    try:
        import importlib

        return importlib.import_module(path.stem)
    finally:
        sys.path.remove(str(path.parent))


@pytest.mark.parametrize("setup,code,line", FIXED, ids=[f"{s.stem}-{c}" for s, c, _ in FIXED])
def test_reinitialisation_is_verified_on_its_planted_bug(setup, code, line):
    result = dlcheck.check("init-stats", str(setup), device="cpu", verify_fixes=True)
    fix = _finding(result, code).fix
    assert result.status in ("warn", "fail")
    assert (fix["name"], fix["verified"]) == ("reinit_for_activation", True), fix
    assert fix["applied"] == line
    assert (fix["after"], fix["status_after"], fix["new_findings"]) == ("gone", "pass", [])


def test_the_pasted_line_itself_fixes_the_model():
    """The line is what a user pastes: run as written on a fresh model, init-stats passes."""
    bug = _module(ZOO / "bug_tanh_saturated.py")
    fix = _finding(dlcheck.check("init-stats", str(ZOO / "bug_tanh_saturated.py"), device="cpu",
                                 verify_fixes=True), "DLC403").fix
    torch.manual_seed(0)
    net = bug.Net()
    exec(fix["applied"], {"model": net, "nn": nn})
    result = dlcheck.check("init-stats", model=net, train_loader=bug.train_loader, device="cpu")
    assert result.status == "pass", [f.message for f in result.findings]


def test_deep_relu_net_fix_removes_the_explosion_and_states_the_true_finding_left():
    """The zoo's 12-layer ReLU MLP at 3x He (zero biases): He re-initialisation removes the
    explosion (DLC402) and the off-scale weights (DLC407); what init-stats then says is a
    different, true finding: at 12 layers a He-initialised zero-bias ReLU MLP has units dead on
    every sample in its last layers (the depth effect of Lu et al. 2019, 'Dying ReLU and
    initialization'), here checked on the whole data set, not the check's batches. Verified (fail
    → warn: the explosion is gone), with the new, true warning stated next to it."""
    from dlcheck.fixes import fix_line

    result = dlcheck.check("init-stats", str(ZOO / "bug_relu_explode.py"), device="cpu", verify_fixes=True)
    fix = _finding(result, "DLC402").fix
    assert fix["after"] == "gone" and (fix["status_before"], fix["status_after"]) == ("fail", "warn") and fix["verified"]
    assert [f.split(" ")[0] for f in fix["new_findings"]] == ["DLC404"], fix
    assert "the finding is gone; new: DLC404 warn" in fix_line(fix)
    bug = _module(ZOO / "bug_relu_explode.py")
    dead = []
    for seed in range(3):
        torch.manual_seed(seed)
        net = bug.model()
        exec(fix["applied"], {"model": net, "nn": nn})
        with torch.no_grad():
            h = bug.X
            for layer in list(net)[:-1]:
                h = layer(h)
        dead.append(float((h.amax(0) <= 0).float().mean()))
    assert sum(dead) / len(dead) >= 0.1, dead  # about a fifth of the last layer's units, over all 1797 samples


def test_a_reinitialisation_that_does_not_help_is_not_reported_as_verified():
    """Deep sigmoid: the slope of at most 1/4 shrinks the gradient at every layer whatever the
    weights' scale, so Xavier leaves DLC405 in place."""
    result = dlcheck.check("init-stats", str(MODERN / "fixesb_bug_sigmoid_vanish.py"), device="cpu",
                           verify_fixes=True)
    fix = _finding(result, "DLC405").fix
    assert fix["applied"].endswith("nn.init.xavier_normal_(layer.weight)") and not fix["verified"], fix
    assert fix["after"].startswith("gradient norm of the first layers") and fix["status_after"] == "warn"
    from dlcheck.fixes import fix_line

    assert "not a fix" in fix_line(fix)


def test_a_model_object_is_handed_back_bit_identical_after_a_fix():
    bug = _module(ZOO / "bug_tanh_collapse.py")
    torch.manual_seed(0)
    net = bug.model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = dlcheck.check("init-stats", model=net, train_loader=bug.train_loader, device="cpu", verify_fixes=True)
    assert _finding(result, "DLC401").fix["verified"]
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_healthy_set_up_gets_nothing_applied():
    ok = _module(MODERN / "fixesb_ok_tanh_xavier.py")
    torch.manual_seed(0)
    net = ok.model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = dlcheck.check("init-stats", model=net, train_loader=ok.train_loader, device="cpu", verify_fixes=True)
    assert result.status == "pass" and all(f.fix is None for f in result.findings)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_healthy_twin_is_clean_through_every_check(seed):
    report = dlcheck.run(str(MODERN / "fixesb_ok_tanh_xavier.py"), device="cpu", seed=seed)
    assert report.status == "pass", [(c.name, c.status, [f.code for f in c.findings]) for c in report.checks]
    assert not [f for c in report.checks for f in c.findings if f.severity in ("warn", "fail", "error")]


def test_xavier_gain_follows_the_activation():
    from dlcheck.checks.init_stats.fixes import Init, lines

    inits = [Init("a.0", "He", "relu"), Init("fc", "Xavier", "tanh"), Init("out", "Xavier", "linear")]
    assert lines(inits) == ('nn.init.kaiming_normal_(model.a[0].weight, nonlinearity="relu"); '
                            'nn.init.xavier_normal_(model.fc.weight, gain=nn.init.calculate_gain("tanh")); '
                            'nn.init.xavier_normal_(model.out.weight)')
    layer = nn.Linear(400, 400)
    Init("x", "Xavier", "tanh").apply(layer)
    assert abs(float(layer.weight.detach().std()) - 5 / 3 * (2 / 800) ** 0.5) < 0.01
    Init("x", "He", "relu").apply(layer)
    assert abs(float(layer.weight.detach().std()) - (2 / 400) ** 0.5) < 0.01
