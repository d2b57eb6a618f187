"""Healthy: a binary text classifier with Hugging Face style dict batches {'input_ids',
'attention_mask', 'labels'} (padded variable-length sentences of a synthetic sentiment-like vocabulary task);
the model's forward(input_ids, attention_mask) mean-pools its embeddings over the mask."""

from _textcls import BagOfEmbeddings, loader, samples

lr = 3e-3
TRAIN = samples(512)
VAL = samples(128, seed=1)
model = BagOfEmbeddings


def train_loader():
    return loader(TRAIN)


def val_loader():
    return loader(VAL, shuffle=False)
