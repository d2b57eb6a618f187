"""resume's runs under Lightning's Trainer: A saves the Trainer's own checkpoint at step k
(``trainer.save_checkpoint``, what ``ModelCheckpoint`` calls) and trains on to k+m; B is a fresh
module and ``trainer.fit(module, ckpt_path=...)`` to k+m (see :mod:`.frameworks`)."""

from __future__ import annotations

import copy
import os

import torch

from dlcheck.device import seed_everything
from dlcheck.errors import UserError, describe_exception

from . import checkpoint as ck
from .frameworks import _before_step, _judge, _new_run, _record_step, _restored, _steps
from .measure import Measured


def _callback(pl, m: Measured, run: dict, path: str | None, at: dict):
    """A callback recording each step into ``run``; in A (``path`` given) it saves the checkpoint
    at step k, in B it compares the module's tensors with A's at k when training starts."""

    class Recorder(pl.Callback):
        def on_train_start(self, trainer, module):
            if path is None:
                _restored(m, at["tensors"], module)

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            run["rng"].append(torch.get_rng_state())

        def on_before_optimizer_step(self, trainer, module, optimizer):
            _before_step(run, optimizer, list(module.parameters()))

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            _record_step(run, loss, batch, list(module.parameters()), keep=path is not None)
            if len(run["rng"]) == m.k + 1 and path is not None:
                at["uses_rng"] = not torch.equal(run["rng"][-1], torch.get_rng_state())
            if path is not None and trainer.global_step == m.k and "tensors" not in at:
                at["tensors"] = ck.snapshot(module)
                trainer.save_checkpoint(path)

    return Recorder()


def _trainer(pl, ctx, m: Measured, tmp: str, callback):
    return pl.Trainer(max_steps=m.k + m.m, accelerator="gpu" if ctx.device.type == "cuda" else "cpu", devices=1,
                      logger=False, enable_progress_bar=False, enable_model_summary=False,
                      enable_checkpointing=False, num_sanity_val_steps=0, limit_val_batches=0,
                      default_root_dir=tmp, callbacks=[callback])


def _module(ctx, model):
    """A fresh module seeded as the user's script seeds it: the factory's, or a copy of the object."""
    seed_everything(ctx.seed)
    spec = ctx.target.model
    if isinstance(spec, torch.nn.Module):
        saved = model.__dict__.get("_trainer")
        model._trainer = None  # the outer fit's Trainer (the DLCheck callback) is not copied
        try:
            fresh = copy.deepcopy(model)
        finally:
            model._trainer = saved
        seed_everything(ctx.seed)
        return fresh
    try:
        return spec()
    except Exception as exc:
        raise UserError(f"model factory {ctx.target.where('model')} raised {describe_exception(exc)}") from exc


class _Replay:
    """A's batches after step k, as a loader (B's state part reads exactly what A read)."""

    def __init__(self, batches: list):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def _fit(pl, ctx, m, tmp, model, loader, path, at, ckpt=None) -> dict:
    run = _new_run()
    module = _module(ctx, model)
    trainer = _trainer(pl, ctx, m, tmp, _callback(pl, m, run, path, at))
    try:
        trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt)
    except Exception as exc:
        if ckpt is None:
            raise UserError(f"Lightning's fit of {ctx.target.where('model')} raised {describe_exception(exc)}") from exc
        m.load_error = f"trainer.fit(module, ckpt_path=...) on a fresh module raised {describe_exception(exc)}"
    return run


def run_lightning(ctx, m: Measured, tmp: str) -> None:
    import lightning.pytorch as pl

    spec = ctx.target.train_loader
    loader = spec() if callable(spec) and not hasattr(spec, "__iter__") else spec
    _steps(m, len(loader) if hasattr(loader, "__len__") else None, ctx.settings)
    path, at = os.path.join(tmp, "resume.ckpt"), {}
    with ctx.model() as model:
        m.fresh = "copy" if isinstance(ctx.target.model, torch.nn.Module) else "factory"
        a = _fit(pl, ctx, m, tmp, model, loader, path, at)
        if "tensors" not in at or len(a["loss"]) < m.k + m.m:
            m.skipped = f"Lightning's fit ran {len(a['loss'])} steps, fewer than the {m.k + m.m} the check trains on"
            return
        b = _fit(pl, ctx, m, tmp, model, loader, None, at, ckpt=path)
        if m.load_error:
            return
        m.uses_rng = at.get("uses_rng", False)
        m.rng_restored = bool(b["rng"]) and torch.equal(b["rng"][0], a["rng"][m.k])
        state = b
        if b["hash"][:m.m] != a["hash"][m.k:m.k + m.m]:  # B read other batches: the state part replays A's
            state = _fit(pl, ctx, m, tmp, model, _Replay(a["batches"][m.k:m.k + m.m]), None, at, ckpt=path)
            m.rng_restored = bool(state["rng"]) and torch.equal(state["rng"][0], a["rng"][m.k])
            if state["hash"][:m.m] != a["hash"][m.k:m.k + m.m]:
                state = None
    _judge(m, a, b, state)
