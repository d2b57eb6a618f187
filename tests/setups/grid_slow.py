"""grid: a small digits MLP whose loader takes a little time per batch, so that two processes
sharing one Optuna storage really do work on the grid at the same time."""

import time

from _digits import X_TRAIN, Y_TRAIN, X_VAL, Y_VAL, loader, mlp

lr = 3e-3


class _Slow:
    """The loader, 20 ms per batch."""

    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __iter__(self):
        for batch in self.inner:
            time.sleep(0.02)
            yield batch


def model():
    return mlp(32)


def train_loader():
    return _Slow(loader(X_TRAIN[:384], Y_TRAIN[:384], batch_size=32))


def val_loader():
    return loader(X_VAL, Y_VAL, batch_size=200, shuffle=False)
