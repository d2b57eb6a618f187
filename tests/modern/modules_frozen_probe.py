"""Healthy: a linear probe on a frozen, pretrained-style backbone (conv + BatchNorm, pretrained on
digits 0-4) on all ten digits. The backbone's parameters do not require gradients and its
overridden train() keeps the backbone in eval mode, so its BatchNorm layers normalise with the
running statistics of pretraining, in training and in evaluation alike."""

from _modules_data import loaders, pretrained_backbone
from torch import nn

lr = 1e-2
train_loader, val_loader = loaders()


class LinearProbe(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.backbone = pretrained_backbone()
        self.backbone.requires_grad_(False)
        self.head = nn.Linear(64, classes)

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()  # frozen: its BatchNorm statistics stay those of pretraining
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


model = LinearProbe
