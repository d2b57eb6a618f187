"""Bug: the tiny GPT-2 of ok_hf_causal_lm with its (tied) token embedding, and so its LM head,
scaled x30 at init: logits far too large, an initial loss far above ln V."""

import torch
from _hf import causal_batches, char_windows, gpt2

lr = 1e-3
TRAIN = char_windows(320)


def model():
    net = gpt2()
    with torch.no_grad():
        net.lm_head.weight.mul_(30)
    return net


def train_loader():
    return causal_batches(TRAIN, shuffle=True)
