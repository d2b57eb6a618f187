"""curves' measuring: train one configuration at a constant LR, a point (train and val loss and
accuracy) at init and after every epoch or K steps; Ctrl-C ends the training, not the check."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from dlcheck.context import Context
from dlcheck.task import References
from dlcheck.training import (Rewind, Trainer, all_finite, configured_weight_decay, evaluate, progress,
                              set_weight_decay, steps_per_epoch)


@dataclass
class Curves:
    """What curves measured: one point per measurement, the first at initialisation."""

    points: list[dict] = field(default_factory=list)
    refs: References = field(default_factory=References)
    per_epoch: int = 1
    planned: int = 0  # steps planned
    steps: int = 0  # steps trained
    diverged_at: int | None = None
    interrupted: bool = False
    out_of_time: bool = False
    lr: float = 0.0  # the learning rate trained at
    losses: list[float] = field(default_factory=list)  # the training loss of every step, in order

    def series(self, key: str) -> list[float]:
        return [p[key] for p in self.points]

    @property
    def floor(self) -> float:
        return self.refs.floor if self.refs.floor is not None else 0.0


def _train(ctx: Context, rewind: Rewind) -> Curves:
    s = ctx.settings
    per_epoch = steps_per_epoch(ctx)
    rewind()
    total = int(s["epochs"]) * per_epoch
    every = int(s["every"]) if s["every"] else per_epoch
    wd = s["weight_decay"]
    c = Curves(per_epoch=per_epoch, planned=total, lr=ctx.lr)
    with ctx.model() as model:
        model.train()
        train_sample = ctx.batches(int(s["train_batches"])) if int(s["train_batches"]) > 0 else None
        rewind()  # the sample read the loader: training starts from the order a fresh loader gives
        optimizer = ctx.optimizer(model.parameters())
        if wd is not None:
            set_weight_decay(optimizer, float(wd))
        ctx.result.metrics.update({"lr": ctx.lr, "weight_decay": float(wd) if wd is not None
                                   else configured_weight_decay(ctx), "planned_epochs": int(s["epochs"]),
                                   "steps_per_epoch": per_epoch})
        trainer = Trainer(ctx, model, optimizer)
        first = _point(ctx, model, c, 0, train_sample, None, refs=True)
        c.points.append(first)
        chunk = max(1, int(s["chunk"]))
        pending, since, done = [], [], 0
        try:
            with progress(ctx, total, "curves: epoch 1") as update:
                for index, batch in ctx.stream(total):
                    pending.append(trainer.step(batch, index).loss.float())
                    done += 1
                    update(1, f"curves: epoch {min(done // per_epoch + 1, int(s['epochs']))} of {s['epochs']}")
                    at_point = done % every == 0 or done == total
                    if done % chunk and not at_point:
                        continue
                    ok, bad = all_finite(pending)
                    if not ok:
                        c.diverged_at = done - len(pending) + bad + 1
                        break
                    c.losses += torch.stack(pending).tolist()
                    since += pending
                    pending = []
                    if at_point:
                        c.points.append(_point(ctx, model, c, done, train_sample, since))
                        since = []
                        if not math.isfinite(c.points[-1]["val_loss"]):
                            c.diverged_at = done
                            break
                    if ctx.out_of_time() and done < total:
                        c.out_of_time = True
                        break
        except KeyboardInterrupt:  # Ctrl-C: read the curves trained so far
            c.interrupted = True
        c.steps = done
        if not c.interrupted and c.diverged_at is None and since and c.points[-1]["step"] != done:
            c.points.append(_point(ctx, model, c, done, train_sample, since))  # the budget's last stretch
    return c


def _point(ctx: Context, model, c: Curves, step: int, train_sample, since, refs: bool = False) -> dict:
    s = ctx.settings
    val = evaluate(ctx, model, batches=s["val_batches"], refs=refs)
    if refs:
        c.refs = val.refs
    train = evaluate(ctx, model, fixed=train_sample) if train_sample else None
    running = float(torch.stack(since).mean()) if since else None
    return {"step": step, "epoch": round(step / c.per_epoch, 4),
            "train_loss": running if running is not None else (train.loss if train else None),
            "train_eval_loss": train.loss if train else running,
            "train_accuracy": train.accuracy if train else None,
            "val_loss": val.loss, "val_accuracy": val.accuracy}
