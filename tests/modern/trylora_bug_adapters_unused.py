"""Bug: the LoRA adapters are built and handed to the optimizer but never used in forward: they are
kept in a ModuleList beside the encoder instead of replacing its query and value projections, so
only the head trains (a linear probe on a frozen random base). The adapters get no gradient at all:
optimizer DLC972 (parameters in a param group that never receive a gradient)."""

from _trylora_data import LoRALinear, base_model, freeze_base, optimizer, train_loader, val_loader  # noqa: F401
from torch import nn

lr = 5e-3


def model():
    net = base_model()
    freeze_base(net)
    adapters = []
    for layer in net.bert.encoder.layer:
        attn = layer.attention.self
        adapters += [LoRALinear(attn.query), LoRALinear(attn.value)]  # the bug: never put back
    net.lora = nn.ModuleList(adapters)
    return net
