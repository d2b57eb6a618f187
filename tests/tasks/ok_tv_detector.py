"""Healthy: a real torchvision detector, Faster R-CNN with a MobileNetV3 backbone, built with
weights=None and weights_backbone=None (nothing downloaded) at 64 px, on digits pasted at random
into 24x24 crops of scikit-learn's sample photos (one object per image, its class and its box; torchvision's labels
count from 1, 0 is the background). In training mode the model takes the targets and returns a
dict of its four losses, summed by dlcheck; in eval mode a list of detections, which no check
compares. tests/test_own_loss.py runs it through every check."""

import torch
import torchvision
from _taskdata import tabular
from sklearn.datasets import load_sample_images
from torch.utils.data import DataLoader

lr = 1e-3
X, y = tabular("digits")
PHOTOS = [torch.tensor(p, dtype=torch.float32).permute(2, 0, 1) / 255 for p in load_sample_images().images]
CANVAS = 24


def scenes(n: int, seed: int = 0):
    """n (image (3, 24, 24), {"boxes": (1, 4), "labels": (1,)}) pairs: a digit pasted at random
    into a crop of a photo."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        photo = PHOTOS[i % len(PHOTOS)]
        r, c = torch.randint(0, photo.shape[1] - CANVAS, (1,), generator=g).item(), \
            torch.randint(0, photo.shape[2] - CANVAS, (1,), generator=g).item()
        image = photo[:, r:r + CANVAS, c:c + CANVAS].clone()
        top, left = torch.randint(0, CANVAS - 8, (2,), generator=g).tolist()
        image[:, top:top + 8, left:left + 8] = X[i].reshape(8, 8) / X.max()
        box = torch.tensor([[left, top, left + 8, top + 8]], dtype=torch.float32)
        out.append((image, {"boxes": box, "labels": y[i:i + 1] + 1}))
    return out


def collate(items):
    return [i for i, _ in items], [t for _, t in items]


def model():
    return torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=11, min_size=64, max_size=64)


TRAIN, VAL = scenes(64), scenes(16, seed=1)


def forward(model, batch):
    images, targets = batch
    return model(images, targets), targets


def train_loader():
    return DataLoader(TRAIN, batch_size=4, shuffle=True, collate_fn=collate, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(VAL, batch_size=4, collate_fn=collate)
