"""curves: built to overfit. A wide MLP (two hidden layers of 512) on 100 digits samples, no
dropout, no weight decay, Adam at 3e-3: the train loss goes to ~0, the val loss turns up."""

from torch import nn

from _digits import X_TRAIN, Y_TRAIN, X_VAL, Y_VAL, loader

lr = 3e-3


def model():
    return nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def train_loader():
    return loader(X_TRAIN[:100], Y_TRAIN[:100], batch_size=20)


def val_loader():
    return loader(X_VAL, Y_VAL, batch_size=200, shuffle=False)
