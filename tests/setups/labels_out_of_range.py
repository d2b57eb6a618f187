"""Labels 1..10 (off by one) for a model with 10 outputs (0..9)."""

from _digits import X_TRAIN, Y_TRAIN, loader, mlp

model = mlp
train_loader = loader(X_TRAIN, Y_TRAIN + 1, shuffle=False)
