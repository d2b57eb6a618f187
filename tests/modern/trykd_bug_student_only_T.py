"""Planted bug (twin of trykd_digits): the temperature is applied to the student only; the
teacher's softmax is taken at T = 1, so the student is pulled towards the teacher's sharp
distribution at T = 4 and then scaled by T^2 = 16."""

from _trykd_data import kd_loss, teacher_logits
from trykd_digits import lr, model, num_classes, train_loader, val_loader  # noqa: F401


def training_step(model, batch):
    x, y = batch
    return kd_loss(model(x), teacher_logits(x), y, temperature_on_teacher=False)
