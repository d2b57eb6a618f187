"""Bug: BatchNorm with momentum=0: running statistics never move from their initial values."""

from _data import standardised
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = standardised("digits")
X = X * 3 + 2  # inputs not at mean 0 / var 1, so the frozen running stats are wrong


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 128, bias=False)
        self.bn = nn.BatchNorm1d(128, momentum=0.0)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        return self.out(self.bn(self.fc(x)).relu())


model = Net
train_loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)
