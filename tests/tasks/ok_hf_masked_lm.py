"""Healthy: a tiny Hugging Face BERT masked LM (random weights from a config): 15 % of the
characters replaced by [MASK], labels -100 everywhere else; the model returns MaskedLMOutput(loss,
logits (B, T, V)), its loss over the masked positions only."""

from _charlm import VOCAB
from _hf import bert_config, char_windows, masked_batches

lr = 1e-3
TRAIN, VAL = char_windows(320), char_windows(64, seed=1)


def model():
    from transformers import BertForMaskedLM

    return BertForMaskedLM(bert_config(VOCAB + 1))


def train_loader():
    return masked_batches(TRAIN, shuffle=True)


def val_loader():
    return masked_batches(VAL, shuffle=False, seed=1)
