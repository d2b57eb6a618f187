"""Bug: a wrapper around the tiny GPT-2 that returns its loss detached (as when a loss is logged
with .item() and re-wrapped): nothing can train."""

import torch
from _hf import causal_batches, char_windows, gpt2

lr = 1e-3
TRAIN = char_windows(320)


class Logged(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lm = gpt2()

    def forward(self, input_ids, labels):
        out = self.lm(input_ids=input_ids, labels=labels)
        return {"loss": torch.tensor(out.loss.item()), "logits": out.logits}


model = Logged


def train_loader():
    return causal_batches(TRAIN, shuffle=True)
