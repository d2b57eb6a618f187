"""torchvision models with random weights (TV_MODEL=resnet18, efficientnet_b0, ...) on 32 px photo
patches, 4 classes, as a user writes a target: the new-user check of the verdicts on other
authors' architectures (not run by the test suite; see the closing note of stop 9)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zoo"))
import torch, torchvision
from torch.utils.data import DataLoader, Subset
from torchvision import transforms as T
from _data import PatchDataset

NAME = os.environ.get("TV_MODEL", "resnet18")
lr = 1e-3
train_transform = T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize([0.5] * 3, [0.25] * 3)])
val_transform = T.Compose([T.ToTensor(), T.Normalize([0.5] * 3, [0.25] * 3)])


def model():
    return getattr(torchvision.models, NAME)(weights=None, num_classes=4)


def train_loader():
    return DataLoader(Subset(PatchDataset(train_transform), range(0, 160)), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(Subset(PatchDataset(val_transform), range(160, 192)), batch_size=32)


optimizer = lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=0.05)  # noqa: E731
