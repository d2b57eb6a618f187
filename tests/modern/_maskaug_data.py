"""Shared data for the maskaug set-ups (dense targets that must follow the image's augmentation):
a disc and a square drawn on a textured background, 3 classes per pixel (0 background, 1 disc,
2 square), images as float 3x32x32 tensors in [0, 1] and masks as long 32x32 tensors. The disc is
reddish and the square bluish at a random brightness, so a small FCN learns the masks; both sit
off-centre at random, so a horizontal flip moves them."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

SIZE = 32
NUM_CLASSES = 3


def shapes(n: int = 256, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    texture = 0.5 + 0.08 * torch.randn(n, 1, SIZE // 4, SIZE // 4, generator=g)
    images = torch.nn.functional.interpolate(texture, size=(SIZE, SIZE), mode="bilinear").expand(-1, 3, -1, -1).clone()
    images += 0.05 * torch.randn(n, 3, SIZE, SIZE, generator=g)
    masks = torch.zeros(n, SIZE, SIZE, dtype=torch.long)
    for i in range(n):
        r = 4 + 3 * float(torch.rand(1, generator=g))
        cy, cx = (r + (SIZE - 2 * r) * torch.rand(2, generator=g)).tolist()
        disc = (ys - cy) ** 2 + (xs - cx) ** 2 <= r * r
        half = int(3 + 4 * float(torch.rand(1, generator=g)))
        top, left = torch.randint(0, SIZE - 2 * half, (2,), generator=g).tolist()
        square = torch.zeros(SIZE, SIZE, dtype=torch.bool)
        square[top:top + 2 * half, left:left + 2 * half] = True
        square &= ~disc  # the disc lies on top
        bright = 0.25 + 0.2 * torch.rand(2, generator=g)
        images[i, 0][disc] += bright[0]
        images[i, 2][disc] -= bright[0]
        images[i, 2][square] += bright[1]
        images[i, 0][square] -= bright[1]
        masks[i][disc] = 1
        masks[i][square] = 2
    return images.clamp(0, 1), masks


IMAGES, MASKS = shapes()
# per-channel statistics of the training images, for Normalize
MEAN = IMAGES[:192].mean(dim=(0, 2, 3)).tolist()
STD = IMAGES[:192].std(dim=(0, 2, 3)).tolist()


class ShapesSegmentation(Dataset):
    """Images and their masks, as torchvision's VisionDataset has them: ``transform`` takes the
    image alone (the mask stays as it is), ``transforms`` takes the image and its mask together
    (the mask as a ``tv_tensors.Mask``, so torchvision.transforms.v2 moves it with the image)."""

    def __init__(self, images, masks, transform=None, transforms=None):
        self.images, self.masks, self.transform, self.transforms = images, masks, transform, transforms

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from torchvision import tv_tensors

        image, mask = self.images[i], self.masks[i]
        if self.transforms is not None:
            image, mask = self.transforms(tv_tensors.Image(image), tv_tensors.Mask(mask))
        if self.transform is not None:
            image = self.transform(image)
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor).long()
