"""Healthy: the wine table again, with the dataset's own column names: batches are dicts
{'codes', 'measurements', 'cultivar'}, none of them a name dlcheck knows, so the target file says
which key holds the main inputs and which the targets."""

from _dicts_data import Embedded, loaders, split

lr = 3e-3
input_key = "measurements"
target_key = "cultivar"


class TabularNet(Embedded):
    def forward(self, codes, measurements):
        return self.encode(codes, measurements)


model = TabularNet
train_loader, val_loader = loaders(*split(("codes", "measurements", "cultivar")))
