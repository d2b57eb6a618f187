"""Bug: photo patches fed as raw 0-255 floats (no ToTensor scaling, no Normalize)."""

import torch
from _data import photo_patches
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

patches, labels = photo_patches()
images = torch.tensor(patches, dtype=torch.float32).permute(0, 3, 1, 2)  # 0..255
model = lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten(), nn.Linear(8, 4))
train_loader = lambda: DataLoader(TensorDataset(images, torch.tensor(labels)), batch_size=32, shuffle=True)
