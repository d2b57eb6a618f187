"""Healthy: a tiny GPT (token + position embeddings, two nn.MultiheadAttention blocks with their
causal mask, an LM head) predicting the next token of a small Markov chain; (B, T, V) logits
flattened by forward() against the inputs shifted by one, CrossEntropyLoss."""

from functools import partial

from _causality_data import TinyGPT, forward, loaders, markov  # noqa: F401  (forward is part of the set-up)

lr = 3e-3
model = partial(TinyGPT, masked=True)
train_loader, val_loader = loaders(*markov(512), *markov(128, seed=1))
