"""Planted bugs in the Lightning example (for the tests): the last layer's weights x50, a frozen model."""

import torch

from lightning_digits import LitDigits


class LitDigitsHot(LitDigits):
    def __init__(self):
        super().__init__()
        with torch.no_grad():
            self.net[-1].weight.mul_(50)


class LitDigitsFrozen(LitDigits):
    def __init__(self):
        super().__init__()
        self.net.requires_grad_(False)
        self.net[-1].bias.requires_grad_(True)  # something to optimize, as in a half-done freeze

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
