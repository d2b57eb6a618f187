"""Bug: fine-tuning a pretrained-style classifier (a conv backbone with BatchNorm pretrained on
digits 0-4, with its 5-class head) on all ten digits, as a training script ported to a set-up
does it: the optimizer's parameters are taken from the pretrained model, and only then is the head
replaced by a 10-class one. The new head is in no param group: it keeps its random weights."""

import torch
from _modules_data import loaders, pretrained_backbone
from torch import nn

lr = 3e-3
train_loader, val_loader = loaders()


class Classifier(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.backbone = pretrained_backbone()
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        return self.head(self.backbone(x))


torch.manual_seed(0)
model = Classifier(5)  # as pretrained
params = list(model.parameters())  # the script built its optimizer here ...
model.head = nn.Linear(64, 10)  # ... and replaced the head afterwards


def optimizer(_params, lr):
    return torch.optim.AdamW(params, lr=lr)  # the bug: the parameters taken before the new head
