"""Healthy: a tiny DDPM (Ho et al. 2020) on scikit-learn's digits, images only, scaled to [-1, 1].
The model is a small conv net taking (x_t, t), a sinusoidal timestep embedding (through an MLP)
added to its feature maps; the training step draws t uniformly from 1..T (T = 100, linear beta
schedule 1e-3..0.2: DDPM's 1e-4..0.02 for T = 1000 scaled by 1000 / T, so x_T is noise),
noise ~ N(0, 1), x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, and the loss is the MSE between
the predicted and the drawn noise. The targets are made inside the step (the batch holds images
alone), the loss changes with every draw of t and noise, and its floor is not 0 (noise at small t
cannot be told from the image): from 1.1-1.9 at init to ~0.13 in 400 Adam steps."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 1e-3
T = 100
BETAS = torch.linspace(1e-4, 0.02, T) * (1000 / T)
ALPHA_BAR = torch.cumprod(1.0 - BETAS, dim=0)  # ALPHA_BAR[t - 1] for t in 1..T


def digits(seed: int = 0) -> torch.Tensor:
    """The 1797 digit images (N, 1, 8, 8) scaled from 0..16 to [-1, 1], shuffled once."""
    X, _ = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    return torch.tensor(X[order], dtype=torch.float32).reshape(-1, 1, 8, 8) / 8.0 - 1.0


images = digits()


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps t (B,) -> (B, dim), as in the transformer/DDPM."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class Block(nn.Module):
    """conv 3x3 -> GroupNorm -> + time embedding (per channel) -> SiLU."""

    def __init__(self, c_in: int, c_out: int, emb: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm = nn.GroupNorm(8, c_out)
        self.time = nn.Linear(emb, c_out)

    def forward(self, x, e):
        return F.silu(self.norm(self.conv(x)) + self.time(e)[:, :, None, None])


class NoisePredictor(nn.Module):
    def __init__(self, width: int = 32, emb: int = 32):
        super().__init__()
        self.emb = emb
        self.time_mlp = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.b1 = Block(1, width, emb)
        self.b2 = Block(width, width, emb)
        self.b3 = Block(width, width, emb)
        self.out = nn.Conv2d(width, 1, 3, padding=1)

    def forward(self, x, t):
        e = self.time_mlp(timestep_embedding(t, self.emb))
        h = self.b1(x, e)
        h = h + self.b2(h, e)
        h = h + self.b3(h, e)
        return self.out(h)


model = NoisePredictor


def train_loader():
    return DataLoader(TensorDataset(images[:1400]), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(images[1400:]), batch_size=64)


def noised(x0: torch.Tensor):
    """(x_t, t, noise): t uniform in 1..T, noise ~ N(0, 1), x_t from the closed-form q(x_t | x0)."""
    t = torch.randint(1, T + 1, (x0.shape[0],), device=x0.device)
    noise = torch.randn_like(x0)
    abar = ALPHA_BAR.to(x0.device)[t - 1].view(-1, 1, 1, 1)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise, t, noise


def training_step(model, batch):
    (x0,) = batch
    x_t, t, noise = noised(x0)
    return F.mse_loss(model(x_t, t), noise)
