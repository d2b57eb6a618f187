"""``DLCheck``: a Lightning callback running dlcheck's checks in ``on_fit_start`` on the trainer's
own LightningModule (``training_step`` is the loss, ``configure_optimizers`` the optimizer, the
datamodule's or trainer's loaders the data), before the first training step; and the target of
``dlcheck run --lightning pkg.module:LitModel [--datamodule pkg.module:DM]``.

    from dlcheck.integrations.lightning import DLCheck
    trainer = L.Trainer(callbacks=[DLCheck(checks=["init-loss", "overfit-small"], policy="stop_on_fail")])
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any

from dlcheck.errors import UserError
from dlcheck.integrations import ChecksFailed, require
from dlcheck.integrations._target import build_target, failed, first_loader, policy_of, run_and_report

_pl = require("lightning.pytorch", "lightning")


def _noop(*args, **kwargs):
    return None


@contextmanager
def _no_logging(module):
    """``self.log``/``self.log_dict`` do nothing while dlcheck calls the module's training_step
    (outside the fit loop Lightning refuses or warns); instance attributes removed afterwards."""
    module.log, module.log_dict = _noop, _noop
    try:
        yield
    finally:
        del module.log, module.log_dict


def training_step(model, batch):
    """The LightningModule's own ``training_step(batch, batch_idx)``: the loss (or a dict with it)."""
    takes_index = len(inspect.signature(model.training_step).parameters) > 1
    with _no_logging(model):
        return model.training_step(batch, 0) if takes_index else model.training_step(batch)


def first_optimizer(configured: Any):
    """The (first) optimizer among the forms ``configure_optimizers`` may return: an optimizer, a
    list or tuple of them, ``([optimizers], [schedulers])``, a dict with "optimizer", a list of such
    dicts; None for none."""
    import torch

    if configured is None or isinstance(configured, torch.optim.Optimizer):
        return configured
    if isinstance(configured, dict):
        return first_optimizer(configured.get("optimizer"))
    if isinstance(configured, (list, tuple)) and configured:
        return first_optimizer(configured[0])
    opt = getattr(configured, "optimizer", None)  # LightningOptimizer
    if isinstance(opt, torch.optim.Optimizer):
        return opt
    raise UserError(f"configure_optimizers returned a {type(configured).__name__}, which dlcheck cannot read "
                    f"an optimizer from")


def _manual(module) -> None:
    if not module.automatic_optimization:
        raise UserError(f"{type(module).__name__} uses manual optimization (its training_step steps the "
                        f"optimizers itself), which dlcheck cannot drive: check it with a target file")


def _overridden(name: str, instance) -> bool:
    from lightning.pytorch.utilities.model_helpers import is_overridden

    return is_overridden(name, instance)


def target_of_trainer(trainer, module):
    """The Target of a fit under way: the trainer's module, its optimizer, its loaders."""
    _manual(module)
    opt = trainer.optimizers[0] if trainer.optimizers else first_optimizer(module.configure_optimizers())
    train = trainer.fit_loop._data_source
    val = trainer.fit_loop.epoch_loop.val_loop._data_source
    name = type(module).__name__
    return build_target(module, first_loader(train.dataloader()) if train.is_defined() else None,
                        val_loader=first_loader(val.dataloader()) if val.is_defined() else None,
                        optimizer=opt, module=module, training_step=training_step,
                        source=name, origin={"model": name, "training_step": f"{name}.training_step",
                                             "optimizer": f"{name}.configure_optimizers"},
                        framework={"kind": "lightning"})


def target_of_specs(module_spec: str, datamodule_spec: str | None = None):
    """The Target of ``--lightning pkg.module:LitModel [--datamodule pkg.module:DM]``: the class
    (or factory) is the model factory, a probe instance gives the optimizer and the loaders."""
    from dlcheck.target import resolve_spec

    factory, where = resolve_spec(module_spec, "--lightning")
    if not callable(factory):
        raise UserError(f"--lightning {where} is a {type(factory).__name__}, not a LightningModule class or factory")
    probe = _build(factory, f"--lightning {where}", _pl.LightningModule)
    _manual(probe)
    data, data_where = probe, where
    if datamodule_spec:
        dm_factory, data_where = resolve_spec(datamodule_spec, "--datamodule")
        data = _build(dm_factory, f"--datamodule {data_where}", _pl.LightningDataModule)
        data.prepare_data()
        data.setup("fit")
    loaders = [first_loader(getattr(data, n)()) if _overridden(n, data) else None
               for n in ("train_dataloader", "val_dataloader")]
    return build_target(factory, loaders[0], val_loader=loaders[1],
                        optimizer=first_optimizer(probe.configure_optimizers()), module=probe,
                        training_step=training_step, source=where,
                        origin={"model": f"--lightning {where}", "train_loader": f"{data_where}.train_dataloader",
                                "val_loader": f"{data_where}.val_dataloader",
                                "training_step": f"{where}.training_step",
                                "optimizer": f"{where}.configure_optimizers"},
                        framework={"kind": "lightning"})


def _build(factory, where: str, kind):
    try:
        made = factory()
    except Exception as exc:
        from dlcheck.errors import describe_exception

        raise UserError(f"{where}() raised {describe_exception(exc)}: it must build with no arguments") from exc
    if not isinstance(made, kind):
        raise UserError(f"{where}() built a {type(made).__name__}, not a {kind.__name__}")
    return made


class DLCheck(_pl.Callback):
    """Run dlcheck's ``checks`` (default: all) when the fit starts, before the first training step,
    on the trainer's own module, optimizer and loaders; the model and every RNG handed back as
    found. ``policy="stop_on_fail"``: a failed check (or one that could not run) stops the fit
    before its first training step (``trainer.should_stop``; raises :class:`ChecksFailed` when
    ``min_epochs``/``min_steps`` would make the trainer carry on). ``out``: artifacts folder;
    ``html``: the HTML report's path. The Report is kept as ``self.report``."""

    def __init__(self, checks: list[str] | None = None, policy: str = "warn", out: str | None = None,
                 html: str | None = None, seed: int = 0, quiet: bool = False):
        self.checks, self.policy, self.out, self.html = checks, policy_of(policy), out, html
        self.seed, self.quiet, self.report = seed, quiet, None

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.global_rank != 0:
            return
        target = target_of_trainer(trainer, pl_module)
        self.report = run_and_report(target, checks=self.checks, device=str(pl_module.device), seed=self.seed,
                                     out=self.out, html=self.html, quiet=self.quiet)
        if self.policy == "stop_on_fail" and failed(self.report):
            message = f"dlcheck: {self.report.status}: the fit stops before its first training step"
            if trainer.fit_loop.min_epochs or trainer.fit_loop.min_steps:
                raise ChecksFailed(message, self.report)
            trainer.should_stop = True
            if not self.quiet:
                print(message)
