"""Trial: a tiny GPT-2 from a config (nothing downloaded) on character windows of a small text,
the model computing its own loss from `labels`; AdamW with a warm-up + cosine schedule from
transformers; own checkpoint functions saving every RNG state, as the HF Trainer does."""

import random

import numpy as np
import torch
from _tryres_data import text_windows
from torch.utils.data import DataLoader
from transformers import GPT2Config, GPT2LMHeadModel, get_cosine_schedule_with_warmup

lr = 3e-3
causal = True


def model():
    _, vocab = text_windows()
    return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=32, n_embd=32, n_layer=2, n_head=2))


def _collate(rows):
    ids = torch.stack(rows)
    return {"input_ids": ids, "labels": ids}


def train_loader():
    windows, _ = text_windows()
    return DataLoader(list(windows[:128]), batch_size=16, shuffle=True, collate_fn=_collate)


def val_loader():
    windows, _ = text_windows()
    return DataLoader(list(windows[128:]), batch_size=16, collate_fn=_collate)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)


def scheduler(optimizer):
    return get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=5, num_training_steps=100)


def save_checkpoint(path, model, optimizer, scheduler=None):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.get_rng_state()}},
               path)


def load_checkpoint(path, model, optimizer, scheduler=None):
    ckpt = torch.load(path, weights_only=False)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    random.setstate(ckpt["rng"]["python"])
    np.random.set_state(ckpt["rng"]["numpy"])
    torch.set_rng_state(ckpt["rng"]["cpu"])
