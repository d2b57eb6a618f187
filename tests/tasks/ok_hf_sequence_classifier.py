"""Healthy: a tiny Hugging Face BERT sequence classifier (random weights from a config) on the
sentiment-like sentences of _textcls, dict batches {'input_ids', 'attention_mask', 'labels'}; the
model returns SequenceClassifierOutput(loss, logits (B, 2)), its own cross-entropy."""

from _hf import bert_config
from _textcls import WORDS, loader, samples

lr = 1e-3
TRAIN, VAL = samples(512), samples(128, seed=1)


def model():
    from transformers import BertForSequenceClassification

    return BertForSequenceClassification(bert_config(WORDS + 1, num_labels=2))


def train_loader():
    return loader(TRAIN)


def val_loader():
    return loader(VAL, shuffle=False)
