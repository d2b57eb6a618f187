"""Bug: every Linear's weights drawn from N(0, 1) ("nn.init.normal_" without a std) on imbalanced
digits: logits of std ~50, the initial loss far above ln(3) (DLC101). The fix sets
the bias to the log label prior (the labels are imbalanced, DLC109) and scales the weights down."""

from _fixes_data import X, loader, y
from torch import nn

num_classes = 3


def model():
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 3))
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight)  # the bug: std 1, not ~1/sqrt(fan_in)
    return net


train_loader = lambda: loader(X[:240], y[:240], batch_size=32)
