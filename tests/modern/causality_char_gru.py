"""Healthy: a character GRU over a text of simple sentences built in code (next-character targets)."""

from _causality_data import CharGRU, chars, forward, loaders  # noqa: F401  (forward is part of the set-up)

lr = 3e-3
model = CharGRU
train_loader, val_loader = loaders(*chars(512), *chars(128, seed=1))
