"""grid's trials: the cells, one trial's outcome as the storage holds it, the epoch plan, and the
trial runner (the same initial weights and batch order for every cell; the user's optimizer at the
cell's LR and weight decay; the val loss reported to Optuna's pruner as it trains)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.results import rounded
from dlcheck.training import Evaluation, Rewind, Trainer, all_finite, evaluate, set_weight_decay


@dataclass(frozen=True)
class Cell:
    lr: float
    wd: float

    @property
    def key(self) -> str:
        return f"lr={self.lr!r},wd={self.wd!r}"


@dataclass
class Outcome:
    """One trial, as the storage holds it (user attributes) and the report shows it."""

    cell: Cell
    status: str  # done | pruned | diverged | cut (budget) | not run
    val_loss: float | None = None
    val_accuracy: float | None = None
    train_loss: float | None = None
    best_val_loss: float | None = None
    steps: int = 0
    points: list[dict] = field(default_factory=list)
    trial: int | None = None
    worker: str | None = None

    def attrs(self) -> dict:
        return {"status": self.status, "val_loss": rounded(self.val_loss), "val_accuracy": rounded(self.val_accuracy),
                "train_loss": rounded(self.train_loss), "best_val_loss": rounded(self.best_val_loss),
                "steps": self.steps, "points": self.points, "worker": self.worker}

    @staticmethod
    def from_trial(cell: Cell, trial) -> "Outcome":
        a = trial.user_attrs
        num = lambda v: None if v is None else float(v)  # noqa: E731  ("inf" strings back to floats)
        return Outcome(cell=cell, status=a.get("status", "done"), val_loss=num(a.get("val_loss")),
                       val_accuracy=num(a.get("val_accuracy")), train_loss=num(a.get("train_loss")),
                       best_val_loss=num(a.get("best_val_loss")), steps=int(a.get("steps", 0)),
                       points=list(a.get("points", [])), trial=trial.number, worker=a.get("worker"))


@dataclass
class Plan:
    per_epoch: int
    total: int
    evals: list[int]

    def epochs(self, steps: int) -> float:
        return steps / self.per_epoch


class TrialRunner:
    """One trial: the same init, the same batch order, the user's optimizer at the cell's LR and WD."""

    def __init__(self, ctx: Context, model, initial_state: dict, rewind: Rewind, plan: Plan, start: Evaluation):
        self.ctx, self.model, self.initial_state, self.rewind = ctx, model, initial_state, rewind
        self.plan, self.start = plan, start

    def train(self, trial, cell: Cell, update, description: str) -> Outcome:
        ctx, model, plan, s = self.ctx, self.model, self.plan, self.ctx.settings
        model.load_state_dict(self.initial_state)
        model.train()
        seed_everything(ctx.seed)  # the same dropout draws, and the same order from a globally seeded shuffle
        self.rewind()
        optimizer = ctx.optimizer(model.parameters(), lr=cell.lr)
        set_weight_decay(optimizer, cell.wd)
        trainer = Trainer(ctx, model, optimizer)
        floor = self.start.refs.floor
        limit = (floor or 0.0) + float(s["diverge_factor"]) * max(self.start.loss - (floor or 0.0), 1e-12)
        chunk, evals = max(1, int(s["chunk"])), set(plan.evals)
        out = Outcome(cell=cell, status="done")
        pending, since, done = [], [], 0
        update(0, description)
        for index, batch in ctx.stream(plan.total):
            pending.append(trainer.step(batch, index).loss.float())
            done += 1
            update(1)
            if done % chunk and done not in evals:
                continue
            ok, _ = all_finite(pending)
            since += pending
            pending = []
            if not ok:
                out.status = "diverged"
                break
            if done in evals:
                ev = evaluate(ctx, model, batches=s["val_batches"])
                train_loss = float(torch.stack(since).mean())
                since = []
                epoch = plan.epochs(done)
                out.points.append({"step": done, "epoch": rounded(epoch, 4), "val_loss": rounded(ev.loss),
                                   "val_accuracy": rounded(ev.accuracy), "train_loss": rounded(train_loss)})
                out.val_loss, out.val_accuracy, out.train_loss = ev.loss, ev.accuracy, train_loss
                out.best_val_loss = ev.loss if out.best_val_loss is None else min(out.best_val_loss, ev.loss)
                if not math.isfinite(ev.loss) or ev.loss > limit:
                    out.status = "diverged"
                    break
                trial.report(ev.loss, done)
                if done < plan.total and trial.should_prune():
                    out.status = "pruned"
                    break
            if ctx.out_of_time() and done < plan.total:
                out.status = "cut"
                break
        out.steps = done
        if done < plan.total:
            update(plan.total - done)
        return out
