"""Healthy: knowledge distillation on scikit-learn's digits. A frozen teacher MLP (64-256-256-10,
trained at import) and a small student (64-32-10); the training_step runs the teacher under
no_grad and returns alpha * KL(softmax(teacher/T) || softmax(student/T)) * T^2 + (1 - alpha) *
CE(student, y), T = 4, alpha = 0.7 (Hinton et al.)."""

from _trykd_data import kd_loss, loaders, student, teacher_logits

lr = 3e-3
num_classes = 10
model = student
train_loader, val_loader = loaders()


def training_step(model, batch):
    x, y = batch
    return kd_loss(model(x), teacher_logits(x), y)
