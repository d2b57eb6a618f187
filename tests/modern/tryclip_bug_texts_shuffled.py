"""Bug: tryclip_digits with the captions shuffled apart from their images when the dataset is built
(a second permutation applied to the texts alone, as when images and captions are sorted or split
separately): each image is paired with a random digit's caption, so there is nothing to learn
across the pairs and the loss stays near ln(64) on held-out batches, however long it trains."""

import torch
from torch.utils.data import DataLoader, TensorDataset
from tryclip_digits import images, lr, model, optimizer, texts, training_step  # noqa: F401

shuffled = texts[torch.randperm(len(texts), generator=torch.Generator().manual_seed(1))]


def train_loader():
    return DataLoader(TensorDataset(images[:1400], shuffled[:1400]), batch_size=64, shuffle=True,
                      drop_last=True, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(images[1400:], shuffled[1400:]), batch_size=64)
