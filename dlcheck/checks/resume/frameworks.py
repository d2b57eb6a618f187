"""resume under the frameworks' own checkpointing, when the set-up comes from an integration
(``target.framework``, set by :mod:`dlcheck.integrations`):

- Lightning: run A is ``Trainer(max_steps=k+m)`` whose ``trainer.save_checkpoint`` (what
  ``ModelCheckpoint(every_n_train_steps=k)`` calls) saves the checkpoint at step k; run B is a
  fresh module (the user's factory, or a copy of the module object at its init) and
  ``trainer.fit(module, ckpt_path=...)`` to step k+m, reading the same train loader. When B's
  batches differ from A's (the data part), B is run again on a loader replaying A's batches
  after step k, so the state part compares the same batches.
- the Hugging Face Trainer: run A is the user's Trainer factory's Trainer with
  ``save_steps=k, max_steps=k+m``; run B a second Trainer from the factory,
  ``train(resume_from_checkpoint=...)``.

Both compare the per-step losses, LRs, gradients and parameters after step k, and the tensors of
the model right after loading, into resume's :class:`Measured`, judged by resume's rules. CPU runs
are compared exactly; everything is written in a temporary directory that is removed."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings

import torch

from dlcheck.state import preserve_rng

from . import checkpoint as ck
from .measure import Measured, _first

#: how each framework's checkpoint is named in the report
LABELS = {"lightning": "Lightning's Trainer checkpoint (trainer.save_checkpoint, fit(ckpt_path=...))",
          "hf": "HF Trainer resume_from_checkpoint"}
#: what a practitioner does about a finding under a framework (appended to the finding's advice)
ADVICE = {("lightning", "DLC965"): "Lightning's checkpoint holds no RNG states: save torch/numpy/random "
                                   "states in on_save_checkpoint and set them back in on_load_checkpoint",
          ("lightning", "DLC968"): "Lightning's checkpoint holds no RNG states, so a resumed process draws "
                                   "the first epoch's shuffle again: restore the RNG states in on_load_checkpoint "
                                   "or seed the sampler's generator with the epoch"}


def kind(target) -> str | None:
    """'lightning', 'hf', or None: the framework whose checkpointing resume exercises."""
    fw = getattr(target, "framework", None)
    return fw.get("kind") if isinstance(fw, dict) else None


def annotate(m: Measured, findings: list) -> None:
    """The framework's own advice added to the findings it explains."""
    for f in findings:
        extra = ADVICE.get((m.framework_kind, f.code))
        if extra:
            f.advice = extra  # the catalogue's fix assumes a checkpoint the user writes


def measure(ctx) -> Measured:
    s, which = ctx.settings, kind(ctx.target)
    m = Measured(own=True, m=int(s["resume_steps"]), exact=ctx.device.type == "cpu")
    m.framework, m.framework_kind = LABELS[which], which
    m.rtol = 0.0 if m.exact else float(s["cuda_rtol"])
    with preserve_rng(), _quiet(), tempfile.TemporaryDirectory(prefix="dlcheck-resume-") as tmp:
        if which == "lightning":
            from .fw_lightning import run_lightning

            run_lightning(ctx, m, tmp)
        else:
            from .fw_hf import run_hf

            run_hf(ctx, m, tmp)
    return m


@contextlib.contextmanager
def _quiet():
    """The frameworks' banners and warnings about the short runs kept out of dlcheck's report."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "transformers")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def _steps(m: Measured, epoch: int | None, s) -> None:
    """k at the end of the first epoch when it fits in ``epoch_steps``, else a mid-epoch step."""
    m.epoch = epoch
    m.at_epoch_end = epoch is not None and epoch <= int(s["epoch_steps"])
    m.k = epoch if m.at_epoch_end else int(s["steps"])
    if epoch is not None and not m.at_epoch_end:
        m.k = min(m.k, max(epoch - 1, 1))


def _new_run() -> dict:
    return {"loss": [], "lr": [], "grads": [], "params": [], "hash": [], "batches": [], "rng": []}


def _judge(m: Measured, a: dict, b: dict, state_b: dict | None) -> None:
    """The data part from B's batches; the state part from ``state_b`` (B on A's batches)."""
    k, n = m.k, m.m
    got = b["hash"][:n]
    m.continues = got == a["hash"][k:k + n]
    m.repeats_start = got == a["hash"][:n] and not m.continues
    start = k if m.at_epoch_end else 0
    m.epoch_differs = m.at_epoch_end and a["hash"][:n] != a["hash"][start:start + n]
    if state_b is None:
        return
    after = {key: a[key][k:] for key in ("loss", "lr", "grads", "params")}
    m.losses = (after["loss"], state_b["loss"])
    m.lrs = (after["lr"], state_b["lr"])
    m.first = _first(after, state_b, m)
    if len(state_b["loss"]) < n and m.first is None:
        m.first = {"step": k + len(state_b["loss"]), "loss": True, "grads": False, "lr": False, "params": False,
                   "seen": False, "loss_a": after["loss"][len(state_b["loss"])] if len(after["loss"]) > len(
                       state_b["loss"]) else float("nan"), "loss_b": float("nan"), "lr_a": None, "lr_b": None}


def _cpu(batch):
    if isinstance(batch, torch.Tensor):
        return batch.detach().cpu().clone()
    if isinstance(batch, dict):
        return type(batch)((key, _cpu(v)) for key, v in batch.items())
    if isinstance(batch, (list, tuple)):
        return type(batch)(_cpu(v) for v in batch) if not hasattr(batch, "_fields") else type(batch)(
            *(_cpu(v) for v in batch))
    return batch


def _record_step(run: dict, loss, batch, params, keep: bool) -> None:
    run["loss"].append(float(loss.detach()) if isinstance(loss, torch.Tensor) else float("nan"))
    run["hash"].append(ck.batch_hash(batch))
    run["params"].append(ck.fingerprint(params))
    if keep:
        run["batches"].append(_cpu(batch))


def _before_step(run: dict, optimizer, params) -> None:
    run["lr"].append([g.get("lr") for g in optimizer.param_groups])
    run["grads"].append(ck.fingerprint(p.grad if p.grad is not None else torch.zeros(()) for p in params))


def _restored(m: Measured, at_k: dict, model) -> None:
    """The tensors of B's model that differ from A's at step k right after loading."""
    kept = set(model.state_dict().keys())
    kinds = ck.held_tensors(model)
    m.not_restored = [(n, kinds[n][0], n in kept) for n in ck.differing(at_k, model, m.exact, m.rtol)]
