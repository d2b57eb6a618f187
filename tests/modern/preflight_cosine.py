"""Healthy: the cosine classifier of the zoo's fp16 bug with a sane temperature (0.2, logit scale 5)."""

import torch
from _preflight_data import tensor_loader
from torch import nn

num_classes = 10


class CosineClassifier(nn.Module):
    def __init__(self, temperature=0.2):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64))
        self.classes = nn.Linear(64, 10, bias=False)
        self.scale = 1 / temperature

    def forward(self, x):
        features = nn.functional.normalize(self.body(x), dim=1)
        weights = nn.functional.normalize(self.classes.weight, dim=1)
        return self.scale * features @ weights.t()


model = CosineClassifier
train_loader = tensor_loader
