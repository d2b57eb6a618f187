"""grid: a healthy digits MLP whose configured lr (3e-4 with Adam) is far below its best, so the
best cell of the default grid (1e-4, 3e-4, 9e-4) is its highest LR: the grid must be widened upward."""

from _digits import X_TRAIN, Y_TRAIN, X_VAL, Y_VAL, loader, mlp

lr = 3e-4


def model():
    return mlp(64)


def train_loader():
    return loader(X_TRAIN[:512], Y_TRAIN[:512], batch_size=32)


def val_loader():
    return loader(X_VAL, Y_VAL, batch_size=200, shuffle=False)
