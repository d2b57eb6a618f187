"""Healthy: SimCLR-style contrastive learning on scikit-learn's digits. Each batch holds two random
views of 64 images; an MLP encoder with a projection head maps both, and the InfoNCE (NT-Xent)
loss at temperature 0.2 pulls each pair together against the other 126 views. Its floor is not 0
(about 0.6 here) and unknown to dlcheck: the task is `other`."""

import torch
import torch.nn.functional as F
from _floor_data import TwoViews, digits
from torch import nn
from torch.utils.data import DataLoader

images, _ = digits()
images = (images - images.mean()) / images.std()  # standardised, as the encoder expects
lr = 1e-3
temperature = 0.2


def model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 32))


def train_loader():
    return DataLoader(TwoViews(images[:1400]), batch_size=64, shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(0))


def forward(model, batch):
    x1, x2 = batch
    return (model(x1), model(x2)), None


def loss_fn(outputs, targets):
    """NT-Xent: each view's positive is the other view of its image, among the 2B - 1 others."""
    z1, z2 = outputs
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    n = z1.shape[0]
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, positives)
