"""Trial: a small CNN with BatchNorm and dropout on 8x8 digits, SGD with Nesterov momentum and
OneCycleLR, gradients clipped to norm 1 by a hook the optimizer factory registers; dlcheck's
default checkpointing."""

import torch
from _tryres_data import digit_images
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 0.05


def model():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 16, num_classes))


def train_loader():
    X, y = digit_images()
    return DataLoader(TensorDataset(X[:384], y[:384]), batch_size=32, shuffle=True, drop_last=True)


def val_loader():
    X, y = digit_images()
    return DataLoader(TensorDataset(X[384:], y[384:]), batch_size=64)


def optimizer(params, lr):
    params = list(params)
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)

    def clip(opt, args, kwargs):
        nn.utils.clip_grad_norm_(params, 1.0)

    opt.register_step_pre_hook(clip)
    return opt


def scheduler(optimizer):
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=200)
