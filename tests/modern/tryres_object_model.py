"""Trial: the model given as an object (not a factory), an MLP with BatchNorm1d and dropout on
flat digits; Adam with an ExponentialLR; the target's own checkpoint functions saving the model,
optimizer, scheduler and torch RNG in one dict."""

import torch
from _tryres_data import digit_images
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 1e-3

model = nn.Sequential(nn.Flatten(), nn.Linear(64, 96), nn.BatchNorm1d(96), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear(96, num_classes))


def train_loader():
    X, y = digit_images()
    return DataLoader(TensorDataset(X[:400], y[:400]), batch_size=25, shuffle=True)


def val_loader():
    X, y = digit_images()
    return DataLoader(TensorDataset(X[400:], y[400:]), batch_size=50)


def scheduler(optimizer):
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)


def save_checkpoint(path, model, optimizer, scheduler=None):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler else None, "rng": torch.get_rng_state()}, path)


def load_checkpoint(path, model, optimizer, scheduler=None):
    ckpt = torch.load(path)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
