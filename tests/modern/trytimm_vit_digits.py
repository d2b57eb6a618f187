"""Healthy (a new user's trial): timm's vit_tiny_patch16_224 (pretrained=False) at img_size=32 with
4x4 patches and depth 2 -- class token, learned position embedding, pre-LayerNorm blocks -- on
the digits upsampled to 3x32x32; AdamW."""

import timm
import torch
from _trytimm_data import digits32, loader

num_classes = 10
lr = 5e-4
X, y = digits32()


def model():
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10, img_size=32,
                             patch_size=4, depth=2)


def train_loader():
    return loader(X[:256], y[:256])


def val_loader():
    return loader(X[256:], y[256:], shuffle=False)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
