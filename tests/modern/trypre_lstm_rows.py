"""Healthy (a new user's trial): an LSTM reading each digit row by row (8 steps of 8 pixels), the
last hidden state classified."""

from torch import nn
from trypre_data import digit_loader

num_classes = 10


class RowLSTM(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.lstm = nn.LSTM(8, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x):
        out, _ = self.lstm(x.reshape(-1, 8, 8))
        return self.head(out[:, -1])


model = RowLSTM
train_loader = lambda: digit_loader(batch_size=32)  # noqa: E731
