"""Bug: the text classifier's labels were shuffled apart from their sentences (labels read from a
second file in another order): the dict batches pair every sentence with a random label."""

import random

from _textcls import BagOfEmbeddings, loader, samples

lr = 3e-3
TRAIN = samples(512)
labels = [label for _, label in TRAIN]
random.Random(1).shuffle(labels)
TRAIN = [(ids, label) for (ids, _), label in zip(TRAIN, labels)]
model = BagOfEmbeddings


def train_loader():
    return loader(TRAIN)
