"""Synthetic segmentation data: a disc and a square drawn on noise, 3 classes per pixel
(0 background, 1 disc, 2 square). The disc is drawn mostly in the red channel, the square mostly
in the blue one, both at a random brightness, so a small FCN can learn the masks."""

from __future__ import annotations

import torch


def shapes(n: int = 240, size: int = 24, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    images = 0.3 * torch.randn(n, 3, size, size, generator=g)
    masks = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        r = 3 + 3 * float(torch.rand(1, generator=g))
        cy, cx = (r + (size - 2 * r) * torch.rand(2, generator=g)).tolist()
        disc = (ys - cy) ** 2 + (xs - cx) ** 2 <= r * r
        half = int(2 + 3 * float(torch.rand(1, generator=g)))
        top, left = torch.randint(0, size - 2 * half, (2,), generator=g).tolist()
        square = torch.zeros(size, size, dtype=torch.bool)
        square[top:top + 2 * half, left:left + 2 * half] = True
        square &= ~disc  # the disc lies on top
        bright = 0.8 + 0.6 * torch.rand(2, generator=g)
        images[i, 0][disc] += bright[0]
        images[i, 1][disc] += 0.3 * bright[0]
        images[i, 2][square] += bright[1]
        images[i, 1][square] += 0.3 * bright[1]
        masks[i][disc] = 1
        masks[i][square] = 2
    mean = images.mean(dim=(0, 2, 3), keepdim=True)
    std = images.std(dim=(0, 2, 3), keepdim=True)
    return (images - mean) / std, masks
