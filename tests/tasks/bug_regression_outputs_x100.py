"""Bug: the regression MLP's outputs are 100x too large at init (a final layer scaled up by a
copy-pasted custom init): the initial MSE is thousands of times the target variance."""

import torch
from _taskdata import tabular
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = tabular("diabetes")
y = y.float()
y = ((y - y.mean()) / y.std()).unsqueeze(1)
loss_fn = nn.MSELoss()


def model():
    net = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    with torch.no_grad():
        net[-1].weight.mul_(100.0)
        net[-1].bias.mul_(100.0)
    return net


def train_loader():
    return DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
