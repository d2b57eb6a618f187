"""DESIGN §5 under stress: the user's model comes back as found also on error and on Ctrl-C."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from dlcheck.state import preserve_model
from helpers import assert_same, snapshot


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))


class InterruptingLoss(nn.Module):
    """Raises after ``after`` calls: what a Ctrl-C in the middle of a check looks like."""

    def __init__(self, exc, after: int = 1):
        super().__init__()
        self.exc, self.after, self.calls = exc, after, 0

    def forward(self, outputs, targets):
        self.calls += 1
        if self.calls > self.after:
            raise self.exc
        return nn.functional.cross_entropy(outputs, targets)


@pytest.mark.parametrize("name", ["init-loss", "overfit-small", "lr-find", "init-stats", "bn-gap", "data-check"])
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("boom in the user's loss")])
def test_model_restored_when_a_check_is_interrupted(digits, exc, name):
    X, y = digits
    model = _model()
    before = snapshot(model)
    loader = DataLoader(TensorDataset(X, y), batch_size=64)
    # mid-way: after weights and BN buffers have moved (init-stats computes one loss, after its passes)
    loss_fn = InterruptingLoss(exc, after=0 if name == "init-stats" else 3)
    if isinstance(exc, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            dlcheck.check(name, model=model, train_loader=loader, loss_fn=loss_fn)
    else:
        result = dlcheck.check(name, model=model, train_loader=loader, loss_fn=loss_fn)
        assert result.status == "error" and "boom in the user's loss" in result.summary
    assert_same(before, model)  # BN running stats moved during the train-mode passes, and came back


def test_preserve_model_restores_parameters_moved_and_trained(digits):
    model = _model()
    before = snapshot(model)
    weight = model[0].weight
    with preserve_model(model):
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        model.train()
        model[0].weight.requires_grad_(False)
        model.register_forward_hook(lambda *a: None)
        loss = model(digits[0][:32]).sum()
        loss.backward()
        opt.step()
        model.eval()
    assert_same(before, model)
    assert model[0].weight is weight  # the very tensor objects stay, so user optimizers still work
    assert model[0].weight.grad is None


def test_a_model_object_with_uninitialised_lazy_modules_is_refused_clearly():
    """dlcheck could not hand such a model back as found (its first forward initialises it)."""
    model = nn.Sequential(nn.LazyLinear(4))
    X, y = torch.randn(32, 3), torch.randint(0, 4, (32,))
    result = dlcheck.check("init-loss", model=model, train_loader=[(X, y)])
    assert result.status == "error" and "lazy modules" in result.summary
    assert isinstance(model[0].weight, nn.parameter.UninitializedParameter)  # untouched
