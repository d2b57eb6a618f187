"""Healthy (a new user's trial): an MLP fed by an IterableDataset (the digits streamed, split between
2 workers by get_worker_info())."""

import torch
from torch import nn
from torch.utils.data import DataLoader
from trypre_data import DigitStream

num_classes = 10


def model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def train_loader():
    return DataLoader(DigitStream(), batch_size=32, num_workers=2)
