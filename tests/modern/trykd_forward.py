"""Healthy: the distillation of trykd_digits in the forward + loss_fn form. The forward runs the
frozen teacher under no_grad and hands the loss the student's logits and a dict target
{"labels", "teacher"}; loss_fn is the same alpha * KL * T^2 + (1 - alpha) * CE, T = 4,
alpha = 0.7, so dlcheck sees the student's logits."""

from _trykd_data import kd_loss, teacher_logits
from trykd_digits import lr, model, num_classes, train_loader, val_loader  # noqa: F401

task = "classification"


def forward(model, batch):
    x, y = batch
    return model(x), {"labels": y, "teacher": teacher_logits(x)}


def loss_fn(logits, targets):
    return kd_loss(logits, targets["teacher"], targets["labels"])
