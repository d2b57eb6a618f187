"""Healthy: photo patches (scikit-learn's sample photos) with masks, through a strong joint
torchvision.transforms.v2 pipeline: flip, random resized crop and rotation move image and
tv_tensors.Mask together; colour jitter and Normalize touch the image only."""

import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors
from torchvision.transforms import v2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from bug_mask_not_flipped import PhotoSegmentation, model  # noqa: E402,F401  (the zoo's photo masks)


class JointPhotoSegmentation(PhotoSegmentation):
    def __init__(self, transforms):
        super().__init__()
        self.transforms = transforms

    def __getitem__(self, i):
        image, mask = self.transforms(tv_tensors.Image(self.images[i]), tv_tensors.Mask(self.masks[i]))
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)


train_transforms = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomResizedCrop(32, scale=(0.5, 1.0), antialias=True),
                               v2.RandomRotation(15), v2.ColorJitter(0.3, 0.3, 0.3),
                               v2.Normalize((0.37, 0.40, 0.36), (0.26, 0.24, 0.26))])
train_loader = lambda: DataLoader(JointPhotoSegmentation(train_transforms), batch_size=16, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
