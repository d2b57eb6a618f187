"""Bug: a dataset that waits 3 ms per sample (file decoding, a network disk) read with num_workers=0:
the CNN waits for data most of every step."""

from _preflight_data import SlowDigits, loader
from torch import nn

num_classes = 10


def model():
    return nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 64, 10))


def train_loader():
    return loader(SlowDigits(), batch_size=16, num_workers=0)
