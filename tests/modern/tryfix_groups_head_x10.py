"""Bug: the param-group optimizer the other way round, the head at 10x the lr it is handed, at lr
1e-7 (DLC303): the lr to hand the factory is a tenth of the LR its largest group should get."""

import torch
from tryfix_groups_ok import X, Net, loader, num_classes, y  # noqa: F401

lr = 1e-7
model = Net


def optimizer(params, lr):
    params = list(params)
    return torch.optim.Adam([{"params": params[:-2]}, {"params": params[-2:], "lr": lr * 10}], lr=lr)


train_loader = lambda: loader(X, y, batch_size=32)
