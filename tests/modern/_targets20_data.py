"""Shared by the targets20_* set-ups (issue 20, items 2 and 4).

Padded sequences for a small language model: each sequence counts from a start token s with a
step d (s, s + d, s + 2d, ...; 8-16 tokens, ids 1..VOCAB-1) and is padded with PAD = 0 to a fixed
length, as a collate function pads a batch of variable-length texts. Inputs are the first T
tokens, targets the next T (the usual shift by one), so about 77 % of the target positions are
padding. Every (start, step, length) appears once: no sequence repeats, and train and validation
share none.

Multi-label digits: scikit-learn's digits with 14 labels per image, the digit itself (one-hot) and
four properties of it ("is even", "is > 4", "has a loop" (0, 6, 8, 9), "is prime"): 1-4 labels on
per row. Set-ups import this as `from _targets20_data import ...` (dlcheck puts a target's folder
on sys.path while importing it)."""

import torch
from torch import nn

PAD = 0
T = 48  # positions per row after the shift
STARTS, STEPS, LENGTHS = range(1, 41), (1, 2, 3), range(8, 17)
VOCAB = 1 + max(STARTS) + max(STEPS) * (max(LENGTHS) - 1)  # 86: pad + every id a sequence reaches


def _sequences():
    combos = [(s, d, n) for s in STARTS for d in STEPS for n in LENGTHS]  # 1080, each once
    order = torch.randperm(len(combos), generator=torch.Generator().manual_seed(0)).tolist()
    rows = torch.full((len(combos), T + 1), PAD, dtype=torch.long)
    for i, k in enumerate(order):
        s, d, n = combos[k]
        rows[i, :n] = s + d * torch.arange(n)
    return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


INPUTS, TARGETS = _sequences()
X_TRAIN, Y_TRAIN, X_VAL, Y_VAL = INPUTS[:896], TARGETS[:896], INPUTS[896:], TARGETS[896:]


class TinyLM(nn.Module):
    """Embedding + GRU + a linear head over the vocabulary: (B, T) ids -> (B, T, VOCAB)."""

    def __init__(self, vocab: int = VOCAB, embed: int = 32, hidden: int = 96):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids):
        h, _ = self.rnn(self.embed(ids))
        return self.head(h)


def lm_forward(model, batch):
    """(B*T, V) logits against (B*T,) labels, as an LM training loop flattens them."""
    ids, targets = batch
    logits = model(ids)
    return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)


def _multihot_digits():
    from sklearn.datasets import load_digits

    X, digit = load_digits(return_X_y=True)
    X, digit = torch.tensor(X, dtype=torch.float32), torch.tensor(digit)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, digit = X[order], digit[order]
    std = X[:1400].std(0)
    std[std < 1e-6] = 1.0
    X = (X - X[:1400].mean(0)) / std
    props = torch.stack([digit % 2 == 0, digit > 4, torch.isin(digit, torch.tensor([0, 6, 8, 9])),
                         torch.isin(digit, torch.tensor([2, 3, 5, 7]))], dim=1)
    Y = torch.cat([nn.functional.one_hot(digit, 10).bool(), props], dim=1).float()  # 1-4 ones per row
    return X[:1400], Y[:1400], X[1400:], Y[1400:], digit


MH_X_TRAIN, MH_Y_TRAIN, MH_X_VAL, MH_Y_VAL, DIGITS = _multihot_digits()
LABELS = 14


def mlp(out: int = LABELS):
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, out))
