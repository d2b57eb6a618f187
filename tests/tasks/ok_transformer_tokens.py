"""Healthy: an nn.TransformerEncoder classifier over token ids: fixed-length windows of 16 words
from the DESCR texts of iris, wine and breast cancer, the class being which text (3 classes)."""

import torch
from _taskdata import descr, words
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

NAMES = ("iris", "wine", "breast_cancer")
L = 16
lr = 1e-3
TEXTS = [words(descr(n)) for n in NAMES]
VOCAB = {w: i + 1 for i, w in enumerate(sorted({w for t in TEXTS for w in t}))}  # 0: unused


def all_windows():
    """Every L-word window of each text, in random order; a window found in more than one text
    (the datasets' shared boilerplate) is left out, and so is a repeat within a text."""
    seen = {}
    for k, text in enumerate(TEXTS):
        for start in range(len(text) - L + 1):
            seen.setdefault(tuple(text[start:start + L]), set()).add(k)
    g = torch.Generator().manual_seed(0)
    per_class = []
    for k, text in enumerate(TEXTS):
        keep, taken = [], set()
        for start in torch.randperm(len(text) - L + 1, generator=g).tolist():
            w = tuple(text[start:start + L])
            if seen[w] == {k} and w not in taken:
                taken.add(w)
                keep.append([VOCAB[x] for x in w])
        per_class.append(keep)
    return per_class


def windows(per_class: int, part: str):
    """per_class windows of each text, training windows first and validation windows after them
    (the two never share a window; neighbouring windows overlap, as in any sliding-window set)."""
    pools = all_windows()
    offset = 0 if part == "train" else 128
    ids = torch.tensor([w for pool in pools for w in pool[offset:offset + per_class]])
    labels = torch.arange(len(pools)).repeat_interleave(per_class)
    order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(1))
    return ids[order], labels[order]


IDS, LABELS = windows(128, "train")
VAL_IDS, VAL_LABELS = windows(32, "val")


class TokenTransformer(nn.Module):
    def __init__(self, vocab: int = len(VOCAB) + 1, dim: int = 64, classes: int = len(NAMES)):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, L, dim))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=128, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids):
        h = self.encoder(self.embed(ids) + self.pos[:, :ids.shape[1]])
        return self.head(h.mean(1))


model = TokenTransformer


def train_loader():
    return DataLoader(TensorDataset(IDS, LABELS), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(VAL_IDS, VAL_LABELS), batch_size=32)
