"""Healthy (a new user's trial): a tiny Hugging Face BERT sequence classifier from a config, its own
loss from `labels`, dict batches {input_ids, attention_mask, labels}: each digit's 64 pixels
quantised to 17 levels (token ids 1..17), the class its label."""

import torch
from torch.utils.data import DataLoader
from trypre_data import digits

lr = 1e-3


def model():
    from transformers import BertConfig, BertForSequenceClassification

    return BertForSequenceClassification(BertConfig(vocab_size=18, hidden_size=64, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=128,
                                                    max_position_embeddings=64, num_labels=10))


def train_loader():
    X, y = digits()
    ids = (X.reshape(-1, 64) * 16).round().long()[:512] + 1
    rows = list(zip(ids, y[:512]))

    def collate(items):
        input_ids = torch.stack([i for i, _ in items])
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
                "labels": torch.stack([l for _, l in items])}

    return DataLoader(rows, batch_size=16, shuffle=True, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0))
