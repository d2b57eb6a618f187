"""Healthy: a small transformer encoder reading each digit as a sequence of 8 rows (tokens), mean-pooled."""

import torch
from _preflight_data import tensor_loader
from torch import nn

num_classes = 10


class RowTransformer(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.embed = nn.Linear(8, d)
        self.position = nn.Parameter(torch.randn(8, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        tokens = self.embed(x.reshape(-1, 8, 8)) + self.position
        return self.head(self.norm(self.encoder(tokens)).mean(1))


model = RowTransformer
train_loader = tensor_loader
