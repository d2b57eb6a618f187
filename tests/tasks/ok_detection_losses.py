"""Healthy: a model with torchvision detection's interface — model(images, targets) in training
mode returns a dict of losses (loss_classifier, loss_box_reg) to be summed, and in eval mode a list
of {"boxes", "labels", "scores"} — on digits placed at random in a 24x24 canvas (one object per
image: its class and its box). No loss_fn: the sum of the model's losses is the loss, with no
known floor (overfit-small reads its own course); eval outputs of another kind are not compared."""

import torch
import torch.nn.functional as F
from _taskdata import tabular
from torch import nn
from torch.utils.data import DataLoader

lr = 2e-3
X, y = tabular("digits")
CANVAS = 24


def scenes(n: int, seed: int = 0):
    """n (image (1, 24, 24), {"boxes": (1, 4), "labels": (1,)}) pairs: a digit pasted at random."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        top, left = torch.randint(0, CANVAS - 8, (2,), generator=g).tolist()
        image = torch.zeros(1, CANVAS, CANVAS)
        image[0, top:top + 8, left:left + 8] = X[i].reshape(8, 8)
        box = torch.tensor([[left, top, left + 8, top + 8]], dtype=torch.float32)
        out.append((image, {"boxes": box, "labels": y[i:i + 1]}))
    return out


def collate(items):
    return [i for i, _ in items], [t for _, t in items]


class TinyDetector(nn.Module):
    """One object per image: a conv body with BatchNorm, a class head and a box head."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(3), nn.Flatten())
        self.cls = nn.Linear(32 * 9, classes)
        self.box = nn.Linear(32 * 9, 4)

    def forward(self, images, targets=None):
        h = self.body(torch.stack(images))
        logits, boxes = self.cls(h), self.box(h) * CANVAS
        if self.training:
            labels = torch.cat([t["labels"] for t in targets])
            true_boxes = torch.cat([t["boxes"] for t in targets])
            return {"loss_classifier": F.cross_entropy(logits, labels),
                    "loss_box_reg": F.smooth_l1_loss(boxes, true_boxes) / CANVAS}
        scores, labels = logits.softmax(1).max(1)
        return [{"boxes": b[None], "labels": l[None], "scores": s[None]} for b, l, s in zip(boxes, labels, scores)]


model = TinyDetector
TRAIN, VAL = scenes(1400), scenes(300, seed=1)


def forward(model, batch):
    images, targets = batch
    return model(images, targets), targets


def train_loader():
    return DataLoader(TRAIN, batch_size=64, shuffle=True, collate_fn=collate, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(VAL, batch_size=64, collate_fn=collate)
