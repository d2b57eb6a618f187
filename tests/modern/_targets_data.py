"""Shared by the targets_* set-ups: scikit-learn's digits (standardised, split once) and a small
synthetic sequence task for CTC. Set-ups import this as `from _targets_data import ...` (dlcheck
puts a target's folder on sys.path while importing it)."""

import torch
from sklearn.datasets import load_digits


def _digits():
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    std = X[:1400].std(0)
    std[std < 1e-6] = 1.0
    X = (X - X[:1400].mean(0)) / std
    return X[:1400], y[:1400], X[1400:], y[1400:]


X_TRAIN, Y_TRAIN, X_VAL, Y_VAL = _digits()

# CTC: each sequence spells 2-5 symbols (1..SYMBOLS; 0 is the blank); each symbol is shown as a
# noisy one-hot frame held for 2-3 time steps, padded with noise frames to a fixed length
SYMBOLS = 6
FRAMES = 20
MAX_LABELS = 5


def sequences(n: int, seed: int):
    """(frames (n, FRAMES, SYMBOLS+1), padded labels (n, MAX_LABELS), input lengths, label lengths)."""
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.randn(n, FRAMES, SYMBOLS + 1, generator=g)
    labels = torch.zeros(n, MAX_LABELS, dtype=torch.long)
    in_len = torch.zeros(n, dtype=torch.long)
    lab_len = torch.zeros(n, dtype=torch.long)
    for i in range(n):
        k = int(torch.randint(2, MAX_LABELS + 1, (1,), generator=g))
        symbols = torch.randint(1, SYMBOLS + 1, (k,), generator=g)
        t = 0
        for s in symbols.tolist():
            hold = int(torch.randint(2, 4, (1,), generator=g))
            x[i, t:t + hold, s] += 2.0
            t += hold
            x[i, t, 0] += 2.0  # a blank frame between symbols (repeats stay apart)
            t += 1
        labels[i, :k] = symbols
        in_len[i], lab_len[i] = t, k
    return x, labels, in_len, lab_len
