"""overfit-small on real data: a healthy MLP memorises a tiny subset; each way of failing gets its
own diagnosis code; the user's model comes back bit-identical; runs repeat for a seed."""

from __future__ import annotations

import json
import math

import pytest

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from conftest import RECIPES
from helpers import assert_same, snapshot


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


def loader(digits):
    X, y = digits
    return DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))


def codes(result):
    return {f.code for f in result.findings}


def test_healthy_mlp_memorises_with_dropout_and_weight_decay_off(digits):
    result = dlcheck.check("overfit-small", model=mlp, train_loader=loader(digits),
                           optimizer=lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.1))
    assert result.status == "pass", result.summary
    assert result.metrics["fit"] and result.metrics["final_accuracy"] >= 0.99
    assert result.metrics["final_loss"] <= result.metrics["fit_loss"] == pytest.approx(0.05 * math.log(10), rel=1e-3)
    off = next(f for f in result.findings if f.code == "DLC207")
    assert "dropout" in off.message and "weight decay" in off.message


def test_softmax_before_cross_entropy(digits):
    result = dlcheck.check("overfit-small", model=lambda: nn.Sequential(mlp(), nn.Softmax(dim=1)),
                           train_loader=loader(digits))
    assert result.status == "fail" and codes(result) == {"DLC203", "DLC207"}


def test_parameters_left_out_of_the_optimizer_are_named(digits):
    """Parameters that require grad but never change (left out of the optimizer) fail DLC204."""
    result = dlcheck.check("overfit-small", model=mlp, train_loader=loader(digits),
                           optimizer=lambda params, lr: torch.optim.Adam(list(params)[-2:], lr=lr))
    finding = next(f for f in result.findings if f.code == "DLC204")
    assert "0.weight" in finding.message and result.status == "fail"


def test_parameters_frozen_on_purpose_are_not_blamed(digits):
    """requires_grad=False is the user's choice (a frozen backbone): not counted by DLC204."""
    def frozen():
        net = mlp()
        net[0].requires_grad_(False)
        return net

    result = dlcheck.check("overfit-small", model=frozen, train_loader=loader(digits))
    assert "DLC204" not in {f.code for f in result.findings}


def test_lr_10_diverges_and_names_the_step(digits):
    result = dlcheck.check("overfit-small", model=mlp, train_loader=loader(digits), lr=10.0,
                           optimizer=lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9))
    finding = next(f for f in result.findings if f.code == "DLC202")
    assert "at step" in finding.message and result.status == "fail"


def test_lr_1e_7_does_not_move(digits):
    result = dlcheck.check("overfit-small", model=mlp, train_loader=loader(digits), lr=1e-7)
    assert "DLC201" in codes(result) and result.status == "fail"
    assert result.metrics["steps"] == 500


def test_regression_is_judged_by_the_loss_alone():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = torch.tensor(X / X.std(0), dtype=torch.float32)
    y = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32)[:, None]
    net = lambda: nn.Sequential(nn.Linear(10, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))
    result = dlcheck.check("overfit-small", model=net, loss_fn=nn.MSELoss(), lr=3e-3,
                           train_loader=DataLoader(TensorDataset(X, y), batch_size=32))
    assert result.status == "pass", result.summary
    assert "final_accuracy" not in result.metrics


def test_model_object_is_bit_identical_afterwards(digits):
    model = mlp()
    model.eval()
    before = snapshot(model)
    result = dlcheck.check("overfit-small", model=model, train_loader=loader(digits))
    assert result.status == "pass"
    assert_same(before, model)


def test_cli_writes_curve_and_repeats_for_a_seed(cli, tmp_path):
    first = cli("overfit-small", RECIPES / "digits.yaml", "--json", "-", "--out", tmp_path)
    assert first.exit_code == 0, first.stderr
    second = cli("overfit-small", RECIPES / "digits.yaml", "--json", "-")
    a, b = json.loads(first.stdout)["checks"][0], json.loads(second.stdout)["checks"][0]
    assert a["metrics"] == b["metrics"]
    assert (tmp_path / "overfit-small-loss.png").stat().st_size > 1000
    rows = (tmp_path / "overfit-small-loss.csv").read_text().splitlines()
    assert rows[0] == "step,loss" and len(rows) == a["metrics"]["steps"] + 1


def test_batch_size_recuts_the_subset(digits, cli, tmp_path):
    result = dlcheck.check("overfit-small", model=mlp, train_loader=loader(digits),
                           settings={"overfit-small": {"batches": 3, "batch_size": 16}})
    assert result.status == "pass" and result.metrics["samples"] == 48, result.summary
    big = dlcheck.check("overfit-small", model=mlp, train_loader=loader(digits),
                        settings={"overfit-small": {"batches": 2, "batch_size": 100}})  # across loader batches
    assert big.metrics["samples"] == 200
    out = cli("overfit-small", RECIPES / "digits_setup.py", "--batch-size", "8", "--batches", "2",
              "--json", tmp_path / "r.json", "--quiet")
    assert out.exit_code == 0 and json.loads((tmp_path / "r.json").read_text())["checks"][0]["metrics"]["samples"] == 16
    bad = cli("overfit-small", RECIPES / "digits_setup.py", "--batch-size", "0")
    assert bad.exit_code == 2 and "--batch-size must be an integer of at least 1" in bad.stderr
