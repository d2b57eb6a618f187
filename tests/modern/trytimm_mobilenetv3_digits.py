"""Healthy (a new user's trial): timm's mobilenetv3_small_050 (pretrained=False) -- BatchNormAct2d,
hard-swish, squeeze-excitation -- on the digits upsampled to 3x32x32, batches of 32; Adam."""

import timm
from _trytimm_data import digits32, loader

num_classes = 10
lr = 1e-3
X, y = digits32()


def model():
    return timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=10)


def train_loader():
    return loader(X[:256], y[:256], batch_size=32)


def val_loader():
    return loader(X[256:], y[256:], batch_size=32, shuffle=False)
