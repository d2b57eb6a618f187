"""Healthy: LoRA fine-tuning of a tiny BERT classifier (tests/modern/_trylora_data.py): base frozen,
r=8 alpha=16 adapters on query and value, the head trainable, AdamW at a LoRA-typical lr."""

from _trylora_data import lora_model, optimizer, train_loader, val_loader  # noqa: F401

lr = 5e-3
model = lora_model
