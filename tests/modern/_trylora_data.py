"""LoRA for the trylora_* set-ups (dlcheck tried on parameter-efficient fine-tuning): a tiny
BertForSequenceClassification built from a config (random weights standing in for a pretrained
base, nothing downloaded), its base frozen, hand-written LoRA adapters (Hu et al. 2021, as peft
builds them: A kaiming-uniform, B zeros, the update scaled by alpha / r) on every attention
layer's query and value projections; only the adapters and the classification head train. The
data: _textcls's sentiment-like sentences (dict batches with `labels`, the model's own loss)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tasks"))
from _textcls import WORDS, loader, samples  # noqa: E402

R, ALPHA = 8, 16
TRAIN, VAL = samples(512, seed=0), samples(256, seed=1)


class LoRALinear(nn.Module):
    """base(x) + (x A^T B^T) * scale, the base frozen; B starts at zero, so the wrapped layer
    starts as the base exactly."""

    def __init__(self, base: nn.Linear, r: int = R, alpha: int = ALPHA):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale


def base_model(seed: int = 0):
    """The stand-in for a pretrained BERT: a tiny one from a config with a random init of its own
    seed (the same base whatever the run's seed, as pretrained weights are; the head and the
    adapters are drawn from the run's RNG)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=WORDS + 1, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=32, num_labels=2)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = BertForSequenceClassification(config)
    nn.init.normal_(net.classifier.weight, std=config.initializer_range)  # a fresh head
    nn.init.zeros_(net.classifier.bias)
    return net


def freeze_base(net) -> None:
    """Freeze everything, then let the classification head train (peft's modules_to_save)."""
    net.requires_grad_(False)
    net.classifier.requires_grad_(True)


def lora_model(seed: int = 0):
    net = base_model(seed)
    freeze_base(net)
    for layer in net.bert.encoder.layer:
        attn = layer.attention.self
        attn.query = LoRALinear(attn.query)
        attn.value = LoRALinear(attn.value)
    return net


def train_loader():
    return loader(TRAIN, batch_size=32, shuffle=True)


def val_loader():
    return loader(VAL, batch_size=64, shuffle=False)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
