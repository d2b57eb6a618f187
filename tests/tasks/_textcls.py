"""A binary text classifier on a synthetic but honest vocabulary task, in the shape of sentiment
analysis: 60 word ids (after PAD=0), a third of them positive, a third negative, a third
neutral; a sentence is 5-16 words, its label 1 when it holds more positive than negative words
(ties are drawn again). Variable-length sentences padded per batch, Hugging Face style dict
batches {'input_ids', 'attention_mask', 'labels'}."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

PAD = 0
WORDS = 60
POSITIVE = range(1, 21)
NEGATIVE = range(21, 41)  # 41..60 neutral


def samples(n: int, seed: int = 0):
    """n (token ids, label) pairs, about half of each class."""
    g = torch.Generator().manual_seed(seed)
    out = []
    while len(out) < n:
        length = int(torch.randint(5, 17, (1,), generator=g))
        ids = torch.randint(1, WORDS + 1, (length,), generator=g)
        pos = int(((ids >= POSITIVE.start) & (ids < POSITIVE.stop)).sum())
        neg = int(((ids >= NEGATIVE.start) & (ids < NEGATIVE.stop)).sum())
        if pos != neg:
            out.append((ids, int(pos > neg)))
    return out


def collate(items):
    longest = max(len(ids) for ids, _ in items)
    input_ids = torch.full((len(items), longest), PAD, dtype=torch.long)
    attention_mask = torch.zeros(len(items), longest, dtype=torch.long)
    for i, (ids, _) in enumerate(items):
        input_ids[i, :len(ids)] = ids
        attention_mask[i, :len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask,
            "labels": torch.tensor([label for _, label in items])}


def loader(items, batch_size=32, shuffle=True):
    return DataLoader(items, batch_size=batch_size, shuffle=shuffle, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)


class BagOfEmbeddings(nn.Module):
    """Embeds the tokens, averages them over the attention mask, classifies the average."""

    def __init__(self, vocab: int = WORDS + 1, dim: int = 32, classes: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=PAD)
        self.head = nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Linear(64, classes))

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return self.head(pooled)
