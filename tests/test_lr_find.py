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


def _final_loss(digits, lr, steps=100):
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
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
    assert "start_lr" in out.stderr and "Traceback" not in out.stderr


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
