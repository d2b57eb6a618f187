"""Healthy: a tiny BertForSequenceClassification built from a config (nothing downloaded) on digit
pixels as tokens; the model computes its own loss from `labels`."""

from transformers import BertConfig, BertForSequenceClassification
from tryfix_data import dict_loader, tokens

lr = 1e-3
ids, labels = tokens()
CONFIG = dict(vocab_size=20, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
              max_position_embeddings=64, num_labels=10)


def model():
    return BertForSequenceClassification(BertConfig(**CONFIG))


train_loader = lambda: dict_loader(ids, labels)
