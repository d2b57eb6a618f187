"""Bug (tests/zoo/bug_double_softmax.py) in a torchrun-ready set-up: the model ends in Softmax and
the loss is CrossEntropyLoss (DLC203); a DistributedSampler under torchrun."""

from _fixdist_data import loader, standardised
from torch import nn

X, y = standardised("digits")
model = lambda: nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(dim=1))
loss_fn = nn.CrossEntropyLoss()
train_loader = lambda: loader(X, y)
