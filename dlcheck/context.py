"""What a check gets to work with: the target's parts made ready, on the right device, with the
user's state protected. Checks measure through this object and never touch the target directly."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcheck import step
from dlcheck.batches import Reading, first_batches, logits_of, split_batch
from dlcheck.device import seed_everything, to_device
from dlcheck.errors import UserError, describe_exception
from dlcheck.results import CheckResult
from dlcheck.runstate import RunState
from dlcheck.state import preserve_model
from dlcheck.stream import stream as read_stream
from dlcheck.target import Target

#: The learning rate used when neither --lr nor the target's ``lr`` says one.
DEFAULT_LR = 1e-3


class Context:
    """Everything one check run needs. ``settings`` is the check's merged settings dict."""

    def __init__(self, name: str, target: Target, device: torch.device, seed: int,
                 settings: dict[str, Any], *, out_dir: str | None = None, lr: float | None = None,
                 amp: bool = False, quiet: bool = True, budget: float | None = None,
                 input_key: str | None = None, target_key: str | None = None, state: RunState | None = None):
        self.name = name
        self.state = state if state is not None else RunState()
        self.target = target
        self.device = device
        self.seed = seed
        self.settings = settings
        self.out_dir = Path(out_dir) if out_dir else None
        self.lr_override = lr
        self.amp = amp
        self.quiet = quiet
        self.input_key, self.target_key = input_key, target_key
        self.result = CheckResult(name=name)
        self.deadline = time.perf_counter() + budget if budget else None
        self._loaders, self._default_loss = {}, None
        from dlcheck import distributed, registry

        self._clock = self.deadline is not None and not distributed.active()  # time_up() reads it
        # under torchrun: this check reads its own shard, reduces its numbers (and trains in DDP)
        spec = registry.SPECS_BY_NAME.get(name)
        self.shards = distributed.active() and spec is not None and spec.shards
        self.wraps = self.shards and spec.wraps

    # -- time ---------------------------------------------------------------------------------
    def out_of_time(self) -> bool:
        """True once the check's time budget is spent (checks stop early and say so); under
        torchrun, once it is spent on any rank (every rank stops at the same step)."""
        from dlcheck import distributed

        return self.deadline is not None and distributed.any_true(time.perf_counter() > self.deadline)

    def time_up(self) -> bool:
        """The budget is spent (a clock read, no collective), between batch reads and steps; under
        torchrun False: the ranks agree through ``out_of_time`` at the checks' own points."""
        return self._clock and time.perf_counter() > self.deadline

    # -- the model ----------------------------------------------------------------------------
    @contextmanager
    def model(self):
        """A model on the device, for this block only.

        A factory is called afresh (after seeding, so the init repeats); a model object is
        snapshotted and handed back exactly as found, also on error and Ctrl-C.
        """
        spec = self.target.model
        if isinstance(spec, nn.Module):
            if any(isinstance(t, nn.parameter.UninitializedTensorMixin)
                   for t in [*spec.parameters(), *spec.buffers()]):
                raise UserError(f"{self.target.where('model')} has lazy modules that are not initialised "
                                f"yet, and dlcheck could not hand it back as it found it: make 'model' a "
                                f"function that builds the model, or run one forward pass before")
            with preserve_model(spec):
                yield self._distributed(spec.to(self.device))
            return
        if not callable(spec):
            raise UserError(f"{self.target.where('model')} is a {type(spec).__name__}, "
                            f"not an nn.Module or a function returning one")
        yield self._distributed(self.build_model().to(self.device))

    def _distributed(self, model: nn.Module) -> nn.Module:
        """Under torchrun, for the checks that shard: the model made ready by
        ``distributed.ddp.prepare_model`` (weights compared, DDP for the checks that train);
        elsewhere the model itself."""
        if not self.shards:
            return model
        from dlcheck.distributed import ddp

        model, found = ddp.prepare_model(model, self.device, self.wraps, self.state.said,
                                         self.target.where("model"), self._per_rank_batch)
        self.result.findings += found
        return model

    def _say(self, finding) -> None:
        """Add a finding made by a pure function (None: nothing to say)."""
        if finding is not None:
            self.result.findings.append(finding)

    def _per_rank_batch(self) -> int | None:
        """Samples in this rank's first batch (None when its targets do not say)."""
        try:
            _, targets = self.split(self.raw_batches(1)[0])
            return int(targets.shape[0])
        except (UserError, AttributeError, IndexError, TypeError):
            return None

    def build_model(self) -> nn.Module:
        """A fresh model from the factory, seeded so that the init repeats. The pre-flight's model
        (built the same way, never run) is taken instead when it is there, with the RNG state it
        left, so every check sees exactly what a build of its own would give."""
        from dlcheck.state import set_rng_state

        prebuilt, self.state.prebuilt = self.state.prebuilt, None
        if prebuilt is not None and prebuilt[0] == self.seed:
            _, model, state = prebuilt
            set_rng_state(state)
            return model
        spec = self.target.model
        seed_everything(self.seed)
        try:
            model = spec()
        except Exception as exc:
            raise UserError(f"model factory {self.target.where('model')} raised {describe_exception(exc)}") from exc
        if not isinstance(model, nn.Module):
            raise UserError(f"model factory {self.target.where('model')} returned a "
                            f"{type(model).__name__}, not an nn.Module")
        return model

    # -- data ---------------------------------------------------------------------------------
    def loader(self, split: str = "train"):
        """The train or val loader (factories called once per check); ``None`` for a missing val."""
        if split in self._loaders:
            return self._loaders[split]
        name = "train_loader" if split == "train" else "val_loader"
        spec = getattr(self.target, name)
        if spec is not None and callable(spec) and not hasattr(spec, "__iter__"):
            try:
                spec = spec()
            except Exception as exc:
                raise UserError(f"loader factory {self.target.where(name)} raised {describe_exception(exc)}") from exc
        self._loaders[split] = spec
        return spec

    def raw_batches(self, n: int, split: str = "train") -> list:
        """The first ``n`` batches as the loader yields them (on the CPU, not moved)."""
        name = "train_loader" if split == "train" else "val_loader"
        loader = self.loader(split)
        if loader is None:
            raise UserError(f"no {name} was given")
        stride = self._stride(split)
        if stride is None:  # at least one batch; no more once the budget is spent
            return first_batches(Reading(loader, self.target.where(name)), n, self.target.where(name),
                                 stop=self.time_up)
        rank, world = stride  # this rank's share of the first n x world batches, as many on every rank
        read = first_batches(Reading(loader, self.target.where(name)), n * world, self.target.where(name))
        if len(read) < world:
            return read
        return read[rank::world][:min(n, len(read) // world)]

    def _stride(self, split: str) -> tuple[int, int] | None:
        """Under torchrun, for a check that shards: ``(rank, world)``, this rank's round-robin share
        of a loader without a DistributedSampler (``distributed.ddp.stride``); else None."""
        if not self.shards:
            return None
        from dlcheck.distributed import ddp
        loader, where = self.loader(split), self.target.where("train_loader" if split == "train" else "val_loader")
        stride, found = ddp.stride(loader, self.state.said, where,
                                   lambda: first_batches(Reading(loader, where), 1, where)[0])
        self.result.findings += found
        return stride

    def batches(self, n: int, split: str = "train") -> list:
        """The first ``n`` batches, moved to the device and checked to be usable."""
        where = self.target.where("train_loader" if split == "train" else "val_loader")
        out = []
        for i, batch in enumerate(self.raw_batches(n, split)):
            if not self.target.own_step:
                self._check_batch(batch, i, where)
            out.append(to_device(batch, self.device))
        return out

    def stream(self, steps: int, split: str = "train"):
        """``steps`` batches read from the loader as training reads it (starting over when it
        ends), each moved to the device when its turn comes: what a training loop sees, with one
        batch on the device at a time; none read once the budget is spent. Yields ``(index, batch)``
        (``dlcheck.stream``)."""
        return read_stream(self, steps, split)

    def split(self, batch, index: int = 0, split: str = "train"):
        """``(inputs, targets)`` of a batch (for checks that look at data without a model)."""
        where = self.target.where("train_loader" if split == "train" else "val_loader")
        return split_batch(batch, index, where, self.input_key, self.target_key)

    def _check_batch(self, batch, index: int, where: str) -> None:
        """A batch dlcheck cannot split into inputs and targets fails early, clearly."""
        no_labels = step.missing_labels(self.target, batch, index, self.state.keywords, self.input_key,
                                        self.target_key)
        if no_labels is not None:
            raise no_labels
        split_batch(batch, index, where, self.input_key, self.target_key)

    # -- forward, loss, optimizer ---------------------------------------------------------------
    def forward(self, model: nn.Module, batch, index: int = 0) -> tuple[Any, Any]:
        """``(outputs, targets)`` for one batch (``dlcheck.step.forward``)."""
        outputs, targets = step.forward(self.target, model, batch, index, self.input_key, self.target_key)
        return outputs, self.task.layout.targets(targets)

    @property
    def task(self):
        """The run's task (dlcheck.task.Task), inferred once by the pre-flight."""
        if self.state.task is None:
            from dlcheck.task import Task, loss_name

            return Task(kind="unknown", loss=loss_name(self.target.loss_fn), note="not inferred")
        return self.state.task

    def logits(self, outputs) -> torch.Tensor:
        """The logits tensor in a model's output, by the documented rule (batches.logits_of), with
        the classes on axis 1 (a model computing its own loss may keep them last). None when the
        model computes its own loss and shows no logits (a detector's dict of losses,
        ``training_step``): the checks judge the loss alone."""
        if self.task.own_loss is not None:
            from dlcheck import own_loss

            found = own_loss.logits_or_none(outputs)
            return None if found is None else self.task.layout.logits(found)
        return self.task.layout.logits(logits_of(outputs))

    @property
    def loss_fn(self):
        """The loss the references are computed with: the target's, else the standard loss that
        reproduces a model's own loss (``own_loss``), else the default CrossEntropyLoss."""
        if self.target.loss_fn is not None:
            return self.target.loss_fn
        if self._default_loss is None:  # built once: a module per step costs more than a small step
            from dlcheck import own_loss

            own = self.task.own_loss is not None
            self._default_loss = own_loss.standard(self.task.kind) if own else nn.CrossEntropyLoss()
        return self._default_loss

    @property
    def is_cross_entropy(self) -> bool:
        """True when the loss is softmax cross-entropy (the default, or nn.CrossEntropyLoss / F.cross_entropy)."""
        fn = self.target.loss_fn
        if fn is None and self.task.own_loss is not None:
            return self.task.kind == "classification"
        return fn is None or isinstance(fn, nn.CrossEntropyLoss) or fn is torch.nn.functional.cross_entropy

    def loss(self, outputs, targets) -> torch.Tensor:
        """The user's loss on the outputs exactly as the model returned them (``dlcheck.step.loss``)."""
        return step.loss(self.target, self.loss_fn, outputs, targets)

    @property
    def lr(self) -> float:
        """--lr, else the target's ``lr``, else 1e-3."""
        if self.lr_override is not None:
            return float(self.lr_override)
        if self.target.lr is not None:
            return float(self.target.lr)
        return DEFAULT_LR

    def optimizer(self, params, lr: float | None = None) -> torch.optim.Optimizer:
        """The target's optimizer factory (``callable(params, lr)``), default Adam; a factory that
        does not train at the LR it is handed is DLC004 (once per check)."""
        from dlcheck import optimizers
        from dlcheck.training.step import no_parameters

        lr, where, params = self.lr if lr is None else lr, self.target.where("optimizer"), list(params)
        if not params:  # nothing for any optimizer to train: the verdict (DLC005), not torch's crash
            raise no_parameters()
        opt = optimizers.build(self.target.optimizer, params, lr, where)
        if not any(f.code == "DLC004" for f in self.result.findings):
            self._say(optimizers.lr_not_taken(optimizers.group_lrs(opt), lr, where))
        return opt

    @property
    def effective_lr(self) -> float:
        """The LR the user's optimizer really trains at when handed ``self.lr``."""
        from dlcheck import optimizers

        return optimizers.effective_lr(self.target.optimizer, self.lr)

    def num_classes(self, outputs: torch.Tensor | None = None) -> int | None:
        """The target's ``num_classes``, else the output width of 2-D+ outputs."""
        if self.target.num_classes is not None:
            return self.target.num_classes
        if outputs is not None and outputs.dim() >= 2:
            return int(outputs.shape[1])
        return None

    # -- artifacts ------------------------------------------------------------------------------
    def artifact_path(self, filename: str) -> Path | None:
        """Where ``dlcheck.artifacts`` will write this check's ``filename`` under ``--out`` (None
        without --out); nothing is created here."""
        return None if self.out_dir is None else self.out_dir / f"{self.name}-{filename}"

    # -- progress -------------------------------------------------------------------------------
    def progress(self, total: int, description: str):
        """A progress bar on stderr (silent with --quiet or off a terminal); yields advance()."""
        from dlcheck.progress import bar

        return bar(total, description, quiet=self.quiet)


def finite(x: float) -> bool:
    return x is not None and math.isfinite(x)
