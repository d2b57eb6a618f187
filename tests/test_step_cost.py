"""The forward and loss a Trainer calls per step, resolved once (dlcheck.step.resolved): the same
outputs, losses and error messages as ctx.forward then ctx.loss, on the short path ((inputs,
targets) batches, a tensor out) and on the general one (dict batches, own losses)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.target import Target
from dlcheck.training import Trainer


def _ctx(model, batch, **parts) -> Context:
    return Context("overfit-small", Target(model=model, train_loader=[batch], origin={}, **parts),
                   torch.device("cpu"), 0, {})


def _both(ctx, model, batch, index=3):
    """(resolved's result or error message, ctx.forward + ctx.loss's)."""
    def general():
        outputs, targets = ctx.forward(model, batch, index)
        return outputs, targets, ctx.loss(outputs, targets)

    got = []
    for fn in (lambda: Trainer(ctx, model, None)._forward_loss(model, batch, index), general):
        torch.manual_seed(0)
        try:
            got.append(fn())
        except UserError as exc:
            got.append(("error", exc.message, type(exc.__cause__)))
    return got


class Raises(nn.Module):
    def forward(self, x):
        raise ValueError("bad shape")


class Dict(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, features, labels=None):
        return {"logits": self.lin(features)}


X, Y = torch.randn(8, 4), torch.randint(0, 3, (8,))


@pytest.mark.parametrize("case", ["plain", "dropout", "raises", "loss raises", "loss not a tensor",
                                  "default loss on 1-d outputs", "tuple outputs", "dict batch", "list batch"])
def test_the_resolved_step_matches_forward_then_loss(case):
    model, batch, parts = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5)), (X, Y), {}
    if case == "plain":
        model = nn.Linear(4, 3)
    elif case == "raises":
        model = Raises()
    elif case == "loss raises":
        parts = {"loss_fn": lambda out, y: out.view(7, 7).sum()}
    elif case == "loss not a tensor":
        parts = {"loss_fn": lambda out, y: 1.0}
    elif case == "default loss on 1-d outputs":
        model = nn.Sequential(nn.Linear(4, 1), nn.Flatten(0))
    elif case == "tuple outputs":
        model = lambda x: (X @ torch.ones(4, 3, requires_grad=True), x)  # noqa: E731
    elif case == "dict batch":
        model, batch = Dict(), {"features": X, "labels": Y}
    elif case == "list batch":
        batch = [X, Y, "extra"]
    ctx = _ctx(model, batch, **parts)
    short, general = _both(ctx, model, batch)
    errors = {"raises", "loss raises", "loss not a tensor", "default loss on 1-d outputs"}
    assert (general[0] == "error") == (case in errors)
    if case in errors:
        assert short == general
        return
    for a, b in zip(short, general):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b)
        elif isinstance(a, tuple):
            assert all(torch.equal(u, v) for u, v in zip(a, b))
        else:
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
