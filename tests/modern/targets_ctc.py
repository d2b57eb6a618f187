"""Healthy: a tiny GRU trained with CTC (nn.CTCLoss) on synthetic sequences of noisy one-hot frames.
The targets are a tuple (padded labels, input lengths, label lengths), as CTC needs them."""

import torch
from _targets_data import SYMBOLS, sequences
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 3e-3
X, LABELS, IN_LEN, LAB_LEN = sequences(1024, seed=0)


class Recogniser(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(SYMBOLS + 1, 64, batch_first=True, bidirectional=True)
        self.head = nn.Linear(128, SYMBOLS + 1)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.head(h).log_softmax(-1)  # (B, T, C)


model = Recogniser
ctc = nn.CTCLoss(blank=0, zero_infinity=True)


def forward(model, batch):
    x, labels, in_len, lab_len = batch
    return model(x), (labels, in_len, lab_len)


def loss_fn(log_probs, targets):
    labels, in_len, lab_len = targets
    return ctc(log_probs.transpose(0, 1), labels, in_len, lab_len)


def train_loader():
    return DataLoader(TensorDataset(X, LABELS, IN_LEN, LAB_LEN), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
