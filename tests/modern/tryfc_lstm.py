"""Healthy: multivariate time-series forecasting. An LSTM reads a window of 48 past steps of a
3-channel synthetic series (noisy sines of different periods plus a slow trend) and predicts the
next 8 steps of every channel (MSE); windows cut with stride 2; validation windows come from the
series' later part (split by time)."""

from torch import nn

from _tryfc_data import LSTMForecaster, loaders

lr = 3e-3
task = "regression"
model = LSTMForecaster
loss_fn = nn.MSELoss()
train_loader, val_loader = loaders()
