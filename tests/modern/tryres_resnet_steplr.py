"""Trial: torchvision's resnet18 (weights=None, BatchNorm running stats) on digits upsampled to
3x32x32, SGD with momentum and StepLR; the target's own save_checkpoint/load_checkpoint, the way
the PyTorch ImageNet example writes them."""

import torch
import torchvision
from _tryres_data import digit_rgb32
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 0.05


def model():
    return torchvision.models.resnet18(weights=None, num_classes=num_classes)


def train_loader():
    X, y = digit_rgb32()
    return DataLoader(TensorDataset(X[:192], y[:192]), batch_size=32, shuffle=True)


def val_loader():
    X, y = digit_rgb32()
    return DataLoader(TensorDataset(X[192:], y[192:]), batch_size=32)


def optimizer(params, lr):
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)


def scheduler(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)


def save_checkpoint(path, model, optimizer, scheduler=None):
    torch.save({"state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state()}, path)


def load_checkpoint(path, model, optimizer, scheduler=None):
    ckpt = torch.load(path, map_location="cpu")
    model.load_state_dict(ckpt["state_dict"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
