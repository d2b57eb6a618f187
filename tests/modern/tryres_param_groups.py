"""Trial: fine-tuning style parameter groups -- the CNN body at a tenth of the head's LR, weight decay
off for biases and norms -- with AdamW and a LambdaLR holding one warm-up lambda per group; the
loader shuffles with its own torch.Generator seeded from the global RNG, as the PyTorch
reproducibility notes suggest; dlcheck's default checkpointing."""

import torch
from _tryres_data import digit_images
from torch.utils.data import DataLoader, TensorDataset
from tryres_onecycle_clip import lr, model, num_classes, val_loader  # noqa: F401


def train_loader():
    X, y = digit_images()
    g = torch.Generator()
    g.manual_seed(int(torch.randint(0, 2**31 - 1, ())))
    return DataLoader(TensorDataset(X[:320], y[:320]), batch_size=32, shuffle=True, generator=g)


def optimizer(params, lr):
    params = list(params)
    head = params[-2:]
    body = [p for p in params[:-2] if p.ndim > 1]
    flat = [p for p in params[:-2] if p.ndim <= 1]
    return torch.optim.AdamW([{"params": body, "lr": lr / 10}, {"params": flat, "lr": lr / 10, "weight_decay": 0.0},
                              {"params": head}], lr=lr, weight_decay=0.05)


def scheduler(optimizer):
    warm = [lambda s: min(1.0, (s + 1) / 20), lambda s: min(1.0, (s + 1) / 20), lambda s: min(1.0, (s + 1) / 5)]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warm)
