"""Train/validation leakage (DLC715, data-check): digits split with train_test_split pass every
check on seeds 0-2 with the overlap measured at 0; a validation set carved from data training also
uses fails, named by position; photo patches under a random train augmentation are compared as the
datasets' items with their transforms switched off (put back afterwards), so the copies are still
found; where the overlap cannot be measured honestly (a random __getitem__, no val loader) dlcheck says why and never reports 0 %; identical records that the train set itself
repeats are a note, not a blamed split; loaders without an indexable dataset are compared batch
by batch, with that caveat."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

import dlcheck

MODERN = Path(__file__).resolve().parent / "modern"
FAST = {"data-check": {"pairing": False}}


def setup(name: str) -> str:
    return str(MODERN / f"{name}.py")


@functools.lru_cache(maxsize=None)
def data_check(name: str):
    return dlcheck.check("data-check", setup(name), device="cpu", seed=0, settings=FAST)


def found(result):
    return {f.code: f for f in result.findings}


def mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def table(n=240, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def loader(X, y, shuffle=False):
    return DataLoader(TensorDataset(X, y), batch_size=32, shuffle=shuffle)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_split_digits_pass_every_check(seed):
    rep = dlcheck.run(setup("leak_digits_split"), device="cpu", seed=seed)
    bad = {c.name: (c.status, c.summary, [(f.code, f.message) for f in c.findings if f.severity != "info"])
           for c in rep.checks if c.status in ("warn", "fail", "error")}
    assert not bad, bad
    dc = next(c for c in rep.checks if c.name == "data-check")
    leak = dc.details["leakage"]
    assert leak["measured"] and leak["train_samples"] == 1437 and leak["val_samples"] == 360
    assert leak["val_in_train"] == 0 and dc.metrics["val_in_train_share"] == 0
    assert "DLC715" not in found(dc) and "0 of 360 val samples found in train" in dc.summary


def test_a_validation_set_carved_from_the_training_data_fails():
    result = data_check("leak_bug_val_from_train")
    f = found(result)["DLC715"]
    assert result.status == "fail" and f.severity == "fail"
    assert "300 of 300 validation samples (100.0%)" in f.message
    assert "val item 1 (batch 0 sample 1) = train item 1" in f.message
    assert result.metrics["val_in_train"] == 300


def test_copies_are_found_through_a_random_train_augmentation():
    result = data_check("leak_bug_photo_aug")
    f = found(result)["DLC715"]
    assert f.severity == "fail" and "48 of 48 validation samples" in f.message
    assert result.details["leakage"]["compared"] == "dataset items with their transforms switched off"
    healthy = data_check("leak_photo_split")
    assert "DLC715" not in found(healthy) and healthy.status == "pass"
    assert healthy.details["leakage"]["val_in_train"] == 0 and healthy.details["leakage"]["train_samples"] == 144


def test_the_transforms_are_put_back():
    from torchvision import transforms as T

    class Noisy(Dataset):
        def __init__(self, X, transform):
            self.X, self.transform = X, transform

        def __len__(self):
            return len(self.X)

        def __getitem__(self, i):
            return self.transform(self.X[i]), 0

    X = table()[0]
    augment = T.Lambda(lambda x: x + 0.1 * torch.randn_like(x))
    train, val = Noisy(X, augment), Noisy(X[:40], augment)
    result = dlcheck.check("data-check", model=mlp, train_loader=DataLoader(train, batch_size=32),
                           val_loader=DataLoader(val, batch_size=32), settings=FAST)
    assert found(result)["DLC715"].severity == "fail" and result.metrics["val_in_train"] == 40
    assert train.transform is augment and val.transform is augment


def test_a_random_getitem_is_said_not_measured_never_zero():
    class Jitter(Dataset):  # the augmentation inside __getitem__, no transform to switch off
        def __init__(self, X):
            self.X = X

        def __len__(self):
            return len(self.X)

        def __getitem__(self, i):
            return self.X[i] + 0.1 * torch.randn(8), 0

    X = table()[0]
    result = dlcheck.check("data-check", model=mlp, train_loader=DataLoader(Jitter(X), batch_size=32),
                           val_loader=DataLoader(Jitter(X[:40]), batch_size=32), settings=FAST)
    note = found(result)["DLC710"]
    assert "overlap not measured" in note.message and "random augmentation inside __getitem__" in note.message
    assert "DLC715" not in found(result) and "val_in_train" not in result.metrics
    assert result.details["leakage"]["measured"] is False and "overlap not measured" in result.summary


def test_a_generator_factory_is_read_afresh_and_a_missing_val_loader_says_why():
    X, y = table()
    batches = lambda: ((X[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32))  # noqa: E731
    result = dlcheck.check("data-check", model=mlp, train_loader=batches, val_loader=batches, settings=FAST)
    assert "96 of 96" in found(result)["DLC715"].message and result.details["leakage"]["train_samples"] == 96
    alone = dlcheck.check("data-check", model=mlp, train_loader=loader(X, y), settings=FAST)
    assert alone.details["leakage"] == {"measured": False, "reason": "no val_loader was given"}
    assert not any("overlap" in f.message for f in alone.findings) and "val" not in alone.summary


def test_loaders_without_an_indexable_dataset_are_compared_batch_by_batch():
    class Stream(IterableDataset):
        def __init__(self, X, y):
            self.X, self.y = X, y

        def __iter__(self):
            return iter(zip(self.X, self.y))

    X, y = table()
    result = dlcheck.check("data-check", model=mlp, train_loader=DataLoader(Stream(X, y), batch_size=32),
                           val_loader=DataLoader(Stream(X[200:], y[200:]), batch_size=16), settings=FAST)
    f = found(result)["DLC715"]
    assert f.severity == "fail" and "40 of 40" in f.message and "val batch 0 sample 1 = train batch 6 sample 9" in f.message
    assert "as the loaders yield them" in result.details["leakage"]["caveat"]


def test_records_the_train_set_itself_repeats_are_a_note():
    X, y = table(60)
    X, y = X.repeat(4, 1), y.repeat(4)  # every record four times, as in a table with repeated rows
    order = torch.randperm(240, generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    result = dlcheck.check("data-check", model=mlp, train_loader=loader(X[:192], y[:192], shuffle=True),
                           val_loader=loader(X[192:], y[192:]), settings=FAST)
    f = found(result)["DLC715"]
    assert f.severity == "info" and "The train set itself repeats" in f.message
    assert result.status != "fail"


def test_the_share_decides_warn_or_fail_and_reading_is_capped():
    X, y = table(400)
    val = torch.cat([X[:6], table(194, seed=1)[0]]), torch.cat([y[:6], table(194, seed=1)[1]])
    result = dlcheck.check("data-check", model=mlp, train_loader=loader(X, y, shuffle=True),
                           val_loader=loader(*val), settings=FAST)
    assert found(result)["DLC715"].severity == "warn" and "6 of 200 validation samples (3.0%)" in \
        found(result)["DLC715"].message
    capped = dlcheck.check("data-check", model=mlp, train_loader=loader(X, y, shuffle=True), val_loader=loader(*val),
                           settings={"data-check": {"pairing": False, "leak_samples": 3}})
    leak = capped.details["leakage"]
    assert leak["train_samples"] == leak["val_samples"] == 3 and leak["val_in_train"] == 3
    assert "only the first 3 train samples read: a lower bound" in found(capped)["DLC715"].message
