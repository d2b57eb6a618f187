"""Digits with labels that go out of range only from batch 6 on (a label 10 for a 10-class model):
the first batches a check inspects are clean, the later ones that training meets are not."""

from _digits import X_TRAIN, Y_TRAIN, loader, mlp

model = mlp
_y = Y_TRAIN.clone()
_y[6 * 64:] = (_y[6 * 64:] + 1).clamp(max=10)  # from batch 6 (batch size 64) on: 1..10
train_loader = loader(X_TRAIN, _y, shuffle=False)
