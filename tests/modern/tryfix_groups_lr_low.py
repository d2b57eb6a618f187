"""Bug: the param-group optimizer of tryfix_groups_ok at lr 1e-6 (a typo: 1e-6 for 1e-3): the loss
does not fall (DLC201) and lr-find says the LR is far below its suggestion (DLC303)."""

from tryfix_groups_ok import X, Net, loader, num_classes, optimizer, y  # noqa: F401

lr = 1e-6
model = Net
train_loader = lambda: loader(X, y, batch_size=32)
