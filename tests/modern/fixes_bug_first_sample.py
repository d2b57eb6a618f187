"""Bug the LR fix does not help: the Dataset returns the first sample's pixels for every index
(``self.X[0]`` for ``self.X[i]``), so the model sees one input with imbalanced labels (60 / 30 / 10 %):
the loss falls from ln(3) to the label entropy and stalls there (DLC205). lr-find does suggest an
LR, but no LR memorises labels the inputs do not carry: the fix is tried and not verified."""

from _fixes_data import X, y
from torch.utils.data import DataLoader, Dataset

from torch import nn

num_classes = 3


class Digits(Dataset):
    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.X[0], self.y[i]  # the bug: meant self.X[i]


def model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 3))


train_loader = lambda: DataLoader(Digits(X[:240], y[:240]), batch_size=32, shuffle=False)
