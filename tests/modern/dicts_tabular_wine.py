"""Healthy: wine as a table (three binned columns embedded, ten numeric ones), batches are dicts
{'cat', 'num', 'labels'} from a Dataset of dict rows, and the model's forward(cat, num) takes its
inputs by name, the way the Hugging Face Trainer hands them over."""

from _dicts_data import Embedded, loaders, split

lr = 3e-3
num_classes = 3


class TabularNet(Embedded):
    def forward(self, cat, num):
        return self.encode(cat, num)


model = TabularNet
train_loader, val_loader = loaders(*split())
