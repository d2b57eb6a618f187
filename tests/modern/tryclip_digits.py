"""Healthy: a tiny CLIP-style dual encoder (Radford et al. 2021) on scikit-learn's digits. Each image
is paired with a short caption of word tokens, 1-2 attribute words drawn from a small vocabulary
("a", "digit", "handwritten", "small", "of", ...) then the digit's name ("a handwritten seven"),
padded with 0 to 4 tokens; a batch is (images, token_ids). The image tower is an MLP on the flattened image, the text tower
an nn.Embedding averaged over the non-pad tokens then a linear layer; both project to 32-d
L2-normalised embeddings, and a learnable logit scale starts at log(1 / 0.07) as in CLIP. The
forward returns (image_emb, text_emb, logit_scale.exp()); the training step is CLIP's symmetric
InfoNCE with in-batch negatives, the scale clamped at 100. Each tower is per-sample, the loss mixes
the batch by design, there are no class-label targets, and the loss floor is not 0: many images in
a batch share a digit (and often the very caption), so the right pair cannot be told from them."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 1e-3
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ATTRIBUTES = ["a", "digit", "handwritten", "small", "of", "the", "number"]
VOCAB = ["<pad>"] + NAMES + ATTRIBUTES
LENGTH = 4  # up to 2 attribute words + the name, padded with 0


def captions(labels: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """(N, LENGTH) token ids: 1-2 random attribute words then the digit's name, 0-padded."""
    ids = np.zeros((len(labels), LENGTH), dtype=np.int64)
    for i, label in enumerate(labels):
        words = list(rng.choice(ATTRIBUTES, size=rng.integers(1, 3), replace=False)) + [NAMES[label]]
        ids[i, :len(words)] = [VOCAB.index(w) for w in words]
    return torch.tensor(ids)


def digits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 1, 8, 8) standardised by their overall mean and std, as images are, captions
    (N, LENGTH)), shuffled once."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    images = torch.tensor(X[order], dtype=torch.float32).reshape(-1, 1, 8, 8)
    return (images - images.mean()) / images.std(), captions(y[order], rng)


images, texts = digits()


class DualEncoder(nn.Module):
    def __init__(self, dim: int = 32, width: int = 128, words: int = len(VOCAB)):
        super().__init__()
        self.image = nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                   nn.Linear(width, dim))
        self.embed = nn.Embedding(words, width, padding_idx=0)
        self.text = nn.Linear(width, dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).unsqueeze(-1).float()
        pooled = (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.text(pooled)

    def forward(self, images, ids):
        return (F.normalize(self.image(images), dim=-1), F.normalize(self.encode_text(ids), dim=-1),
                self.logit_scale.exp())


model = DualEncoder


def train_loader():
    return DataLoader(TensorDataset(images[:1400], texts[:1400]), batch_size=64, shuffle=True,
                      drop_last=True, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(images[1400:], texts[1400:]), batch_size=64)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr)


def clip_loss(image_emb, text_emb, scale):
    """Symmetric InfoNCE: image i's positive is text i among the batch's texts, and back."""
    logits = scale.clamp(max=100) * image_emb @ text_emb.T
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def training_step(model, batch):
    x, ids = batch
    return clip_loss(*model(x, ids))
