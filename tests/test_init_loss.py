"""init-loss on real PyTorch and real data: healthy set-ups pass, broken inits are caught."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from conftest import RECIPES, SETUPS
from helpers import assert_same, snapshot


def codes(result) -> set[str]:
    return {f.code for f in result.findings}


def test_digits_recipe_passes(cli):
    res = cli("init-loss", RECIPES / "digits.yaml", "--json", "-")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    check = report["checks"][0]
    assert check["status"] == "pass"
    assert check["metrics"]["expected"] == pytest.approx(math.log(10), rel=1e-5)
    assert 0.8 < check["metrics"]["ratio"] < 1.25


@pytest.mark.slow
def test_resnet18_recipe_passes(cli):
    res = cli("init-loss", RECIPES / "resnet18.yaml", "--json", "-")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["checks"][0]["status"] == "pass"


def test_final_layer_scaled_1000x_fails_with_advice(cli):
    res = cli("init-loss", SETUPS / "digits_scaled.py", "--json", "-")
    assert res.exit_code == 1
    check = json.loads(res.stdout)["checks"][0]
    assert check["status"] == "fail"
    assert check["metrics"]["ratio"] > 2.0
    finding = next(f for f in check["findings"] if f["code"] == "DLC101")
    assert "'4'" in finding["advice"] and "scale" in finding["advice"]  # names the final layer


def test_label_leak_gives_a_loss_below_chance(digits):
    X, y = digits
    leaked = torch.cat([X[:512], nn.functional.one_hot(y[:512], 10).float() * 8], dim=1)

    def model():
        net = nn.Linear(74, 10)
        with torch.no_grad():  # an "init" that reads the leaked labels straight through
            net.weight.zero_()
            net.weight[:, 64:] = torch.eye(10)
            net.bias.zero_()
        return net

    result = dlcheck.check("init-loss", model=model, train_loader=DataLoader(TensorDataset(leaked, y[:512]), batch_size=64))
    assert "DLC103" in codes(result)
    assert result.status == "warn"


def test_nan_inputs_make_a_non_finite_loss(digits):
    X, y = digits
    X = X[:256].clone()
    X[3, 5] = float("nan")
    result = dlcheck.check("init-loss", model=lambda: nn.Linear(64, 10),
                           train_loader=DataLoader(TensorDataset(X, y[:256]), batch_size=64))
    assert result.status == "fail"
    assert "DLC104" in codes(result)


def test_large_output_bias_collapses_predictions(digits):
    X, y = digits

    def model():
        net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        with torch.no_grad():
            net[-1].bias[7] = 6.0
        return net

    result = dlcheck.check("init-loss", model=model, train_loader=DataLoader(TensorDataset(X, y), batch_size=64))
    assert "DLC105" in codes(result)
    assert result.metrics["top_class_share"] > 0.95


@pytest.mark.parametrize("seed", [0, 1])
def test_a_bias_at_the_label_prior_on_imbalanced_labels_is_no_collapse(digits, seed):
    """Good practice on imbalanced data (a bias at the log label prior) predicts the majority
    class for nearly every sample at its frequency: no DLC105; a bias far past it still is one."""
    X, y = digits
    keep = torch.cat([torch.nonzero(y == 0).flatten(), torch.nonzero(y == 1).flatten()[:32]])
    X, y = X[keep], y[keep]  # 178 zeros, 32 ones: 85 % class 0
    prior = torch.bincount(y, minlength=2).double() / len(y)

    def model(push: float = 0.0):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))
        with torch.no_grad():
            net[-1].weight.mul_(0.01)
            net[-1].bias.copy_(prior.log().float() + torch.tensor([push, 0.0]))
        return net

    loader = DataLoader(TensorDataset(X, y), batch_size=64)
    healthy = dlcheck.check("init-loss", model=model, train_loader=loader, seed=seed)
    assert healthy.status == "pass" and "DLC105" not in codes(healthy), healthy.findings
    assert healthy.metrics["top_class_share"] > 0.95
    pushed = dlcheck.check("init-loss", model=lambda: model(push=4.0), train_loader=loader, seed=seed)
    assert "DLC105" in codes(pushed)


def test_output_width_unequal_to_num_classes(digits):
    X, y = digits
    y = y % 5
    result = dlcheck.check("init-loss", model=lambda: nn.Linear(64, 10), num_classes=5,
                           train_loader=DataLoader(TensorDataset(X, y), batch_size=64))
    assert "DLC106" in codes(result)
    assert result.status == "fail"


def test_a_regression_loss_is_judged_against_its_own_references():
    """MSE on raw diabetes targets (mean ~152): outputs near 0 give E[y^2]; Var(y) is what an output
    bias at the mean would start from, so the offset is noted, and the verdict is against E[y^2]."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    y = torch.tensor(y, dtype=torch.float32)[:, None]
    data = TensorDataset(torch.tensor(X, dtype=torch.float32), y)
    result = dlcheck.check("init-loss", model=lambda: nn.Linear(10, 1), loss_fn=nn.MSELoss(),
                           train_loader=DataLoader(data, batch_size=64))
    assert result.status == "pass"
    assert codes(result) == {"DLC111"}
    first = y[:256]
    assert result.metrics["expected"] == pytest.approx(float((first ** 2).mean()), rel=1e-4)
    assert result.metrics["constant"] == pytest.approx(float(first.var(unbiased=False)), rel=0.05)
    assert result.metrics["ratio"] == pytest.approx(1.0, abs=0.02)  # outputs near 0: the know-nothing loss


def test_regression_outputs_far_too_large_at_init_fail():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = torch.tensor((X - X.mean(0)) / X.std(0), dtype=torch.float32)
    y = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32)[:, None]

    def model(scale=1.0):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
        with torch.no_grad():
            net[2].weight *= scale
        return net

    loader = DataLoader(TensorDataset(X, y), batch_size=64)
    healthy = dlcheck.check("init-loss", model=model, loss_fn=nn.MSELoss(), train_loader=loader)
    assert healthy.status == "pass", healthy.summary
    bug = dlcheck.check("init-loss", model=lambda: model(100.0), loss_fn=nn.MSELoss(), train_loader=loader)
    assert "DLC101" in codes(bug) and bug.status == "fail"
    assert "targets' mean" in next(f.advice for f in bug.findings if f.code == "DLC101")


def test_a_forgotten_loss_on_a_one_wide_output_fails():
    """The default CrossEntropyLoss over one output column is identically 0: a fail, not a pass."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    data = TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)[:, None])
    result = dlcheck.check("init-loss", model=lambda: nn.Linear(10, 1), train_loader=DataLoader(data, batch_size=64))
    assert result.status == "fail"
    assert "DLC110" in codes(result)
    assert result.metrics["loss"] == 0


def test_a_custom_loss_is_reported_without_verdict(digits):
    X, y = digits

    def my_loss(outputs, targets):
        return nn.functional.cross_entropy(outputs, targets) + 0.0

    result = dlcheck.check("init-loss", model=lambda: nn.Linear(64, 10), loss_fn=my_loss,
                           train_loader=DataLoader(TensorDataset(X, y), batch_size=64))
    assert result.status == "pass"
    assert codes(result) == {"DLC108"}
    assert "expected" not in result.metrics
    told = dlcheck.check("init-loss", model=lambda: nn.Linear(64, 10), loss_fn=my_loss, task="classification",
                         train_loader=DataLoader(TensorDataset(X, y), batch_size=64))
    assert told.metrics["expected"] == pytest.approx(math.log(10), rel=1e-4)


def test_imbalanced_labels_are_judged_against_the_label_entropy():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = torch.tensor((X - X.mean(0)) / X.std(0), dtype=torch.float32)
    y = torch.tensor(y)
    keep = torch.cat([torch.nonzero(y == 1).flatten(), torch.nonzero(y == 0).flatten()[:20]])
    data = TensorDataset(X[keep], y[keep])  # 357 benign vs 20 malignant

    def model():
        torch.manual_seed(1)
        return nn.Linear(30, 2)

    result = dlcheck.check("init-loss", model=model, train_loader=DataLoader(data, batch_size=64, shuffle=True))
    assert "DLC109" in codes(result)
    assert result.metrics["label_entropy"] < 0.9 * math.log(2)


def test_dict_batches_and_output_objects_work(cli):
    res = cli("init-loss", SETUPS / "dict_batches.py", "--json", "-")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["checks"][0]["metrics"]["samples"] == 256


def test_a_model_object_is_handed_back_unchanged(digits):
    X, y = digits
    model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    model.eval()
    model[0].weight.requires_grad_(False)
    calls = []
    model[4].register_forward_hook(lambda *a: calls.append(1))
    before = snapshot(model)
    result = dlcheck.check("init-loss", model=model, train_loader=DataLoader(TensorDataset(X, y), batch_size=64))
    assert result.status in ("pass", "warn"), result.summary
    assert_same(before, model)  # BN running stats too: init-loss runs in train mode
    assert calls, "the user's own hook must still be there and have run"
