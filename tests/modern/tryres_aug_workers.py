"""Trial: crops of scikit-learn's two sample photos, augmented at random with torchvision's
transforms v2 (RandomCrop, RandomHorizontalFlip, ColorJitter) in a Dataset read by a DataLoader with
num_workers=2 (each worker's RNG is seeded from the main process's at every epoch); a small CNN with
dropout; AdamW; dlcheck's default checkpointing."""

import torch
from _tryres_data import photo_crops
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

num_classes = 2
lr = 1e-3

train_transform = v2.Compose([v2.RandomCrop(32), v2.RandomHorizontalFlip(), v2.ColorJitter(0.2, 0.2),
                              v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.25] * 3)])
eval_transform = v2.Compose([v2.CenterCrop(32), v2.ToDtype(torch.float32, scale=True),
                             v2.Normalize([0.5] * 3, [0.25] * 3)])


class Photos(Dataset):
    def __init__(self, X, y, transform):
        self.X, self.y, self.transform = X, y, transform

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.transform(self.X[i]), self.y[i]


def model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                         nn.Flatten(), nn.Dropout(0.5), nn.Linear(32 * 16, num_classes))


def train_loader():
    X, y = photo_crops()
    return DataLoader(Photos(X[:160], y[:160], train_transform), batch_size=16, shuffle=True, num_workers=2)


def val_loader():
    X, y = photo_crops()
    return DataLoader(Photos(X[160:], y[160:], eval_transform), batch_size=16)
