"""Healthy (a new user's trial): a tiny Hugging Face GPT-2 from a config (random weights, nothing
downloaded) computing its own loss from `labels` in a dict batch; the tokens are the digits' pixel
rows quantised to 17 levels, read as sequences of 64."""

import torch
from torch.utils.data import DataLoader
from trypre_data import digits

lr = 1e-3


def model():
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(vocab_size=17, n_positions=64, n_embd=64, n_layer=2, n_head=4,
                                      bos_token_id=0, eos_token_id=0))


def train_loader():
    X, _ = digits()
    ids = (X.reshape(-1, 64) * 16).round().long()[:512]

    def collate(rows):
        batch = torch.stack(rows)
        return {"input_ids": batch, "labels": batch.clone()}

    return DataLoader(list(ids), batch_size=16, shuffle=True, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0))
