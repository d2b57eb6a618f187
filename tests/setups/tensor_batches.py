"""A loader that yields bare input tensors, with no targets and no forward()."""

from _digits import X_TRAIN, mlp
from torch.utils.data import DataLoader

model = mlp
train_loader = DataLoader(X_TRAIN, batch_size=64)
