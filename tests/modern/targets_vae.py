"""Healthy: a variational autoencoder on scikit-learn's digits. The dataset yields (image, digit)
pairs as most datasets do; the VAE's loss (reconstruction + KL) ignores the digit labels."""

import torch
from _targets_data import X_TRAIN, Y_TRAIN
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

lr = 1e-3


class VAE(nn.Module):
    def __init__(self, latent: int = 8):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 64))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.dec(z), mu, logvar


model = VAE


def forward(model, batch):
    x, y = batch
    recon, mu, logvar = model(x)
    return (recon, mu, logvar, x), y


def loss_fn(outputs, y):
    recon, mu, logvar, x = outputs
    rec = F.mse_loss(recon, x, reduction="sum") / len(x)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / len(x)
    return rec + kl


def train_loader():
    return DataLoader(TensorDataset(X_TRAIN, Y_TRAIN), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
