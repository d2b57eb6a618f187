"""Bug: trytimm_convnext_digits with its classifier head (timm's ``head.fc``) multiplied by 50 after
create_model, "to make the logits confident": the loss at init is far above ln(10) (DLC101)."""

import timm
import torch
from _trytimm_data import digits32, loader

num_classes = 10
lr = 1e-3
X, y = digits32()


def model():
    net = timm.create_model("convnext_atto", pretrained=False, num_classes=10, depths=(1, 1, 2, 1))
    with torch.no_grad():
        net.get_classifier().weight.mul_(50)  # the bug
    return net


def train_loader():
    return loader(X[:256], y[:256])


def val_loader():
    return loader(X[256:], y[256:], shuffle=False)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
