"""data-check's text set-ups: a binary classifier over word windows of scikit-learn's DESCR texts
(class 0: iris or wine, class 1: breast cancer or diabetes) with Hugging Face style dict batches
{'input_ids', 'attention_mask', 'labels'} padded per batch, at dlcheck's default lr (1e-3, where
it learns slowly: 40 steps on 4 batches memorise permuted labels about as fast as true ones); and
a character-level language model whose forward() flattens (B, T, V) outputs to (B*T, V)."""

from __future__ import annotations

import re

import torch
from sklearn import datasets
from torch import nn
from torch.utils.data import DataLoader


def _words(name: str) -> list[str]:
    return re.findall(r"[a-z]+", getattr(datasets, f"load_{name}")().DESCR.lower())


SOURCES = {0: ("iris", "wine"), 1: ("breast_cancer", "diabetes")}
TEXTS = {k: [_words(n) for n in names] for k, names in SOURCES.items()}
VOCAB = {w: i + 2 for i, w in enumerate(sorted({w for ts in TEXTS.values() for t in ts for w in t}))}


def samples(n: int = 384, seed: int = 0, apart: bool = False) -> list[tuple[torch.Tensor, int]]:
    """n (token ids, label) pairs, half of each class, in random order; ``apart``: the labels
    shuffled apart from their windows (read from a second file in another order)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        label = i % 2
        texts = TEXTS[label]
        text = texts[int(torch.randint(0, len(texts), (1,), generator=g))]
        length = int(torch.randint(4, 13, (1,), generator=g))
        start = int(torch.randint(0, len(text) - length, (1,), generator=g))
        out.append((torch.tensor([VOCAB[w] for w in text[start:start + length]]), label))
    out = [out[i] for i in torch.randperm(n, generator=g).tolist()]
    if apart:
        labels = [label for _, label in out]
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1)).tolist()
        out = [(ids, labels[j]) for (ids, _), j in zip(out, order)]
    return out


def collate(items):
    longest = max(len(ids) for ids, _ in items)
    input_ids = torch.zeros(len(items), longest, dtype=torch.long)
    attention_mask = torch.zeros(len(items), longest, dtype=torch.long)
    for i, (ids, _) in enumerate(items):
        input_ids[i, :len(ids)] = ids
        attention_mask[i, :len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask,
            "labels": torch.tensor([label for _, label in items])}


def text_loader(items):
    return DataLoader(items, batch_size=32, shuffle=True, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0))


class BagOfWords(nn.Module):
    """Mean of the word embeddings over the attention mask, then a linear classifier."""

    def __init__(self, dim: int = 64):
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB) + 2, dim, padding_idx=0)
        self.head = nn.Linear(dim, 2)

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.unsqueeze(-1).float()
        return self.head((self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp_min(1.0))


# -- the character-level language model -------------------------------------------------------
CORPUS = re.sub(r"\s+", " ", " ".join(getattr(datasets, f"load_{n}")().DESCR
                                      for n in ("iris", "wine", "breast_cancer", "diabetes")))
CHARS = sorted(set(CORPUS))
IDS = torch.tensor([CHARS.index(c) for c in CORPUS])


def windows(n: int = 320, T: int = 64, seed: int = 0):
    """n windows at random offsets: inputs ids[:-1], next-character targets ids[1:]."""
    starts = torch.randint(0, len(IDS) - T - 1, (n,), generator=torch.Generator().manual_seed(seed))
    chunks = torch.stack([IDS[s:s + T + 1] for s in starts.tolist()])
    return chunks[:, :-1].contiguous(), chunks[:, 1:].contiguous()


class CharModel(nn.Module):
    """Each character's embedding and its predecessor's, to next-character logits (B, T, V)."""

    def __init__(self, vocab: int = len(CHARS), dim: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.conv = nn.Conv1d(dim, 64, kernel_size=2)
        self.head = nn.Linear(64, vocab)

    def forward(self, ids):
        h = nn.functional.pad(self.embed(ids).transpose(1, 2), (1, 0))  # causal: t sees t-1, t
        return self.head(torch.relu(self.conv(h)).transpose(1, 2))


def lm_forward(model, batch):
    ids, targets = batch
    logits = model(ids)
    return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
