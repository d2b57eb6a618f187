"""Trial: a tiny Llama (RoPE, RMSNorm, SwiGLU, grouped-query attention) built from a config, nothing
downloaded, on character windows of scikit-learn's DESCR texts; the model computes its own shifted
next-token loss from `labels` = input_ids. AdamW with a warm-up + cosine schedule from transformers."""

import torch
from _tryhf_data import char_windows
from torch.utils.data import DataLoader
from transformers import LlamaConfig, LlamaForCausalLM, get_cosine_schedule_with_warmup

lr = 3e-3
causal = True


def model():
    _, vocab = char_windows()
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=1, intermediate_size=64, max_position_embeddings=64,
                                        pad_token_id=0, bos_token_id=None, eos_token_id=None))


def collate(rows):
    ids = torch.stack(rows)
    return {"input_ids": ids, "labels": ids}


def train_loader():
    windows, _ = char_windows()
    return DataLoader(list(windows[:256]), batch_size=16, shuffle=True, collate_fn=collate)


def val_loader():
    windows, _ = char_windows()
    return DataLoader(list(windows[640:]), batch_size=16, collate_fn=collate)


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)


def scheduler(optimizer):
    return get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=5, num_training_steps=100)
