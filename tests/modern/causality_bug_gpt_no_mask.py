"""Bug: a tiny GPT whose attention has no causal mask: position t reads the token it must predict."""

from functools import partial

from _causality_data import TinyGPT, forward, loaders, markov  # noqa: F401  (forward is part of the set-up)

lr = 3e-3
model = partial(TinyGPT, masked=False)  # attn_mask forgotten: every position attends to the future
train_loader, val_loader = loaders(*markov(512), *markov(128, seed=1))
