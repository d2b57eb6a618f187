"""Bug (tests/zoo/bug_raw_pixels.py) in a torchrun-ready set-up: photo patches fed as raw 0-255
floats, no Normalize (DLC701); a DistributedSampler under torchrun."""

import torch
from _fixdist_data import loader, photo_patches
from torch import nn

patches, labels = photo_patches()
images = torch.tensor(patches, dtype=torch.float32).permute(0, 3, 1, 2)  # 0..255
model = lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten(), nn.Linear(8, 4))
train_loader = lambda: loader(images, torch.tensor(labels), batch_size=32)
