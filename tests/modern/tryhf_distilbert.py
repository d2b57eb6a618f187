"""Trial: a tiny DistilBERT sequence classifier built from a config, nothing downloaded: sentences of
scikit-learn's DESCR texts (word-level ids) labelled by the data set they describe (5 classes, unbalanced),
a sentence found under two labels dropped,
padded to the longest sentence of each batch with a real attention_mask; the model computes its own loss
from `labels`. Dict batches {input_ids, attention_mask, labels}."""

import torch
from _tryhf_data import pad_batch, sentences
from torch.utils.data import DataLoader
from transformers import DistilBertConfig, DistilBertForSequenceClassification

lr = 1e-3


def model():
    _, _, vocab = sentences()
    return DistilBertForSequenceClassification(DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=2,
                                                                hidden_dim=64, max_position_embeddings=32,
                                                                pad_token_id=0, num_labels=5))


def collate(items):
    ids, mask = pad_batch([r for r, _ in items])
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.stack([l for _, l in items])}


def _rows(part, conflicts=False):
    rows, labels, _ = sentences(conflicts=conflicts)
    return [(rows[i], labels[i]) for i in range(len(rows)) if (i % 5 == 4) == (part == "val")]


def train_loader():
    return DataLoader(_rows("train"), batch_size=16, shuffle=True, collate_fn=collate)


def val_loader():
    return DataLoader(_rows("val"), batch_size=16, collate_fn=collate)
