"""Healthy (a new user's trial): timm's resnet18 (pretrained=False; BatchNorm2d, ReLU, 7x7 stem with
max-pool, so 32x32 inputs reach layer4 as 1x1 maps) on the digits upsampled to 3x32x32; Adam.

(timm.create_model("resnet18", norm_layer=BatchNormAct2d) is not a working set-up: each block's
BatchNormAct2d applies an in-place ReLU and the block's own act1 applies another in place on its
output, so backward raises in plain PyTorch; dlcheck reports it as DLC002, the user's own error.)"""

import timm
from _trytimm_data import digits32, loader

num_classes = 10
lr = 1e-3
X, y = digits32()


def model():
    return timm.create_model("resnet18", pretrained=False, num_classes=10)


def train_loader():
    return loader(X[:256], y[:256])


def val_loader():
    return loader(X[256:], y[256:], shuffle=False)
