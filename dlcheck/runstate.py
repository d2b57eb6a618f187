"""What one run learns once, before any check, and every check shares: the pre-flight builds the
model and reads the first batch (so that broken input stops the run before anything is written),
and infers the task from one forward of that batch. The runner holds the result, a ``RunState``;
nothing is written into the user's target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlcheck.config import Settings
from dlcheck.errors import UserError, describe_exception
from dlcheck.results import rounded


@dataclass
class RunState:
    """What one run learns once and every check shares. The runner holds it; nothing is written
    into the user's target."""

    task: Any = None  # dlcheck.task.Task, inferred by the pre-flight
    prebuilt: tuple | None = None  # (seed, model, RNG state after building): the pre-flight's build
    said: set = field(default_factory=set)  # torchrun set-up findings said already (once per run)
    keywords: frozenset = frozenset()  # the names the model's forward takes by keyword


def preflight(target, device, settings: Settings):
    """Build the model once and read the first batch, so that a factory that raises, an empty
    loader or batches of the wrong shape stop the run before anything is written. Returns the
    run's state: the inferred task and the model built (handed to the first check)."""
    from dlcheck.context import Context, RunState
    from dlcheck.state import preserve_rng, rng_state

    state = RunState()
    ctx = Context("preflight", target, device, settings.seed, {}, input_key=settings.input_key,
                  target_key=settings.target_key, state=state)
    from torch import nn

    with preserve_rng():
        model = target.model
        if not isinstance(target.model, nn.Module):  # a factory (or a class): a model object needs no build
            model = ctx.build_model()  # kept for the first check (never trained)
            state.prebuilt = (settings.seed, model, rng_state())
        from dlcheck.batches import forward_names

        state.keywords = forward_names(model)
        batch = ctx.raw_batches(1)[0]  # the structure of each batch is checked by the checks that use it
        state.task = infer_task(ctx, model, batch, settings)
    return state


def infer_task(ctx, model, batch, settings: Settings):
    """The run's task, from one forward of the first batch in training mode (no gradient; the
    model handed back exactly, its running statistics too). When the forward cannot run, the task
    is 'unknown' and the checks report the error themselves, each with its own context."""
    import torch

    from dlcheck import own_loss
    from dlcheck import task as tasks
    from dlcheck.device import to_device
    from dlcheck.state import preserve_model

    target = ctx.target
    given = settings.task if settings.task is not None else target.task
    where = f"recipe '{settings.config}'" if settings.task is not None and settings.config else \
        ("the options" if settings.task is not None else target.where("task"))
    try:
        # the user's model object is restored in full; the pre-flight's own build needs only its
        # running statistics back (a forward under no_grad changes no weight)
        with preserve_model(model, weights=model is target.model), torch.no_grad():
            model.to(ctx.device).train()
            raw, targets = ctx.forward(model, to_device(batch, ctx.device), 0)
            own = own_loss.found(raw) if target.loss_fn is None else None
            logits = ctx.logits(raw) if own is None else own_loss.logits_or_none(raw)
    except UserError as exc:
        if given is not None:
            tasks.infer(target.loss_fn, None, None, given=given, given_where=where)  # validates the name
        return tasks.Task(kind="unknown", loss=tasks.loss_name(target.loss_fn),
                          note=f"the first batch could not be run: {exc.message}")
    except Exception as exc:  # the user's model raised: the checks say so, each in its own words
        return tasks.Task(kind="unknown", loss=tasks.loss_name(target.loss_fn),
                          note=f"the first batch could not be run: {describe_exception(exc)}")
    if own is not None:  # the model computed its own loss: its task, when a standard loss reproduces it
        task = own_loss.infer(own[0], own[1], logits, targets, num_classes=target.num_classes)
        logits, targets = task.layout.logits(logits), task.layout.targets(targets)
        loss_fn = own_loss.standard(task.kind)
    else:
        task = tasks.infer(target.loss_fn, logits, targets, given=given, given_where=where,
                           num_classes=target.num_classes)
        loss_fn = ctx.loss_fn
    task.logits = tasks.logits_rule(raw)
    task.model_inputs = _inputs_note(ctx, model, batch)
    if task.kind == "classification" and not task.dense:
        samples = _input_samples(ctx, batch)  # a forward that flattens (B, T, V) to (B*T, V): tokens
        if samples and isinstance(targets, torch.Tensor) and targets.numel() > samples \
                and targets.numel() % samples == 0:
            task.positions = targets.numel() // samples
    refs = task.reference(loss_fn, logits, targets, raw)
    task.references = {k: rounded(v) for k, v in vars(refs).items() if v is not None}
    return task


def _input_samples(ctx, batch) -> int | None:
    """Samples in a batch's inputs (their first dimension), when the batch splits into (inputs, targets)."""
    import torch

    try:
        inputs, _ = ctx.split(batch)
    except UserError:
        return None
    if isinstance(inputs, dict):
        inputs = next((v for v in inputs.values() if isinstance(v, torch.Tensor)), None)
    elif isinstance(inputs, (tuple, list)):
        inputs = next((v for v in inputs if isinstance(v, torch.Tensor)), None)
    return int(inputs.shape[0]) if isinstance(inputs, torch.Tensor) and inputs.dim() else None


def _inputs_note(ctx, model, batch) -> str | None:
    """How a dict batch reaches the model, in words (None for other batches)."""
    from torch import nn

    from dlcheck.batches import dict_call, dict_keys

    if ctx.target.own_step or not isinstance(batch, dict) or not isinstance(model, nn.Module):
        return None
    args, kwargs, left_out = dict_call(model, batch, ctx.input_key, ctx.target_key)
    ikey, _ = dict_keys(batch, ctx.input_key, ctx.target_key)
    passed = ([f"{ikey} (by position)"] if args else []) + list(kwargs)
    note = f"the model gets {', '.join(map(str, passed))}"
    return note + (f"; left out: {', '.join(left_out)}" if left_out else "")
