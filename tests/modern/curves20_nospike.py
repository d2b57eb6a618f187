"""curves, healthy twin of curves20_spike: the same warm restart with its peak as meant (2x the
base LR for 5 steps): no spike."""

from curves20_spike import PEAK, RestartedAdam, model, train_loader, val_loader  # noqa: F401

lr = 1e-3
assert PEAK == 50.0


def optimizer(params, lr):
    return RestartedAdam(params, lr, peak=2.0)
