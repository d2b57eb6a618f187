"""Trial: a digits MLP with dropout (a factory) and tryres_object_model's own checkpoint functions, read in
batches of 16 (50 batches an epoch, as a real data set has many): the check resumes mid-epoch, where
dlcheck cannot see whether the user's training checkpoints mid-epoch at all."""

from _tryres_data import digit_images
from torch.utils.data import DataLoader, TensorDataset
from torch import nn
from tryres_object_model import load_checkpoint, lr, num_classes, save_checkpoint, scheduler  # noqa: F401


def model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, num_classes))


def train_loader():
    X, y = digit_images(1000)
    return DataLoader(TensorDataset(X[:800], y[:800]), batch_size=16, shuffle=True)


def val_loader():
    X, y = digit_images(1000)
    return DataLoader(TensorDataset(X[800:], y[800:]), batch_size=50)
