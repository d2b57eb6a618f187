"""Data and teacher for the trykd set-ups (knowledge distillation on scikit-learn's digits). The
teacher, an MLP 64-256-256-10, is trained here once at import (300 Adam steps on the training
split, ~1 s, fixed seed), then frozen: eval mode, requires_grad False. Named _trykd_data so that
it never collides with other set-ups' helpers."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

T = 4.0
ALPHA = 0.7


def _digits():
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = torch.tensor(X[order], dtype=torch.float32) / 16.0, torch.tensor(y[order])
    mean, std = X[:1400].mean(0), X[:1400].std(0) + 1e-3
    X = (X - mean) / std
    return X[:1400], y[:1400], X[1400:], y[1400:]


X_TRAIN, Y_TRAIN, X_VAL, Y_VAL = _digits()


def _teacher() -> nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(300):
        idx = torch.randint(0, len(X_TRAIN), (128,), generator=g)
        loss = F.cross_entropy(net(X_TRAIN[idx]), Y_TRAIN[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    net.requires_grad_(False)
    return net


TEACHER = _teacher()


@torch.no_grad()
def teacher_logits(x: torch.Tensor) -> torch.Tensor:
    """The frozen teacher's logits for a batch, on the batch's device."""
    return TEACHER.to(x.device)(x)


def student() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def kd_loss(student_logits, teacher_logits, labels, temperature_on_teacher: bool = True):
    """alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * CE(student, y), Hinton et al.;
    ``temperature_on_teacher=False``: the planted bug, the teacher's logits not divided by T."""
    t = T if temperature_on_teacher else 1.0
    soft = F.kl_div(F.log_softmax(student_logits / T, 1), F.softmax(teacher_logits / t, 1), reduction="batchmean")
    return ALPHA * soft * T * T + (1 - ALPHA) * F.cross_entropy(student_logits, labels)


def loaders(batch_size: int = 64):
    return (DataLoader(TensorDataset(X_TRAIN, Y_TRAIN), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0)),
            DataLoader(TensorDataset(X_VAL, Y_VAL), batch_size=batch_size))
