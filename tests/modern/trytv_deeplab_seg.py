"""Healthy (a new user's trial): torchvision's deeplabv3_mobilenet_v3_large (weights=None) with
aux_loss=True -- its forward returns {'out', 'aux'}, both (B, 3, 64, 64) -- segmenting 64x64 crops
of scikit-learn's sample photos into brightness tertiles; the user's loss weighs the aux head 0.5,
as torchvision's reference training script does."""

import torch.nn.functional as F
from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large
from _trytv_data import loader, photo_crops

num_classes = 3
X, M, _ = photo_crops()


def model():
    return deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3, aux_loss=True)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs["out"], targets) + 0.5 * F.cross_entropy(outputs["aux"], targets)


def train_loader():
    return loader(X[:96], M[:96], batch_size=8)


def val_loader():
    return loader(X[96:], M[96:], batch_size=8, shuffle=False)
