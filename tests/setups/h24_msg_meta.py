"""A model built on the meta device (shapes only, no storage) and never materialised."""

import torch
from _digits import loader, mlp

with torch.device("meta"):
    model = mlp()
train_loader = loader()
