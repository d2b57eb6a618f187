"""Healthy: a tiny Hugging Face GPT-2 (random weights from a config) that computes its own loss:
batches {'input_ids', 'labels'} with labels = input_ids; the model shifts them by one inside and
returns CausalLMOutput(loss, logits (B, T, V)). No loss_fn: the model's loss is the loss."""

from _hf import causal_batches, char_windows, gpt2

lr = 1e-3
TRAIN, VAL = char_windows(320), char_windows(64, seed=1)
model = gpt2


def train_loader():
    return causal_batches(TRAIN, shuffle=True)


def val_loader():
    return causal_batches(VAL, shuffle=False)
