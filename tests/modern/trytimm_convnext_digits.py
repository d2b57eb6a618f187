"""Healthy (a new user's trial): timm's convnext_atto (pretrained=False) shrunk to depths
(1, 1, 2, 1) -- LayerNorm2d, depthwise 7x7 convs, layer scale, GELU -- on the digits upsampled to
3x32x32; AdamW with weight decay, as timm trains it."""

import timm
import torch
from _trytimm_data import digits32, loader

num_classes = 10
lr = 1e-3
X, y = digits32()


def model():
    return timm.create_model("convnext_atto", pretrained=False, num_classes=10, depths=(1, 1, 2, 1))


def train_loader():
    return loader(X[:256], y[:256])


def val_loader():
    return loader(X[256:], y[256:], shuffle=False)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
