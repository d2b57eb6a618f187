"""Bug: the same MLP on digits with every weight frozen (a fine-tuning script that forgot to
unfreeze; only the output bias learns), the planted twin of pytest_digits_ok.py."""

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = load_digits(return_X_y=True)
X = torch.tensor(X, dtype=torch.float32)
y = torch.tensor(y, dtype=torch.long)
X = (X - X.mean(0)) / X.std(0).clamp_min(1e-6)
num_classes = 10
lr = 1e-3


def model():
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    for p in net.parameters():
        p.requires_grad = False
    net[2].bias.requires_grad = True
    return net


def train_loader():
    return DataLoader(TensorDataset(X[:1200], y[:1200]), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(X[1200:], y[1200:]), batch_size=64)
