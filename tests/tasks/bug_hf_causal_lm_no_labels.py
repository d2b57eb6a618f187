"""Bug: the tiny GPT-2 of ok_hf_causal_lm, but its batches hold input_ids only: without labels a
Hugging Face model computes no loss."""

from _hf import causal_batches, char_windows, gpt2

lr = 1e-3
TRAIN = char_windows(320)
model = gpt2


def train_loader():
    return causal_batches(TRAIN, shuffle=True, labels=False)
