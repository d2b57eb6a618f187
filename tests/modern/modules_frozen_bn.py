"""Healthy: fine-tuning a pretrained-style backbone whose BatchNorm layers are replaced by
torchvision's FrozenBatchNorm2d (fixed statistics and affine, as torchvision's detection models
do), with a new head; the convolutions train."""

from _modules_data import loaders, pretrained_backbone
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

lr = 3e-3
train_loader, val_loader = loaders()


def frozen(bn: nn.BatchNorm2d) -> FrozenBatchNorm2d:
    out = FrozenBatchNorm2d(bn.num_features, eps=bn.eps)
    out.weight.copy_(bn.weight.detach())
    out.bias.copy_(bn.bias.detach())
    out.running_mean.copy_(bn.running_mean)
    out.running_var.copy_(bn.running_var)
    return out


class FineTuned(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        backbone = pretrained_backbone()
        self.backbone = nn.Sequential(*[frozen(m) if isinstance(m, nn.BatchNorm2d) else m for m in backbone])
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        return self.head(self.backbone(x))


model = FineTuned
