"""Trial: a tiny ViT (image 32, patches of 8, a [CLS] token) built from a config, nothing downloaded, on
scikit-learn's digits upsampled to 3x32x32 and normalised; ViTForImageClassification computes its own
loss from `labels`. Dict batches {pixel_values, labels}."""

import torch
from _tryres_data import digit_rgb32
from torch.utils.data import DataLoader
from transformers import ViTConfig, ViTForImageClassification

lr = 1e-3


def model():
    return ViTForImageClassification(ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32,
                                               num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                               num_labels=10))


def collate(rows):
    return {"pixel_values": torch.stack([x for x, _ in rows]), "labels": torch.stack([y for _, y in rows])}


def train_loader():
    X, y = digit_rgb32(256)
    return DataLoader(list(zip(X[:192], y[:192])), batch_size=16, shuffle=True, collate_fn=collate)


def val_loader():
    X, y = digit_rgb32(256)
    return DataLoader(list(zip(X[192:], y[192:])), batch_size=16, collate_fn=collate)
