"""Bug: a variational autoencoder on scikit-learn's digits (pixels in [0, 1]), whose loss
subtracts the KL instead of adding it: the encoder is rewarded for a posterior far from the prior,
so the loss falls without bound (towards -inf). overfit-small must fail it."""

import torch
from _floor_data import digits
from _floor_vae import VAE, kl, reconstruction
from torch.utils.data import DataLoader, TensorDataset

images, labels = digits()
lr = 1e-3


def model():
    return VAE()


def train_loader():
    return DataLoader(TensorDataset(images[:1400], labels[:1400]), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def forward(model, batch):
    x, _ = batch
    return model(x), x


def loss_fn(outputs, x):
    logits, mu, logvar = outputs
    return reconstruction(logits, x) - kl(mu, logvar)  # the bug: the KL sign flipped
