"""Bug: the validation set is carved from the data (the first 300 digits) but training still uses
all of it, so every validation sample is also a training sample (DLC715)."""

from _leak_data import digits, loader, mlp

X, y = digits()
model = mlp
num_classes = 10


def train_loader():
    return loader(X, y)


def val_loader():
    return loader(X[:300], y[:300], shuffle=False)
