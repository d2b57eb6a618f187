"""Bug: a `view` where a `permute` was meant, to make (batch, time, features) sequence-first: samples are scrambled."""

from _data import loader, standardised
from torch import nn

X, y = standardised("digits")
X = X.view(-1, 8, 8)  # each digit read as a sequence: 8 rows of 8 pixels, (N, T, D)


class RowEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 48)
        self.lstm = nn.LSTM(48, 48)  # sequence-first: (T, B, D)
        self.head = nn.Linear(48, 10)

    def forward(self, x):  # x: (B, T, D)
        h = self.embed(x)  # (B, T, 48)
        h = h.view(h.shape[1], h.shape[0], -1)  # meant h.permute(1, 0, 2): view keeps the memory order
        out, _ = self.lstm(h)  # (T, B, 48)
        return self.head(out[-1])


model = RowEncoder
train_loader = lambda: loader(X, y)
