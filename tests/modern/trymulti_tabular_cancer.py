"""Healthy tabular: breast cancer as a table, five measurements binned into quintiles (integer
codes, one nn.Embedding each), the other 25 standardised; batches are dicts
{"cat": LongTensor, "num": FloatTensor, "y": LongTensor} and the model's forward(cat, num)."""

import torch
from _trymulti_data import CAT_BINS, CAT_COLUMNS, cancer_table
from torch import nn
from torch.utils.data import DataLoader, Dataset

lr = 1e-3
CAT, NUM, Y = cancer_table()


class Rows(Dataset):
    def __init__(self, sl):
        self.cat, self.num, self.y = CAT[sl], NUM[sl], Y[sl]

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"cat": self.cat[i], "num": self.num[i], "y": self.y[i]}


class TabularNet(nn.Module):
    def __init__(self, dim: int = 4):
        super().__init__()
        self.embeds = nn.ModuleList(nn.Embedding(CAT_BINS, dim) for _ in CAT_COLUMNS)
        width = dim * len(CAT_COLUMNS) + NUM.shape[1]
        self.mlp = nn.Sequential(nn.Linear(width, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, cat, num):
        e = torch.cat([emb(cat[:, i]) for i, emb in enumerate(self.embeds)], 1)
        return self.mlp(torch.cat([e, num], 1))


model = TabularNet


def train_loader():
    return DataLoader(Rows(slice(0, 455)), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(Rows(slice(455, None)), batch_size=128)


def forward(model, batch):
    return model(batch["cat"], batch["num"]), batch["y"]
