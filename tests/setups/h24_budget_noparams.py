"""A model without any parameter (nn.Sequential(nn.Flatten()) over digits images, 64 pixels
read as 64 "logits" of a 64-class problem): nothing can train. dlcheck says DLC005 in every
check that trains, and the checks with nothing to look at skip with a reason."""

import torch
from _digits import X_TRAIN, Y_TRAIN
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

model = nn.Sequential(nn.Flatten())
train_loader = DataLoader(TensorDataset(X_TRAIN[:256].view(-1, 8, 8), Y_TRAIN[:256]), batch_size=64)
val_loader = DataLoader(TensorDataset(X_TRAIN[256:384].view(-1, 8, 8), Y_TRAIN[256:384]), batch_size=64)
num_classes = 64
