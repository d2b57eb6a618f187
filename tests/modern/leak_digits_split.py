"""Healthy: an MLP on digits, train and validation split once with train_test_split (disjoint)."""

from _leak_data import digits_split, loader, mlp

X_train, X_val, y_train, y_val = digits_split()
model = mlp
num_classes = 10


def train_loader():
    return loader(X_train, y_train)


def val_loader():
    return loader(X_val, y_val, shuffle=False)
