"""Under torchrun, an LR scaled for the world size twice: the target's lr was already scaled by
the launcher script (0.05 for 2 ranks), and the optimizer factory multiplies it by the world size
again (DLC016). In one process the factory leaves the lr alone."""

import torch
import torch.distributed as dist

import dist_digits

num_classes = dist_digits.num_classes
model = dist_digits.model
train_loader = dist_digits.train_loader
val_loader = dist_digits.val_loader
lr = 0.05


def optimizer(params, lr):
    world = dist.get_world_size() if dist.is_initialized() else 1
    return torch.optim.Adam(params, lr=lr * world)  # linear scaling rule, applied a second time
