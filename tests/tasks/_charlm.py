"""A character-level language model over the DESCR texts of scikit-learn's datasets."""

from __future__ import annotations

import torch
from _taskdata import corpus
from torch import nn

TEXT = corpus()
CHARS = sorted(set(TEXT))
VOCAB = len(CHARS)
IDS = torch.tensor([CHARS.index(c) for c in TEXT])
T = 32


def windows(n: int = 320, seed: int = 0):
    """n windows of T+1 characters at random offsets: inputs ids[:-1], targets ids[1:]."""
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(IDS) - T - 1, (n,), generator=g)
    chunks = torch.stack([IDS[s:s + T + 1] for s in starts.tolist()])
    return chunks[:, :-1].contiguous(), chunks[:, 1:].contiguous()


class CharGRU(nn.Module):
    def __init__(self, vocab: int = VOCAB, embed: int = 32, hidden: int = 96):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids):  # (B, T) -> (B, T, V)
        h, _ = self.rnn(self.embed(ids))
        return self.head(h)


def forward(model, batch):
    ids, targets = batch
    logits = model(ids)
    return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
