"""A planted bug (resumefw_lit_ok's twin): the running input mean is a plain tensor attribute,
not a buffer, so Lightning's checkpoint (the state_dict) does not hold it and a resumed run
standardises with the fresh zeros (DLC962).

    dlcheck run --lightning resumefw_lit_bug_plain_attribute:LitDigits --checks resume
"""

import lightning.pytorch as L
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def digits_loader():
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:1280], dtype=torch.float32), torch.tensor(y[:1280])
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-3)
    return DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)


class LitDigits(L.LightningModule):
    def __init__(self, lr=1e-3):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
        self.mean = torch.zeros(64)  # running input mean, updated while training: a plain attribute

    def standardise(self, x):
        if self.training:
            with torch.no_grad():
                self.mean.mul_(0.9).add_(0.1 * x.mean(0))
        return x - self.mean

    def forward(self, x):
        return self.net(self.standardise(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def train_dataloader(self):
        return digits_loader()

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=10)}

    def on_save_checkpoint(self, checkpoint):
        checkpoint["rng"] = torch.get_rng_state()  # dropout and the loader's shuffle draw from it

    def on_load_checkpoint(self, checkpoint):
        torch.set_rng_state(checkpoint["rng"])
