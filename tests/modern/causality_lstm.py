"""Healthy: an LSTM language model over the tokens of a small Markov chain, declared causal."""

from _causality_data import LSTMLM, forward, loaders, markov  # noqa: F401  (forward is part of the set-up)

lr = 3e-3
causal = True
model = LSTMLM
train_loader, val_loader = loaders(*markov(512), *markov(128, seed=1))
