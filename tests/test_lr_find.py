"""lr-find on real data: the range test suggests an LR near what a grid of short trainings finds
best, judges the configured LR, fails when no LR helps, says so when the curve is unusable,
probes candidate LRs, and hands the model back bit-identical."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from dlcheck import lr_rules
from helpers import assert_same, snapshot


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def loader(digits, batch_size=64):
    X, y = digits
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def codes(result):
    return {f.code: f for f in result.findings}


def _final_loss(digits, lr, steps=100, optimizer=torch.optim.Adam):
    torch.manual_seed(0)
    model = mlp()
    opt = optimizer(model.parameters(), lr=lr)
    losses = []
    while len(losses) < steps:
        for xb, yb in loader(digits):
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    tail = losses[-10:]
    return sum(tail) / len(tail) if all(map(math.isfinite, tail)) else math.inf


def test_suggestion_lands_within_a_decade_of_the_grid_oracle(digits, tmp_path):
    grid = [10 ** (e / 2) for e in range(-10, 1)]  # 1e-5 .. 1, half decades
    losses = {lr: _final_loss(digits, lr) for lr in grid}
    oracle = min(losses, key=losses.get)
    result = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits), lr=oracle, out=str(tmp_path))
    assert result.status == "pass", (result.summary, codes(result))
    suggested = result.metrics["suggested_lr"]
    assert oracle / 10 <= suggested <= oracle * 10, (suggested, oracle, losses)
    assert result.metrics["diverge_lr"] is not None and result.metrics["diverge_lr"] > suggested
    assert {r["rule"] for r in result.details["suggestions"]} == {"steepest", "valley", "minimum/10"}
    rows = list(csv.DictReader(open(tmp_path / "lr-find-curve.csv")))
    assert len(rows) == result.metrics["steps"] and set(rows[0]) == {"step", "lr", "loss", "smoothed"}
    assert float(rows[1]["lr"]) > float(rows[0]["lr"])
    assert (tmp_path / "lr-find-curve.png").stat().st_size > 10_000


def test_plain_sgd_is_suggested_above_the_blend_and_trains_better_there(digits):
    """SGD without momentum: the loss keeps falling with the LR up to the edge of stability, and the
    blend sits 2-10x below the best fixed LR (benchmarks/lr_quality.py); lr-find scales it by
    plain_sgd_factor. On the digits MLP (oracle of 100 steps about 0.56) the scaled suggestion
    trains to a third of the loss the blend reaches."""
    from dlcheck.checks import lr_find as lf

    sgd = lambda params, lr: torch.optim.SGD(params, lr=lr)  # noqa: E731
    result = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits), optimizer=sgd, seed=0)
    m = result.metrics
    assert result.status == "pass" and m["suggested_by"] == "blend x plain_sgd_factor", (result.summary, m)
    blend = lf.primary({name: m[f"{name}_lr"] for name in lf.BLEND})
    assert m["suggested_lr"] == pytest.approx(lf.SETTINGS["plain_sgd_factor"] * blend, rel=1e-3)
    assert m["suggested_lr"] < m["diverge_lr"] / 4, m
    at_blend = _final_loss(digits, blend, optimizer=torch.optim.SGD)
    at_suggested = _final_loss(digits, m["suggested_lr"], optimizer=torch.optim.SGD)
    assert at_suggested < at_blend / 2, (at_suggested, at_blend)
    momentum = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits), seed=0,
                             optimizer=lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9))
    assert momentum.metrics["suggested_by"] == "blend", momentum.metrics


def test_a_plateau_whose_best_probe_run_is_its_highest_lr_is_probed_a_decade_up(digits):
    """Plain SGD on a small CNN sits on a plateau that a 100-step sweep moves past (DLC306); of the
    probe's LRs the highest, 0.1, fell most, so one decade up is tried too (below the sweep's
    divergence): lr 1 falls further, and is what 200 fixed-LR steps find best
    (benchmarks/lr_quality.py: 1.00 of the oracle where 0.1 scored 4.81)."""
    cnn = lambda: nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),  # noqa: E731
                                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                                nn.Flatten(), nn.Linear(128, 10))
    result = dlcheck.check("lr-find", model=cnn, train_loader=loader(digits), seed=0,
                           optimizer=lambda params, lr: torch.optim.SGD(params, lr=lr))
    probe = {row["lr"]: row for row in result.details["probe"]}
    assert "DLC306" in codes(result) and result.metrics["suggested_by"] == "probe", result.summary
    assert sorted(probe) == [1e-4, 1e-3, 1e-2, 0.1, 1.0], probe  # not 10: past the sweep's divergence
    assert result.metrics["diverge_lr"] < 10 and result.metrics["suggested_lr"] == 1.0
    assert probe[1.0]["drop"] > probe[0.1]["drop"] + 0.1, probe


def test_configured_lr_above_divergence_warns(digits):
    result = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits), lr=5.0)
    assert result.status == "warn" and "DLC302" in codes(result)
    assert "the target's lr 5" in codes(result)["DLC302"].message


def test_configured_lr_far_below_suggestion_warns(digits):
    result = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits), lr=1e-6)
    assert result.status == "warn" and "DLC303" in codes(result)


def test_unconfigured_default_lr_is_only_noted(digits):
    """Without an lr in the target, dlcheck's own default is not the user's mistake."""
    result = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits),
                           settings={"lr-find": {"far_below": 1.0001}})
    assert result.status == "pass"
    assert result.metrics["lr_configured"] is False
    found = codes(result)
    assert found and all(f.severity == "info" for f in found.values())


def test_no_learning_rate_helps_a_frozen_model(digits):
    def frozen():
        net = mlp()
        for p in net[:-1].parameters():
            p.requires_grad_(False)
        net[-1].weight.requires_grad_(False)
        return net  # only the last bias trains: the loss barely moves

    X, y = digits
    balanced = DataLoader(TensorDataset(X, y), batch_size=256, shuffle=True, generator=torch.Generator().manual_seed(0))
    result = dlcheck.check("lr-find", model=frozen, train_loader=balanced, settings={"lr-find": {"end_lr": 1e-2}})
    assert result.status == "fail" and "DLC301" in codes(result), result.summary
    assert "nor did 100 steps at a fixed lr" in result.summary  # the probe ran before the verdict
    assert not any(row["fell"] for row in result.details["probe"])


def test_a_sweep_that_diverges_at_once_is_unusable_not_a_crash(digits):
    result = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits),
                           settings={"lr-find": {"start_lr": 3.0, "end_lr": 1e4, "steps": 40}})
    assert result.status == "warn" and set(codes(result)) == {"DLC305"}
    assert "suggested_lr" not in result.metrics


def test_probe_runs_candidates_from_the_same_init(digits):
    model = mlp()
    before = snapshot(model)
    X, y = digits
    shuffled = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)  # order from the seeded global RNG
    result = dlcheck.check("lr-find", model=model, train_loader=shuffled,
                           settings={"lr-find": {"probe": True, "probe_steps": 30}})
    assert_same(before, model)
    rows = result.details["probe"]
    assert [r["lr"] for r in rows] == [1e-1, 1e-2, 1e-3, 1e-4]
    assert len({r["initial_loss"] for r in rows}) == 1  # the same init and data for every candidate
    assert result.metrics["probe_best_lr"] in (1e-2, 1e-3)  # Adam on digits: 1e-1 is too high, 1e-4 too slow
    assert rows[3]["drop"] < max(r["drop"] for r in rows)


def test_linear_sweep_and_cli_flags(cli, tmp_path):
    from conftest import RECIPES

    out = cli("lr-find", RECIPES / "digits_setup.py", "--steps", "40", "--linear", "--start-lr", "1e-4",
              "--end-lr", "0.05", "--json", tmp_path / "r.json", "--quiet")
    import json

    check = json.loads((tmp_path / "r.json").read_text())["checks"][0]
    assert out.exit_code == 0, out.stderr
    assert check["metrics"]["planned_steps"] == 40


def test_bad_sweep_settings_are_rejected_clearly(cli):
    from conftest import RECIPES

    out = cli("lr-find", RECIPES / "digits_setup.py", "--start-lr", "0")
    assert out.exit_code == 2
    assert "start" in out.stderr and "Traceback" not in out.stderr


# -- the rules, on plain curves ------------------------------------------------------------------
def test_smoothing_is_bias_corrected():
    assert lr_rules.smooth([2.0] * 5, 0.98) == pytest.approx([2.0] * 5)


def test_divergence_is_found_after_the_skip():
    curve = [3.0, 2.0, 1.0, 1.5, 5.0, 9.0]
    assert lr_rules.divergence_index(curve, 4.0) == 4
    assert lr_rules.divergence_index(curve[:4], 4.0) is None
    assert lr_rules.divergence_index([1.0, float("nan")], 4.0) == 1


def test_rules_on_a_textbook_curve():
    lrs = [10 ** (-6 + i * 0.1) for i in range(50)]  # 1e-6 .. ~1e-1
    curve = [2.0 / (1 + math.exp((math.log10(lr) + 3) * 3)) + 0.1 for lr in lrs]  # steepest at 1e-3
    assert lrs[lr_rules.steepest(lrs, curve)] == pytest.approx(1e-3, rel=0.3)
    assert lr_rules.valley(curve) is not None
    assert lr_rules.steepest(lrs, [1.0] * 10) is None
    assert lr_rules.spread([1e-3, 1e-2]) == pytest.approx(10)


def test_a_generator_loader_is_started_over_not_spun_on(digits):
    X, y = digits

    def train_loader():  # a factory returning a generator: one pass each call
        for i in range(0, 320, 64):
            yield X[i:i + 64], y[i:i + 64]

    result = dlcheck.check("lr-find", model=mlp, train_loader=train_loader,
                           settings={"lr-find": {"probe": True, "probe_steps": 12, "steps": 30}})
    assert result.status != "error", result.summary
    assert result.metrics["planned_steps"] == 30 and len(result.details["probe"]) == 4


def test_a_loss_below_zero_still_gets_a_suggestion(digits):
    """Losses may be negative (a Gaussian NLL, a negative similarity); here cross-entropy minus 3,
    which is below zero from the start: the divergence test must not read the sign as divergence."""
    shifted = lambda out, target: nn.functional.cross_entropy(out, target) - 3.0
    result = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits), loss_fn=shifted)
    plain = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits))
    assert result.metrics["initial_loss"] < 0
    assert result.status == "pass" and "suggested_lr" in result.metrics, (result.summary, codes(result))
    assert result.metrics["steps"] > 50 and result.metrics["suggested_lr"] == pytest.approx(plain.metrics["suggested_lr"], rel=0.5)


# -- a plateau is not a dead model; the LR judged is the optimizer's; noise is not a suggestion ---
from conftest import SETUPS  # noqa: E402

ZOO = SETUPS.parent / "zoo"


def test_a_plateauing_lstm_is_not_failed_but_probed():
    """A healthy 2-layer LSTM sits at ln 4 through the whole 100-step sweep; fixed-LR runs from the
    same init get off the plateau, so lr-find reports the plateau (DLC306) with the probe's LR
    instead of failing; as the user's own lr 3e-3 trains too, it is a note, not a warning."""
    result = dlcheck.check("lr-find", str(SETUPS / "lr_lstm_plateau.py"))
    found = codes(result)
    assert result.status == "pass" and "DLC301" not in found, (result.summary, found)
    assert found["DLC306"].severity == "info" and "plateau" in found["DLC306"].message
    assert "your lr 0.003" in result.summary
    slow = dlcheck.check("lr-find", str(SETUPS / "lr_lstm_plateau.py"), lr=1e-6)  # an lr that does not train
    assert codes(slow)["DLC306"].severity == "warn" and slow.status == "warn", slow.summary
    assert result.metrics["fall"] < 0.05  # the sweep itself saw no fall
    assert any(row["fell"] for row in result.details["probe"])
    assert result.metrics["suggested_by"] == "probe" and "--steps 400" in found["DLC306"].advice
    assert result.metrics["suggested_lr"] in {r["lr"] for r in result.details["probe"]} | {3e-3}


def test_a_factory_that_ignores_lr_is_judged_at_the_lr_it_sets(digits):
    """The user trains at the factory's hard-coded 1e-6, not at the lr dlcheck hands it."""
    slow = lambda params, lr: torch.optim.SGD(params, lr=1e-6)  # noqa: E731
    result = dlcheck.check("lr-find", model=mlp, train_loader=loader(digits), optimizer=slow)
    found = codes(result)
    assert found["DLC303"].severity == "warn", found
    assert result.metrics["effective_lr"] == pytest.approx(1e-6)
    assert "factory sets (1e-06" in found["DLC303"].message and "only" in found["DLC303"].message
    assert "DLC004" in found  # the context's note that the factory ignores its lr
    assert result.metrics["suggested_lr"] > 1e-3  # the sweep itself still sets the LR it tests

    wild = lambda params, lr: torch.optim.SGD(params, lr=50.0)  # noqa: E731
    found = codes(dlcheck.check("lr-find", model=mlp, train_loader=loader(digits), optimizer=wild))
    assert found["DLC302"].severity == "warn" and "factory sets (50" in found["DLC302"].message


@pytest.mark.parametrize("setup,lr", [("ok_digits_bn_cnn", 1e-3), ("ok_digits_bn_cnn", 3e-4),
                                      ("ok_breast_cancer_dict", 1e-3), ("ok_breast_cancer_dict", 3e-4)])
def test_adam_at_the_usual_lrs_is_not_warned_about(setup, lr):
    """Adam at 1e-3 / 3e-4 sits 10-100x below a short sweep's optimum on these set-ups, and trains
    fine: far below the suggestion is information (DLC303 info), not a warning."""
    result = dlcheck.check("lr-find", str(ZOO / f"{setup}.py"), lr=lr)
    assert result.status == "pass", (result.summary, codes(result))
    assert all(f.severity == "info" for f in result.findings)


def test_no_rule_reads_the_first_noise_dominated_points():
    """MSE on diabetes at batch 32 is noisy: the first points of the sweep jump around before any
    LR trains. The rules read the curve only from where it measurably falls."""
    result = dlcheck.check("lr-find", str(SETUPS / "lr_diabetes_mse.py"))
    assert result.status == "pass", (result.summary, codes(result))
    rules = {r["rule"]: r["lr"] for r in result.details["suggestions"]}
    assert set(rules) == {"steepest", "valley", "minimum/10"}
    assert min(rules.values()) > 1e-4, rules  # the first 10 steps run at LRs below 5e-7
    onset = result.metrics["onset_lr"]  # where the smoothed loss first leaves the noise at init
    assert all(lr >= onset / 2 for lr in rules.values()), (onset, rules)


def test_the_fall_is_measured_to_the_floor_under_label_smoothing():
    """Label smoothing 0.1 over 10 classes: the floor is the smoothed targets' entropy, 0.50."""
    result = dlcheck.check("lr-find", str(SETUPS / "lr_smoothed_digits.py"))
    m = result.metrics
    assert result.status == "pass", (result.summary, codes(result))
    eps, C = 0.1, 10
    top = 1 - eps + eps / C
    assert m["floor"] == pytest.approx(-top * math.log(top) - (C - 1) * (eps / C) * math.log(eps / C), abs=1e-3)
    assert m["fall"] == pytest.approx((m["initial_loss"] - m["min_loss"]) / (m["initial_loss"] - m["floor"]), rel=1e-3)


def test_curve_rules_on_plain_numbers():
    flat = [1.0, 0.7, 1.2, 0.9, 1.1, 1.0, 0.95, 1.05, 1.0, 0.9] * 6  # noise, no trend
    lrs = [10 ** (-7 + i * 0.13) for i in range(len(flat))]
    curve = lr_rules.measure(lrs, flat, beta=0.9, factor=4.0, window=10, floor=0.0, z=3.0, onset_share=0.02)
    assert not curve.fell(0.05, 3.0) and curve.onset(0.02, 3.0) is None
    # falls to a third, then the model dies back to about the loss at init: diverged there
    died = [2.3] * 10 + [2.3 - 0.1 * i for i in range(16)] + [0.8 + 0.15 * i for i in range(25)]
    lrs = [10 ** (-7 + i * 0.15) for i in range(len(died))]
    curve = lr_rules.measure(lrs, died, beta=0.9, factor=4.0, window=10, floor=0.0, z=3.0, onset_share=0.02)
    assert curve.fell(0.05, 3.0) and curve.diverge_lr is not None
    assert curve.smoothed[curve.usable] > curve.initial >= curve.smoothed[curve.usable - 1]
    assert 4 * curve.best > curve.smoothed[curve.usable]  # not by the 4x-the-best rule
    run = lr_rules.Run(lr=1e-3, losses=[2.3] * 50 + [1.0] * 50, initial=2.3, noise=0.05, floor=0.5,
                       init_window=10, window=10)
    assert run.fall == pytest.approx(1.3 / 1.8) and run.fell(0.1, 3.0)
