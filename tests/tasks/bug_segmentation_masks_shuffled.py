"""Bug: the segmentation masks were shuffled separately from their images (a list of mask files
sorted differently from the list of images): no mask belongs to its image any more."""

import torch
from ok_segmentation_fcn import IMAGES, lr, model, num_classes  # noqa: F401  (the healthy set-up's)
from ok_segmentation_fcn import MASKS as PAIRED
from torch.utils.data import DataLoader, TensorDataset

MASKS = PAIRED[torch.randperm(len(PAIRED), generator=torch.Generator().manual_seed(1))]


def train_loader():
    return DataLoader(TensorDataset(IMAGES[:192], MASKS[:192]), batch_size=16, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
