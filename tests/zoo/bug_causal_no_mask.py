"""Bug: a next-token model whose hand-written self-attention forgot its causal mask: it reads the token it predicts."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

V, T = 12, 16
g = torch.Generator().manual_seed(0)
NEXT = torch.randperm(V, generator=g)  # a noisy cycle: token i is mostly followed by NEXT[i]
walk = [0]
for noise in torch.rand(4000, generator=g).tolist():
    walk.append(int(NEXT[walk[-1]]) if noise < 0.7 else int(torch.randint(V, (1,), generator=g)))
IDS = torch.tensor(walk)
starts = torch.randint(0, len(IDS) - T - 1, (256,), generator=g)
CHUNKS = torch.stack([IDS[s:s + T + 1] for s in starts.tolist()])


class SelfAttentionLM(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, width), nn.Embedding(T, width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.head = nn.Linear(width, V)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(1, 2) / q.shape[-1] ** 0.5  # the causal mask (masked_fill of the
        x = x + self.proj(F.softmax(scores, dim=-1) @ v)      # upper triangle with -inf) is missing
        return self.head(x)


def forward(model, batch):
    ids, targets = batch
    return model(ids).reshape(-1, V), targets.reshape(-1)


model = SelfAttentionLM
train_loader = lambda: DataLoader(TensorDataset(CHUNKS[:, :-1], CHUNKS[:, 1:]), batch_size=32, shuffle=True)
