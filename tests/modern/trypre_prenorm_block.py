"""Healthy (a new user's trial): a hand-written pre-LayerNorm transformer block (attention and MLP
with residuals, GELU, dropout) over the digits' 4x4 patches, a CLS token classified; AdamW.
Given as an object (an instance), not a factory."""

import torch
from torch import nn
from trypre_data import digit_loader

num_classes = 10


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=0.1, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Dropout(0.1), nn.Linear(4 * d, d))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class PatchViT(nn.Module):
    def __init__(self, d=48, depth=2):
        super().__init__()
        self.patch = nn.Conv2d(1, d, 4, stride=4)  # 8x8 -> 2x2 patches of 4x4
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, 5, d) * 0.02)
        self.blocks = nn.Sequential(*[Block(d, 4) for _ in range(depth)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], 1) + self.pos
        return self.head(self.norm(self.blocks(tokens))[:, 0])


torch.manual_seed(0)
model = PatchViT()  # an object, as a notebook user hands it over
train_loader = digit_loader(batch_size=64)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
