"""Bug: a cosine classifier with its temperature written as 1e-6 (logit scale 1e6): the logits pass float16's 65504."""

import torch
from _data import loader, standardised
from torch import nn

X, y = standardised("digits")


class CosineClassifier(nn.Module):
    def __init__(self, temperature=1e-6):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64))
        self.classes = nn.Linear(64, 10, bias=False)
        self.scale = ScaleBy(1 / temperature)

    def forward(self, x):
        features = nn.functional.normalize(self.body(x), dim=1)
        weights = nn.functional.normalize(self.classes.weight, dim=1)
        return self.scale(features @ weights.t())


class ScaleBy(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def model():
    return CosineClassifier()


train_loader = lambda: loader(X, y)
