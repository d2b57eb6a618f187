"""curves: a healthy digits MLP trained with SGD with momentum, stopped after a few
epochs: train and val loss are both still falling (train longer)."""

import torch

from _digits import X_TRAIN, Y_TRAIN, X_VAL, Y_VAL, loader, mlp

lr = 0.02


def optimizer(params, lr):
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def model():
    return mlp(64)


def train_loader():
    return loader(X_TRAIN[:512], Y_TRAIN[:512], batch_size=32)


def val_loader():
    return loader(X_VAL, Y_VAL, batch_size=200, shuffle=False)
