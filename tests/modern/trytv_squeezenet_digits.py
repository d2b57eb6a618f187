"""Healthy (a new user's trial): torchvision's squeezenet1_1 (weights=None) -- no final linear
layer: dropout, a 1x1 conv to the classes, ReLU, global average pooling -- on scikit-learn's
digits upsampled to 3x64x64; Adam at lr 1e-4. At the default lr 1e-3 the set-up is broken, and
dlcheck says so: within 30 steps every pre-ReLU logit goes negative on every sample (the head's
ReLU dies), the outputs are all 0 and the loss sits at ln(10) for good: overfit-small fails DLC201
(loss 2.3 -> 2.3), lr-find's probe shows 1e-4 falling where 1e-3 and above do not (DLC306)."""

import torchvision
from _trytv_data import digits, loader

num_classes = 10
lr = 1e-4
X, y = digits(size=64)


def model():
    return torchvision.models.squeezenet1_1(weights=None, num_classes=10)


def train_loader():
    return loader(X[:256], y[:256])


def val_loader():
    return loader(X[256:], y[256:], shuffle=False)
