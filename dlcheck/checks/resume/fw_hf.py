"""resume's runs under the Hugging Face Trainer: A is the user's factory's Trainer with
``save_steps=k, max_steps=k+m`` (its own checkpoint at step k, ``checkpoint-k``); B a second
Trainer from the factory, ``train(resume_from_checkpoint=...)`` to k+m (see :mod:`.frameworks`)."""

from __future__ import annotations

import os

import torch

from dlcheck.device import seed_everything
from dlcheck.errors import UserError, describe_exception

from . import checkpoint as ck
from .frameworks import _before_step, _judge, _new_run, _restored, _steps
from .measure import Measured

#: TrainingArguments set for the check's short runs (output in the temporary directory, no reports)
_ARGS = {"save_total_limit": None, "load_best_model_at_end": False, "push_to_hub": False, "disable_tqdm": True}


def _short(tf, trainer, out: str, m: Measured) -> None:
    """The Trainer's arguments set in place for the check's run (a new TrainingArguments would
    reset the Trainer's Accelerator), its reporting callbacks removed."""
    from transformers.integrations import get_reporting_integration_callbacks
    from transformers.trainer_utils import IntervalStrategy, SaveStrategy

    args = trainer.args
    for cls in [*get_reporting_integration_callbacks(args.report_to or []), tf.PrinterCallback, tf.ProgressCallback]:
        trainer.remove_callback(cls)
    for name, value in {**_ARGS, "output_dir": out, "save_steps": m.k, "max_steps": m.k + m.m, "report_to": [],
                        "save_strategy": SaveStrategy.STEPS, "eval_strategy": IntervalStrategy.NO}.items():
        setattr(args, name, value)


def _callback(tf, m: Measured, run: dict, a: bool, at: dict):
    class Recorder(tf.TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if not a:
                _restored(m, at["tensors"], model)

        def on_step_begin(self, args, state, control, **kwargs):
            run["rng"].append(torch.get_rng_state())

        def on_pre_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
            _before_step(run, optimizer, [p for g in optimizer.param_groups for p in g["params"]])

        def on_step_end(self, args, state, control, model=None, **kwargs):
            run["params"].append(ck.fingerprint(model.parameters()))
            if a and state.global_step == m.k + 1:
                at["uses_rng"] = not torch.equal(run["rng"][-1], torch.get_rng_state())
            if a and state.global_step == m.k:
                at["tensors"] = ck.snapshot(model)

    return Recorder()


def _trainer(tf, ctx, m: Measured, out: str, run: dict, a: bool, at: dict):
    """A fresh Trainer from the user's factory (seeded as the user's script seeds it), its
    arguments set for the short run, its losses and batches recorded."""
    seed_everything(ctx.seed)
    factory = ctx.target.framework["trainer"]
    try:
        trainer = factory()
    except Exception as exc:
        raise UserError(f"--hf-trainer {ctx.target.source}() raised {describe_exception(exc)}") from exc
    _short(tf, trainer, out, m)
    trainer.add_callback(_callback(tf, m, run, a, at))
    compute = trainer.compute_loss

    def compute_loss(model, inputs, *args, **kwargs):
        out = compute(model, inputs, *args, **kwargs)
        loss = out[0] if isinstance(out, tuple) else out
        run["loss"].append(float(loss.detach()))
        run["hash"].append(ck.batch_hash(inputs))
        return out

    trainer.compute_loss = compute_loss
    return trainer


def run_hf(ctx, m: Measured, tmp: str) -> None:
    import transformers as tf

    loader = ctx.loader()
    epoch = len(loader) if hasattr(loader, "__len__") else None
    probe_args = getattr(ctx.target.framework.get("args"), "gradient_accumulation_steps", 1)
    _steps(m, epoch // probe_args if epoch else epoch, ctx.settings)
    at, a, b = {}, _new_run(), _new_run()
    bars = tf.utils.logging.is_progress_bar_enabled()
    tf.utils.logging.disable_progress_bar()  # "Writing model shards" at each save
    try:
        _runs(tf, ctx, m, tmp, at, a, b)
    finally:
        if bars:
            tf.utils.logging.enable_progress_bar()


def _runs(tf, ctx, m: Measured, tmp: str, at: dict, a: dict, b: dict) -> None:
    trainer = _trainer(tf, ctx, m, os.path.join(tmp, "a"), a, True, at)
    m.has_scheduler = True  # the Trainer builds and saves its own LR scheduler
    try:
        trainer.train()
    except Exception as exc:
        raise UserError(f"the HF Trainer's uninterrupted run raised {describe_exception(exc)}") from exc
    path = os.path.join(tmp, "a", f"checkpoint-{m.k}")
    if "tensors" not in at or not os.path.isdir(path) or len(a["params"]) < m.k + m.m:
        m.skipped = f"the HF Trainer ran {len(a['params'])} steps, fewer than the {m.k + m.m} the check trains on"
        return
    resumed = _trainer(tf, ctx, m, os.path.join(tmp, "b"), b, False, at)
    try:
        resumed.train(resume_from_checkpoint=path)
    except Exception as exc:
        m.load_error = f"Trainer.train(resume_from_checkpoint=...) on a fresh Trainer raised {describe_exception(exc)}"
        return
    m.uses_rng = at.get("uses_rng", False)
    m.rng_restored = bool(b["rng"]) and torch.equal(b["rng"][0], a["rng"][m.k])
    per_step = len(a["loss"]) // max(len(a["params"]), 1)  # compute_loss calls per optimizer step
    for run in (a, b):
        run["loss"] = [sum(run["loss"][i:i + per_step]) for i in range(0, len(run["loss"]), per_step)]
        run["hash"] = ["".join(run["hash"][i:i + per_step]) for i in range(0, len(run["hash"]), per_step)]
    same_data = b["hash"][:m.m] == a["hash"][m.k:m.k + m.m]
    _judge(m, a, b, b if same_data else None)
