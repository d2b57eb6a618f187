"""Bug on a streaming loader: an IterableDataset yielding raw 0..16 digit pixels in label order, not
shuffled (DLC701 / DLC707); the fixes that rebuild a loader must say they do not apply."""

import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset
from tryfix_data import RAW, Y

num_classes = 10
lr = 1e-3
_order = torch.argsort(Y[:512], stable=True)
X, y = RAW[:512][_order] * 16, Y[:512][_order]  # the bugs: 0..256 raw, sorted by label


class Stream(IterableDataset):
    def __iter__(self):
        for i in range(len(y)):
            yield X[i], y[i]


model = lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
train_loader = lambda: DataLoader(Stream(), batch_size=32)
