"""A Hugging Face Trainer checked by dlcheck: a tiny BERT (random weights from a config, nothing
downloaded) classifying synthetic sentiment-like token sequences.

    python docs/examples/hf_trainer_tokens.py                       # the callback, then training
    dlcheck run --hf-trainer hf_trainer_tokens:make_trainer --checks init-loss,overfit-small
"""

import tempfile

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from dlcheck.integrations.transformers import DLCheckCallback

WORDS = 60  # ids 1..20 positive, 21..40 negative, 41..60 neutral; 0 is padding


def sentences(n, seed):
    """n {'input_ids', 'labels'}: label 1 when a sentence holds more positive than negative words."""
    g, out = torch.Generator().manual_seed(seed), []
    while len(out) < n:
        ids = torch.randint(1, WORDS + 1, (int(torch.randint(5, 17, (1,), generator=g)),), generator=g)
        pos, neg = int((ids <= 20).sum()), int(((ids > 20) & (ids <= 40)).sum())
        if pos != neg:
            out.append({"input_ids": ids, "labels": int(pos > neg)})
    return out


def collate(rows):
    """Pads each batch to its longest sentence; the model computes its loss from 'labels'."""
    longest = max(len(r["input_ids"]) for r in rows)
    ids = torch.zeros(len(rows), longest, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r["input_ids"])] = r["input_ids"]
    return {"input_ids": ids, "attention_mask": (ids != 0).long(),
            "labels": torch.tensor([r["labels"] for r in rows])}


def make_model():
    config = BertConfig(vocab_size=WORDS + 1, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=64, num_labels=2)
    return BertForSequenceClassification(config)


def make_trainer(model=None, callbacks=(), output_dir=None, max_steps=20):
    args = TrainingArguments(output_dir=output_dir or tempfile.mkdtemp(), max_steps=max_steps,
                             per_device_train_batch_size=32, learning_rate=1e-3, report_to=[], use_cpu=True,
                             save_strategy="no", logging_steps=1, seed=0)
    return Trainer(model=model or make_model(), args=args, data_collator=collate,
                   train_dataset=sentences(512, seed=0), eval_dataset=sentences(128, seed=1),
                   callbacks=list(callbacks))


if __name__ == "__main__":
    trainer = make_trainer(callbacks=[DLCheckCallback(checks=["init-loss", "overfit-small"], policy="stop_on_fail")])
    trainer.train()
