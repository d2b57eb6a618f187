"""Bug: an LSTM without batch_first=True fed (batch, time, features): it runs along the batch."""

from _data import loader, standardised
from torch import nn

X, y = standardised("digits")
X = X.view(-1, 8, 8)  # each digit read as a sequence: 8 rows of 8 pixels, (N, T, D)


class RowLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 48)  # batch_first defaults to False: it reads (T, B, D)
        self.head = nn.Linear(48, 10)

    def forward(self, x):  # x: (B, T, D)
        out, _ = self.lstm(x)  # treats B as time and T as the batch
        return self.head(out[:, -1])


model = RowLSTM
train_loader = lambda: loader(X, y)
