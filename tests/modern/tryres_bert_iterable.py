"""Trial: a tiny BERT classifier from a config (nothing downloaded) computing its own loss from
`labels`, fed by an IterableDataset that streams shuffled windows (no len(): the loader's epoch is
unknown); Adam with a LinearLR warm-up; dlcheck's default checkpointing."""

import torch
from _tryres_data import text_windows
from torch.utils.data import DataLoader, IterableDataset
from transformers import BertConfig, BertForSequenceClassification

num_classes = 2
lr = 1e-3


class Windows(IterableDataset):
    """Windows of the text, labelled by whether they hold the letter 'q', in a fresh random order each pass."""

    def __init__(self, start, stop, shuffle):
        self.start, self.stop, self.shuffle = start, stop, shuffle

    def __iter__(self):
        windows, _ = text_windows()
        idx = torch.randperm(self.stop - self.start) if self.shuffle else torch.arange(self.stop - self.start)
        for i in idx.tolist():
            w = windows[self.start + i]
            yield {"input_ids": w, "labels": int((w == 16).any())}


def model():
    _, vocab = text_windows()
    return BertForSequenceClassification(BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=2, intermediate_size=64,
                                                    max_position_embeddings=32, num_labels=num_classes))


def train_loader():
    return DataLoader(Windows(0, 128, shuffle=True), batch_size=16)


def val_loader():
    return DataLoader(Windows(128, 155, shuffle=False), batch_size=16)


def scheduler(optimizer):
    return torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=10)
