"""Bug: a segmentation dataset whose transform randomly flips the photo but not its mask.

The mask marks the photo's left half and its brightest quarter; half the masks end up mirrored."""

import torch
from _data import photo_patches
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T


class PhotoSegmentation(Dataset):
    def __init__(self, transform=None):
        patches, _ = photo_patches(size=32, per_photo=48)
        self.images = [torch.from_numpy(p).permute(2, 0, 1).float() / 255 for p in patches]
        self.masks = []
        for image in self.images:
            gray = image.mean(0)
            mask = (gray > gray.quantile(0.75)).long()  # 1: the brightest quarter
            mask[:, :16] += 2 * (mask[:, :16] == 0)  # 2: the rest of the left half
            self.masks.append(mask)
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = self.images[i]
        if self.transform is not None:
            image = self.transform(image)  # the mask is left as it was
        return image, self.masks[i]


train_transform = T.Compose([T.RandomHorizontalFlip(), T.Normalize((0.37, 0.40, 0.36), (0.26, 0.24, 0.26))])
model = lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 1))
train_loader = lambda: DataLoader(PhotoSegmentation(train_transform), batch_size=16, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
