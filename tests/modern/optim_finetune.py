"""Healthy twin of optim_bug_head_replaced: the head is replaced first, and the optimizer is
built from the parameters dlcheck hands it (those of the final model)."""

import torch
from _modules_data import loaders
from optim_bug_head_replaced import Classifier
from torch import nn

lr = 3e-3
train_loader, val_loader = loaders()

torch.manual_seed(0)
model = Classifier(5)  # as pretrained
model.head = nn.Linear(64, 10)  # the head for the ten digits, before the optimizer is built


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr)
