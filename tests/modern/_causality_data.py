"""Sequence data and models of the causality set-ups (tests/modern/causality_*.py): token sequences
from a small Markov chain, the characters of a text built in code, and the models a practitioner
writes for next-token prediction over them (a tiny GPT, an LSTM LM, a character GRU)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

TOKENS = 16  # Markov chain states
T = 24  # positions per window


def _chain(steps: int, seed: int) -> torch.Tensor:
    """A walk on a fixed sparse Markov chain: every state has 3 successors with fixed probabilities,
    and 3 predecessors (the successors are 3 permutations), so every state is visited."""
    g = torch.Generator().manual_seed(1234)  # the chain itself is the same for every split
    successors = torch.stack([torch.randperm(TOKENS, generator=g) for _ in range(3)], dim=1)
    probs = torch.tensor([0.6, 0.3, 0.1])
    walk = torch.Generator().manual_seed(seed)
    state, out = 0, []
    for choice in torch.multinomial(probs, steps, replacement=True, generator=walk).tolist():
        state = int(successors[state, choice])
        out.append(state)
    return torch.tensor(out)


def _windows(ids: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n consecutive windows of T + 1 ids (none overlaps another): inputs ids[:-1], targets ids[1:]."""
    chunks = ids[:n * (T + 1)].view(n, T + 1)
    return chunks[:, :-1].contiguous(), chunks[:, 1:].contiguous()


def markov(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token windows of the Markov chain (a split of its own per seed)."""
    return _windows(_chain(n * (T + 1), seed=seed), n)


def _text(sentences: int, seed: int) -> str:
    g = torch.Generator().manual_seed(seed)
    subjects = ["the cat", "a dog", "my aunt", "the old man", "a bird", "our cook", "his son"]
    verbs = ["sees", "likes", "chases", "paints", "finds", "wants", "keeps"]
    objects = ["the ball", "a red hat", "the river", "some bread", "a tree", "two boxes", "the moon"]
    ends = ["", " today", " again", " at night", " slowly", " now"]

    def pick(words):
        return words[int(torch.randint(len(words), (1,), generator=g))]

    return " ".join(f"{pick(subjects)} {pick(verbs)} {pick(objects)}{pick(ends)}." for _ in range(sentences))


CHARS = sorted(set(_text(200, 0)))


def chars(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-character windows of a text of simple sentences built in code."""
    text = _text(n * (T + 1) // 16, seed)  # sentences of 19-39 characters
    return _windows(torch.tensor([CHARS.index(c) for c in text]), n)


def loaders(inputs, targets, val_inputs, val_targets, batch_size: int = 32):
    def train_loader():
        return DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(0))

    def val_loader():
        return DataLoader(TensorDataset(val_inputs, val_targets), batch_size=batch_size)

    return train_loader, val_loader


def forward(model, batch):
    """(B, T, V) logits flattened to (B*T, V) against (B*T,) targets, for nn.CrossEntropyLoss."""
    ids, targets = batch
    logits = model(ids)
    return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)


class Block(nn.Module):
    def __init__(self, width: int, heads: int, masked: bool):
        super().__init__()
        self.masked = masked
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        n = x.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(n, device=x.device) if self.masked else None
        h = self.norm1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class TinyGPT(nn.Module):
    """Token and position embeddings, two pre-norm attention blocks, an LM head."""

    def __init__(self, vocab: int = TOKENS, width: int = 32, heads: int = 2, layers: int = 2, masked: bool = True):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(T, width)
        self.blocks = nn.ModuleList([Block(width, heads, masked) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, ids):  # (B, T) -> (B, T, V)
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class LSTMLM(nn.Module):
    def __init__(self, vocab: int = TOKENS, embed: int = 32, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids):
        h, _ = self.lstm(self.embed(ids))
        return self.head(h)


class CharGRU(nn.Module):
    def __init__(self, vocab: int = len(CHARS), embed: int = 24, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids):
        h, _ = self.gru(self.embed(ids))
        return self.head(h)
