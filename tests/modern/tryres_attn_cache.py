"""Trial: a small transformer encoder written by hand on digits rows (8 tokens of 8 pixels): its
sinusoidal positional encoding is a plain tensor attribute (a constant rebuilt the same in every
model), and its attention block keeps the last attention map in a plain attribute for plotting
(initialised in __init__, overwritten by every forward); Adam; dlcheck's default checkpointing."""

import math

import torch
from _tryres_data import digit_images
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 1e-3


class Attention(nn.Module):
    def __init__(self, d, heads=2):
        super().__init__()
        self.heads = heads
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.last_attn = torch.zeros(1)  # kept for plotting

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) / math.sqrt(D // self.heads)).softmax(-1)
        self.last_attn = attn.detach()
        return self.out((attn @ v).transpose(1, 2).reshape(B, T, D))


class RowTransformer(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.embed = nn.Linear(8, d)
        pos = torch.arange(8).unsqueeze(1) * torch.exp(torch.arange(0, d, 2) * (-math.log(1e4) / d))
        self.pe = torch.cat([pos.sin(), pos.cos()], 1)  # a constant, as a plain attribute
        self.attn, self.norm1, self.norm2 = Attention(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 64), nn.GELU(), nn.Dropout(0.1), nn.Linear(64, d))
        self.head = nn.Linear(d, num_classes)

    def forward(self, x):
        h = self.embed(x.view(-1, 8, 8)) + self.pe.to(x.device)
        h = h + self.attn(self.norm1(h))
        h = h + self.mlp(self.norm2(h))
        return self.head(h.mean(1))


model = RowTransformer


def train_loader():
    X, y = digit_images()
    return DataLoader(TensorDataset(X[:384], y[:384]), batch_size=32, shuffle=True)


def val_loader():
    X, y = digit_images()
    return DataLoader(TensorDataset(X[384:], y[384:]), batch_size=64)
