"""Trial: a tiny T5 encoder-decoder built from a config, nothing downloaded: the encoder reads 24
characters of scikit-learn's DESCR texts (bidirectionally), the decoder writes the next 8 (causally);
T5ForConditionalGeneration shifts `labels` right into decoder_input_ids itself and computes its own loss.
Dict batches {input_ids, attention_mask, labels}."""

import torch
from _tryhf_data import char_windows
from torch.utils.data import DataLoader
from transformers import T5Config, T5ForConditionalGeneration

lr = 3e-3
SOURCE = 24


def model():
    _, vocab = char_windows()
    return T5ForConditionalGeneration(T5Config(vocab_size=vocab, d_model=32, d_kv=16, d_ff=64, num_layers=2,
                                               num_decoder_layers=2, num_heads=2, pad_token_id=0, eos_token_id=None,
                                               decoder_start_token_id=0, relative_attention_num_buckets=8))


def collate(rows):
    windows = torch.stack(rows)
    ids = windows[:, :SOURCE].contiguous()
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": windows[:, SOURCE:].contiguous()}


def train_loader():
    windows, _ = char_windows()
    return DataLoader(list(windows[:256]), batch_size=16, shuffle=True, collate_fn=collate)


def val_loader():
    windows, _ = char_windows()
    return DataLoader(list(windows[640:]), batch_size=16, collate_fn=collate)
