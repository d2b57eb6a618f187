"""Data shared by the tryhf_ set-ups (Hugging Face families tried as a new user would): the DESCR texts
that ship with scikit-learn's bundled data sets, as character windows (a causal LM, a seq2seq
continuation) or as word-level sentences labelled by the data set they describe (a classifier with real
padding); scikit-learn's digits upsampled to 3x32x32 for a ViT. Nothing is downloaded."""

from __future__ import annotations

import functools
import re

import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine

SOURCES = (load_iris, load_wine, load_breast_cancer, load_digits, load_diabetes)
PAD = 0


@functools.lru_cache(maxsize=None)
def descr_texts() -> tuple[str, ...]:
    """Each bundled data set's description, lower-cased, tables and rules dropped, whitespace collapsed."""
    texts = []
    for load in SOURCES:
        lines = [ln for ln in load().DESCR.splitlines() if ln.strip() and not set(ln.strip()) <= set("=-:. ")]
        texts.append(re.sub(r"\s+", " ", " ".join(lines).lower()))
    return tuple(texts)


@functools.lru_cache(maxsize=None)
def char_ids() -> tuple[torch.Tensor, int]:
    """The texts as one stream of character ids (0 is padding, never in the stream), and the vocab size."""
    text = " ".join(descr_texts())
    vocab = sorted(set(text))
    lookup = {ch: i + 1 for i, ch in enumerate(vocab)}
    return torch.tensor([lookup[ch] for ch in text]), len(vocab) + 1


@functools.lru_cache(maxsize=None)
def char_windows(length: int = 32, stride: int = 16) -> tuple[torch.Tensor, int]:
    ids, vocab = char_ids()
    return torch.stack([ids[s:s + length] for s in range(0, len(ids) - length, stride)]), vocab


@functools.lru_cache(maxsize=None)
def sentences(min_words: int = 4, max_words: int = 20,
              conflicts: bool = False) -> tuple[list[torch.Tensor], torch.Tensor, int]:
    """Word-level sentences of varied length (ids from 2; 0 padding, 1 unused), each labelled by the data
    set whose description it comes from (iris, wine, breast cancer, digits, diabetes). A sentence found
    in two descriptions (the donor's address line of iris and wine) cannot be told apart: dropped unless
    ``conflicts``."""
    rows, labels = [], []
    for label, text in enumerate(descr_texts()):
        for sentence in re.split(r"[.;:]\s", text):
            words = re.findall(r"[a-z0-9]+", sentence)
            if min_words <= len(words) <= max_words:
                rows.append(words)
                labels.append(label)
    vocab = {w: i + 2 for i, w in enumerate(sorted({w for r in rows for w in r}))}  # the same ids either way
    if not conflicts:
        owners: dict[tuple, set] = {}
        for words, label in zip(rows, labels):
            owners.setdefault(tuple(words), set()).add(label)
        kept = [i for i, words in enumerate(rows) if len(owners[tuple(words)]) == 1]
        rows, labels = [rows[i] for i in kept], [labels[i] for i in kept]
    return [torch.tensor([vocab[w] for w in r]) for r in rows], torch.tensor(labels), len(vocab) + 2


def pad_batch(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pads to the longest row of the batch (dynamic padding, as DataCollatorWithPadding does)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return ids, mask
