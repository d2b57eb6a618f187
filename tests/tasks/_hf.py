"""Tiny Hugging Face models built from configs (random weights, nothing downloaded) that compute
their own loss from ``labels`` in the batch, on the task set-ups' data: the character windows of
_charlm (the DESCR texts of scikit-learn's datasets) and the sentiment-like sentences of _textcls."""

from __future__ import annotations

import torch
from _charlm import IDS, T, VOCAB
from torch.utils.data import DataLoader

MASK = VOCAB  # the [MASK] token of the masked LM: one id past the characters


def char_windows(n: int, seed: int = 0) -> torch.Tensor:
    """n windows of T characters at random offsets."""
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(IDS) - T, (n,), generator=g)
    return torch.stack([IDS[s:s + T] for s in starts.tolist()])


def causal_batches(windows: torch.Tensor, shuffle: bool, labels: bool = True) -> DataLoader:
    """{'input_ids', 'labels'} with labels = input_ids: the model shifts them itself."""
    def collate(rows):
        ids = torch.stack(rows)
        return {"input_ids": ids, "labels": ids.clone()} if labels else {"input_ids": ids}

    return DataLoader(list(windows), batch_size=32, shuffle=shuffle, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)


def masked_batches(windows: torch.Tensor, shuffle: bool, rate: float = 0.15, seed: int = 0) -> DataLoader:
    """BERT-style masking, drawn once per window (fixed, so that a tiny subset can be memorised):
    a share ``rate`` of the characters replaced by [MASK]; labels -100 everywhere else."""
    g = torch.Generator().manual_seed(seed)
    masked = torch.rand(windows.shape, generator=g) < rate
    masked[:, 0] |= ~masked.any(1)  # at least one masked character per window
    inputs = torch.where(masked, torch.full_like(windows, MASK), windows)
    labels = torch.where(masked, windows, torch.full_like(windows, -100))
    items = list(zip(inputs, labels))

    def collate(rows):
        return {"input_ids": torch.stack([r[0] for r in rows]), "labels": torch.stack([r[1] for r in rows])}

    return DataLoader(items, batch_size=32, shuffle=shuffle, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)


def gpt2(vocab: int = VOCAB):
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=T, n_embd=64, n_layer=2, n_head=4,
                                      bos_token_id=0, eos_token_id=0))


def bert_config(vocab: int, **kw):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=128, max_position_embeddings=64, **kw)
