"""Healthy graph model in plain PyTorch: the digits set as one k-NN graph (8 neighbours per
image, symmetric, normalised), node classification by a 2-layer graph convolution
(Kipf & Welling) over the whole graph as one batch; the loss on the 1400 training nodes, the
validation loader the same graph scored on the other 397. Every node's output mixes its
neighbours' features by design, so the target says mixes_samples = True."""

import torch
from _trymulti_data import digits, knn_graph
from torch import nn

lr = 1e-2
mixes_samples = True
X, Y, _ = digits()
ADJ = knn_graph(X)
TRAIN_MASK = torch.zeros(len(Y), dtype=torch.bool)
TRAIN_MASK[:1400] = True


class GCN(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.lin1 = nn.Linear(64, hidden)
        self.lin2 = nn.Linear(hidden, 10)

    def forward(self, x, adj):
        h = torch.relu(adj @ self.lin1(x))
        return adj @ self.lin2(h)


model = GCN


def train_loader():
    return [(X, ADJ, Y, TRAIN_MASK)]


def val_loader():
    return [(X, ADJ, Y, ~TRAIN_MASK)]


def forward(model, batch):
    x, adj, y, mask = batch
    return model(x, adj)[mask], y[mask]
