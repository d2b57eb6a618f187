"""A Lightning project checked by dlcheck: a small MLP on scikit-learn's digits.

    python docs/examples/lightning_digits.py                          # the callback, then training
    dlcheck run --lightning lightning_digits:LitDigits --datamodule lightning_digits:DigitsData
"""

import lightning.pytorch as L
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlcheck.integrations.lightning import DLCheck


class DigitsData(L.LightningDataModule):
    def setup(self, stage=None):
        x, y = load_digits(return_X_y=True)
        x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
        mean, std = x[:1400].mean(0), x[:1400].std(0).clamp_min(1e-3)  # the training set's statistics
        x = (x - mean) / std
        self.train, self.val = TensorDataset(x[:1400], y[:1400]), TensorDataset(x[1400:], y[1400:])

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=64, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=128)


class LitDigits(L.LightningModule):
    def __init__(self, lr=1e-3):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=10)}


if __name__ == "__main__":
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        callbacks=[DLCheck(checks=["init-loss", "overfit-small", "lr-find"], policy="stop_on_fail")])
    trainer.fit(LitDigits(), datamodule=DigitsData())
