"""Trial: a LightningModule (a CNN with BatchNorm and dropout on 8x8 digits) whose
configure_optimizers returns SGD with momentum and a per-step cosine schedule
({"interval": "step"}); the RNG states are kept in on_save_checkpoint / on_load_checkpoint, as
Lightning's docs advise for exact resumes.

    dlcheck run --lightning tryres_lightning:LitCNN --checks resume
"""

import lightning.pytorch as L
import torch
from _tryres_data import digit_images
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitCNN(L.LightningModule):
    def __init__(self, lr=0.05):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Flatten(), nn.Dropout(0.25), nn.Linear(16 * 16, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def train_dataloader(self):
        X, y = digit_images()
        return DataLoader(TensorDataset(X[:320], y[:320]), batch_size=32, shuffle=True)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint):
        checkpoint["rng"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint):
        torch.set_rng_state(checkpoint["rng"])


class LitCNNNoRng(LitCNN):
    """The same module as most Lightning scripts write it: no RNG state in the checkpoint."""

    def on_save_checkpoint(self, checkpoint):
        pass

    def on_load_checkpoint(self, checkpoint):
        pass
