"""Labels out of range from batch 6 on, met by the user's own loss (a one-hot MSE), not by the
default cross-entropy: the message still names the loader, the batch and the labels."""

import torch.nn.functional as F
from _digits import X_TRAIN, Y_TRAIN, loader, mlp

model = mlp
num_classes = 10
_y = Y_TRAIN.clone()
_y[6 * 64:] = (_y[6 * 64:] + 1).clamp(max=10)
train_loader = loader(X_TRAIN, _y, shuffle=False)


def loss_fn(outputs, targets):
    return F.mse_loss(outputs.softmax(1), F.one_hot(targets, 10).float())
