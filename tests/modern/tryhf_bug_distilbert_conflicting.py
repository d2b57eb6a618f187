"""Bug: tryhf_distilbert without its clean-up: the donor's address line of the iris description is also in
the wine one, so one sentence comes twice in training with two labels (and two more repeat with the same
label). Each copy is padded to the longest sentence of its own batch, so their padded rows differ:
data-check must still see them as one sample (DLC708), and overfit-small cannot memorise both labels."""

from torch.utils.data import DataLoader
from tryhf_distilbert import _rows, collate, lr, model  # noqa: F401


def train_loader():
    return DataLoader(_rows("train", conflicts=True), batch_size=16, shuffle=True, collate_fn=collate)


def val_loader():
    return DataLoader(_rows("val", conflicts=True), batch_size=16, collate_fn=collate)
