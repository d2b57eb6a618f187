"""Bug: a variational autoencoder on scikit-learn's digits (pixels in [0, 1]), whose loss
subtracts the KL instead of adding it: the encoder is rewarded for a posterior far from the prior,
so the loss falls without bound (towards -inf). overfit-small must fail it."""

from _floor_vae import kl, reconstruction
from floor_vae_digits import forward, lr, model, train_loader  # noqa: F401  (the healthy twin's set-up)


def loss_fn(outputs, x):
    logits, mu, logvar = outputs
    return reconstruction(logits, x) - kl(mu, logvar)  # the bug: the KL sign flipped
