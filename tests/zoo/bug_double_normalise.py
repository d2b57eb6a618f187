"""Bug: Normalize applied twice (once in the pipeline, once more appended by a wrapper)."""

from _data import PatchDataset
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import transforms as T

normalize = T.Normalize((0.37, 0.40, 0.36), (0.36, 0.30, 0.32))
base = T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), normalize])
pipeline = T.Compose([base, normalize])
model = lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
train_loader = lambda: DataLoader(Subset(PatchDataset(pipeline), range(160)), batch_size=32, shuffle=True)
