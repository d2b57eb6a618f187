"""Healthy: LoRA on a tiny GPT2ForSequenceClassification from a config (base frozen, a fresh
score head): r=8 alpha=16 adapters on every block's fused c_attn projection, Hugging Face's Conv1D
(weight stored (in, out)), the base's init standing in for pretrained weights; AdamW at 5e-3."""

import math

import torch
from _trylora_data import ALPHA, R, WORDS, optimizer, train_loader, val_loader  # noqa: F401
from torch import nn

lr = 5e-3


class LoRAConv1D(nn.Module):
    """base(x) + x A^T B^T * alpha / r around a Conv1D (nx inputs, nf outputs); B starts at zero."""

    def __init__(self, base, r: int = R, alpha: int = ALPHA):
        super().__init__()
        self.base = base
        nx, nf = base.weight.shape
        self.lora_A = nn.Parameter(torch.empty(r, nx))
        self.lora_B = nn.Parameter(torch.zeros(nf, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale


def model():
    from transformers import GPT2Config, GPT2ForSequenceClassification

    config = GPT2Config(vocab_size=WORDS + 1, n_positions=32, n_embd=64, n_layer=2, n_head=4, num_labels=2,
                        pad_token_id=0, bos_token_id=0, eos_token_id=0)
    with torch.random.fork_rng():  # the same base whatever the run's seed, as pretrained weights are
        torch.manual_seed(0)
        net = GPT2ForSequenceClassification(config)
    net.requires_grad_(False)
    nn.init.normal_(net.score.weight, std=config.initializer_range)  # a fresh head, trainable
    net.score.requires_grad_(True)
    for block in net.transformer.h:
        block.attn.c_attn = LoRAConv1D(block.attn.c_attn)
    return net
