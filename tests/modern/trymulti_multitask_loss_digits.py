"""Healthy multi-task, the same two-head model as trymulti_multitask_digits but handed over as
forward + loss_fn instead of training_step: forward returns both heads' outputs and both targets
(tuples), loss_fn sums CE + 0.5 * MSE. dlcheck then sees the inputs and a 2-part target, so
data-check and batch-independence measure what a training_step alone hides from them."""

from torch import nn
from trymulti_multitask_digits import REG_WEIGHT, TwoHeads, lr, train_loader, val_loader  # noqa: F401

model = TwoHeads


def forward(model, batch):
    x, y, intensity = batch
    return model(x), (y, intensity)


def loss_fn(outputs, targets):
    (logits, value), (y, intensity) = outputs, targets
    return nn.functional.cross_entropy(logits, y) + REG_WEIGHT * nn.functional.mse_loss(value, intensity)
