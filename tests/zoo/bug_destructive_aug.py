"""Bug: RandomErasing that wipes out 90-100 % of every image."""

from _data import PatchDataset
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms as T

train_transform = T.Compose([
    T.RandomHorizontalFlip(),
    T.ToTensor(),
    T.Normalize((0.37, 0.40, 0.36), (0.36, 0.30, 0.32)),
    T.RandomErasing(p=1.0, scale=(0.9, 1.0)),
])
model = lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
train_loader = lambda: DataLoader(PatchDataset(train_transform), batch_size=32, shuffle=True)
