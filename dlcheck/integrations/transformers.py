"""``DLCheckCallback``: a Hugging Face ``TrainerCallback`` running dlcheck's checks in
``on_train_begin`` on the model, optimizer and dataloaders the Trainer hands its callbacks (its
collator's batches with ``labels``, the model's own loss); and the target of
``dlcheck run --hf-trainer pkg.module:make_trainer``.

    from dlcheck.integrations.transformers import DLCheckCallback
    trainer = Trainer(..., callbacks=[DLCheckCallback(checks=["init-loss"], policy="stop_on_fail")])
"""

from __future__ import annotations

from dlcheck.errors import UserError
from dlcheck.integrations import ChecksFailed, require
from dlcheck.integrations._target import build_target, failed, policy_of, run_and_report

_tf = require("transformers", "transformers")


def _target(model, optimizer, train_loader, val_loader, source: str, fresh=None):
    name = type(model).__name__
    return build_target(model, train_loader, val_loader=val_loader, optimizer=optimizer, module=model,
                        source=source, origin={"model": f"the Trainer's model ({name})",
                                               "train_loader": "the Trainer's train dataloader",
                                               "val_loader": "the Trainer's eval dataloader",
                                               "optimizer": "the Trainer's optimizer"},
                        framework={"kind": "hf", "trainer": fresh} if fresh is not None else None)


def target_of_factory(spec: str):
    """The Target of ``--hf-trainer pkg.module:make_trainer``: the Trainer the factory returns,
    its model, its optimizer (``create_optimizer``) and its train/eval dataloaders."""
    from dlcheck.errors import describe_exception
    from dlcheck.target import resolve_spec

    factory, where = resolve_spec(spec, "--hf-trainer")
    try:
        trainer = factory() if callable(factory) and not isinstance(factory, _tf.Trainer) else factory
    except Exception as exc:
        raise UserError(f"--hf-trainer {where}() raised {describe_exception(exc)}") from exc
    if not isinstance(trainer, _tf.Trainer):
        raise UserError(f"--hf-trainer {where} gave a {type(trainer).__name__}, not a transformers.Trainer")
    val = trainer.get_eval_dataloader() if trainer.eval_dataset is not None else None
    fresh = factory if callable(factory) and not isinstance(factory, _tf.Trainer) else None  # resume's runs
    return _target(trainer.model, trainer.create_optimizer(), trainer.get_train_dataloader(), val, where, fresh)


class DLCheckCallback(_tf.TrainerCallback):
    """Run dlcheck's ``checks`` (default: all) in ``on_train_begin``, on the Trainer's model,
    optimizer and dataloaders; the model and every RNG handed back as found. The report is printed
    (and ``html`` written) on the main process. ``policy="stop_on_fail"``: on a failed check (or
    one that could not run) ``control.should_training_stop`` is set and :class:`ChecksFailed` is
    raised, because the Trainer reads that flag only after a step: without the raise it would take
    one optimizer step first. The Report is kept as ``self.report``."""

    def __init__(self, checks: list[str] | None = None, policy: str = "warn", out: str | None = None,
                 html: str | None = None, seed: int = 0, quiet: bool = False):
        self.checks, self.policy, self.out, self.html = checks, policy_of(policy), out, html
        self.seed, self.quiet, self.report = seed, quiet, None

    def on_train_begin(self, args, state, control, model=None, optimizer=None, train_dataloader=None,
                       eval_dataloader=None, **kwargs):
        if not state.is_world_process_zero:
            return control
        target = _target(model, optimizer, train_dataloader, eval_dataloader, f"Trainer({type(model).__name__})")
        self.report = run_and_report(target, checks=self.checks, device=str(model.device), seed=self.seed,
                                     out=self.out, html=self.html, quiet=self.quiet)
        if self.policy == "stop_on_fail" and failed(self.report):
            control.should_training_stop = True
            raise ChecksFailed(f"dlcheck: {self.report.status}: training stopped before its first optimizer "
                               f"step", self.report)
        return control
