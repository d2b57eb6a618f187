"""A resumable random sampler, written the way a training script writes one: each epoch is
shuffled by the sampler's own seed and the epoch number, and it counts the indices it has handed
out, so ``state_dict()`` says where the stream stands and ``load_state_dict()`` continues there
(what torchdata's StatefulDataLoader does for a whole loader)."""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


class ResumableRandomSampler(Sampler[int]):
    def __init__(self, n: int, seed: int | None = None):
        self.n = n
        self.seed = int(torch.randint(2**31 - 1, ())) if seed is None else seed  # drawn once, then saved
        self.epoch, self.done, self._start = 0, 0, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch)).tolist()
        self.done, self._start = self._start, 0
        for index in order[self.done:]:
            self.done += 1
            yield index
        self.epoch, self.done = self.epoch + 1, 0

    def state_dict(self) -> dict:
        if self.done == self.n:  # the epoch is used up: a resume starts the next one
            return {"seed": self.seed, "epoch": self.epoch + 1, "done": 0}
        return {"seed": self.seed, "epoch": self.epoch, "done": self.done}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.epoch, self._start = int(state["seed"]), int(state["epoch"]), int(state["done"])
