"""Healthy (a new user's trial): torchvision's VisionTransformer built small -- image_size 32, 8x8
patches, 2 layers, 2 heads, hidden 32 -- (class token, learned position embedding, pre-LayerNorm
blocks, a zero-initialised head) on scikit-learn's digits upsampled to 3x32x32; AdamW."""

import torch
from torchvision.models import VisionTransformer
from _trytv_data import digits, loader

num_classes = 10
X, y = digits()


def model():
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                             mlp_dim=64, num_classes=10)


def train_loader():
    return loader(X[:256], y[:256])


def val_loader():
    return loader(X[256:], y[256:], shuffle=False)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
