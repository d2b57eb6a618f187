"""Healthy (a new user's trial): timm's resnet10t (pretrained=False) -- tiered 3-conv stem, average
pool downsampling -- on 32x32 crops of the two sample photos; SGD with Nesterov momentum, as timm's
ResNet recipes train it."""

import timm
import torch
from _trytimm_data import loader, photo_patches

num_classes = 2
lr = 0.05
X, y = photo_patches()


def model():
    return timm.create_model("resnet10t", pretrained=False, num_classes=2)


def train_loader():
    return loader(X[:192], y[:192])


def val_loader():
    return loader(X[192:], y[192:], shuffle=False)


def optimizer(params, lr):
    return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=1e-4)
