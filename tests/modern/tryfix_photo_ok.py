"""Healthy: a small CNN on sample-photo crops through torchvision transforms (ToTensor, Normalize)."""

from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from tryfix_data import PatchDataset

num_classes = 4
lr = 1e-3


def model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(32, 4))


TRANSFORM = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.25] * 3)])
train_loader = lambda: DataLoader(PatchDataset(TRANSFORM), batch_size=32, shuffle=True)
