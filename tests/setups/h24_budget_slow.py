"""A digits MLP whose train loader takes $DLCHECK_TEST_SLEEP seconds (default 2) to read each of
its 200 batches: a data pipeline slower than the --budget. The run must stop reading when the
budget is spent, not read every batch a check asks for."""

import os
import time

from _digits import X_TRAIN, Y_TRAIN, mlp

SLEEP = float(os.environ.get("DLCHECK_TEST_SLEEP", "2"))


class SlowLoader:
    """200 batches of 64 digits, each read in SLEEP seconds."""

    def __len__(self):
        return 200

    def __iter__(self):
        for i in range(200):
            time.sleep(SLEEP)
            j = (i * 64) % 1344
            yield X_TRAIN[j:j + 64], Y_TRAIN[j:j + 64]


model = mlp
train_loader = SlowLoader()
