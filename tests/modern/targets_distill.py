"""Healthy: knowledge distillation on scikit-learn's digits. Each batch carries the images, their
labels and a teacher's logits (the teacher: a fixed random MLP, run once over the data); the
forward hands the loss a dict target {"labels", "teacher"}, the loss is CE on the labels plus the
KL divergence to the teacher's softened outputs (Hinton et al.)."""

import torch
from _targets_data import X_TRAIN, Y_TRAIN
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

lr = 1e-3
T = 2.0
task = "classification"
num_classes = 10

with torch.no_grad():
    _teacher = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    torch.manual_seed(1234)
    for p in _teacher.parameters():
        nn.init.normal_(p, std=0.1)
    TEACHER = _teacher(X_TRAIN)


def model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def forward(model, batch):
    x, y, teacher = batch
    return model(x), {"labels": y, "teacher": teacher}


def loss_fn(logits, targets):
    soft = F.kl_div(F.log_softmax(logits / T, 1), F.softmax(targets["teacher"] / T, 1), reduction="batchmean")
    return 0.5 * F.cross_entropy(logits, targets["labels"]) + 0.5 * T * T * soft


def train_loader():
    return DataLoader(TensorDataset(X_TRAIN, Y_TRAIN, TEACHER), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
