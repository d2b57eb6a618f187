"""Bug: the photo set-up whose validation patches are the first 48 of the patches training also
uses (all of them). The random train augmentation makes every read differ, so comparing the batches
would find nothing; the datasets' items read without their transforms show the copies (DLC715)."""

import torch
from _leak_data import Patches, cnn
from leak_photo_split import augment, labels, patches, plain
from torch.utils.data import DataLoader

model = cnn


def train_loader():
    return DataLoader(Patches(patches, labels, augment), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(Patches(patches[:48], labels[:48], plain), batch_size=32)
