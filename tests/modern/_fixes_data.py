"""Data for the verified-fixes set-ups: digits 0, 1 and 2 with imbalanced labels (60 / 30 / 10 %),
standardised per pixel; shuffled once."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import loader, standardised  # noqa: E402,F401

_X, _y = standardised("digits")
_keep = torch.cat([(_y == 0).nonzero()[:, 0], (_y == 1).nonzero()[:90, 0], (_y == 2).nonzero()[:30, 0]])
_order = torch.randperm(len(_keep), generator=torch.Generator().manual_seed(1))
X, y = _X[_keep[_order]], _y[_keep[_order]]
COUNTS = torch.bincount(y, minlength=3)  # 178, 90, 30
