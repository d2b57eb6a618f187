"""Healthy, as a new user writes it: MSE regression on scikit-learn's diabetes set, inputs
standardised, targets standardised, a small MLP, Adam at 3e-4, batch 32 (a noisy loss)."""

import torch
from sklearn.datasets import load_diabetes
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = load_diabetes(return_X_y=True)
X = torch.tensor(X, dtype=torch.float32)
y = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
X = (X - X.mean(0)) / X.std(0)
y = (y - y.mean()) / y.std()

lr = 3e-4
loss_fn = nn.MSELoss()
model = lambda: nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
train_loader = lambda: DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
