"""Data for the tryfix_* set-ups (--verify-fixes tried on other authors' architectures): sklearn's
digits upsampled to 3x32x32 crops for torchvision's resnet18, digit rows as token sequences for a
tiny BERT, and the same rows as sequences for an LSTM. Everything small, nothing downloaded."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import PatchDataset, loader  # noqa: E402,F401

_X, _y = load_digits(return_X_y=True)
_order = torch.randperm(len(_X), generator=torch.Generator().manual_seed(0))
RAW = torch.tensor(_X, dtype=torch.float32)[_order]  # 0..16 per pixel
Y = torch.tensor(_y, dtype=torch.long)[_order]


def crops(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, 32, 32) digit images, bilinear-upsampled and standardised per pixel value, and labels."""
    x = F.interpolate(RAW[:n].view(-1, 1, 8, 8), size=32, mode="bilinear", align_corners=False)
    x = ((x - RAW.mean()) / RAW.std()).expand(-1, 3, -1, -1).contiguous()
    return x, Y[:n]


def tokens(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 64) token ids (a pixel's 0..16 value + 1; 0 is padding) and the digit labels."""
    return RAW[:n].long() + 1, Y[:n]


def rows(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 8, 8) sequences: an image's 8 rows as 8 time steps of 8 features, standardised."""
    x = (RAW[:n] - RAW.mean()) / RAW.std()
    return x.view(-1, 8, 8), Y[:n]


def dict_loader(ids, labels, batch_size=32, shuffle=True):
    """Hugging Face style dict batches: input_ids, attention_mask, labels."""
    def collate(items):
        x = torch.stack([i for i, _ in items])
        return {"input_ids": x, "attention_mask": torch.ones_like(x), "labels": torch.stack([t for _, t in items])}
    return DataLoader(TensorDataset(ids, labels), batch_size=batch_size, shuffle=shuffle, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)
