"""Planted bug (twin of tryfc_lstm): the input window is sliced H steps too late,
x[i+H : i+H+LOOKBACK] instead of x[i : i+LOOKBACK], so its last 8 steps are exactly the 8 values
the model must predict: the target leaks into the input."""

from torch import nn

from _tryfc_data import HORIZON, LSTMForecaster, loaders

lr = 3e-3
task = "regression"
model = LSTMForecaster
loss_fn = nn.MSELoss()
train_loader, val_loader = loaders(shift=HORIZON)
