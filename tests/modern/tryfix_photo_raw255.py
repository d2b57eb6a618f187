"""Bug: the photo crops through PILToTensor and a float cast: raw 0-255 inputs (DLC701)."""

import torch
from torch.utils.data import DataLoader
from torchvision import transforms
from tryfix_data import PatchDataset
from tryfix_photo_ok import lr, model, num_classes  # noqa: F401

TRANSFORM = transforms.Compose([transforms.PILToTensor(), transforms.Lambda(lambda t: t.float())])  # the bug: 0..255
train_loader = lambda: DataLoader(PatchDataset(TRANSFORM), batch_size=32, shuffle=True)
