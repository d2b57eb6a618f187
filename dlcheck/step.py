"""How one batch becomes ``(outputs, targets)`` and a loss, as the user's training would compute
them: the target's ``forward``, else the model called on the batch's inputs (dict batches by the
forward's signature); the user's loss on the outputs exactly as the model returned them. Errors
name the user's code at fault and the batch."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dlcheck.batches import (call_model, cross_entropy_hint, describe_value, dict_call, dict_keys, forward_names,
                             logits_of, split_batch)
from dlcheck import own_loss
from dlcheck.errors import UserError, describe_exception


def forward(target, model: nn.Module, batch, index: int = 0, input_key: str | None = None,
            target_key: str | None = None) -> tuple[Any, Any]:
    """``(outputs, targets)`` for one batch: the target's ``forward`` or ``model(inputs)``.

    ``outputs`` is exactly what the model (or the target's forward) returned: a tensor, a tuple
    (aux heads), a dict or an output object. The loss gets it unchanged; dlcheck's own statistics
    take the logits from it (``batches.logits_of``)."""
    if target.training_step is not None:
        return _training_step(target, model, batch, index), None
    if target.forward is not None:
        result = _call(target, lambda: target.forward(model, batch), index, target.where("forward"))
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise UserError(f"{target.where('forward')} must return (outputs, targets), not {type(result).__name__}")
        return result[0], result[1]
    no_labels = missing_labels(target, batch, index, forward_names(model), input_key, target_key)
    if no_labels is not None:
        raise no_labels
    inputs, targets = split_batch(batch, index, target.where("train_loader"), input_key, target_key)
    if isinstance(batch, dict):  # every key the model's forward names, by name
        args, kwargs, _ = dict_call(model, batch, input_key, target_key)
        return _call(target, lambda: model(*args, **kwargs), index), targets
    return _call(target, lambda: call_model(model, inputs), index), targets


def _training_step(target, model, batch, index: int) -> "own_loss.StepReturn":
    """The target's ``training_step(model, batch)``: the scalar loss to backpropagate, or a dict
    with ``"loss"`` (Lightning's meaning), kept as a dict the loss is found in."""
    where = target.where("training_step")
    returned = _call(target, lambda: target.training_step(model, batch), index, where)
    loss = returned.get("loss") if isinstance(returned, dict) else returned
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        what = describe_value(loss) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise UserError(f"{where} must return the loss to backpropagate (a scalar tensor) or a dict with "
                        f"'loss', not {what}")
    return own_loss.StepReturn(returned if isinstance(returned, dict) else {"loss": loss})


def missing_labels(target, batch, index: int, keywords, input_key: str | None = None,
                   target_key: str | None = None) -> UserError | None:
    """The error for a dict batch without targets fed to a model whose forward takes ``labels``
    (``keywords``): a Hugging Face model computes its loss only from them."""
    if not isinstance(batch, dict) or "labels" not in keywords or dict_keys(batch, input_key, target_key)[1]:
        return None
    return UserError(f"{target.where('train_loader')} batch {index} holds no 'labels' (keys: "
                     f"{', '.join(map(str, batch))}), and the model computes its loss only from them: add "
                     f"labels to the batches (for a causal LM, labels = input_ids), or set target_key and "
                     f"loss_fn in the target")


def _call(target, call, index: int, where: str | None = None):
    """User code (the model's forward unless ``where`` names another part), its exceptions named
    as that part's, with the batch."""
    try:
        return call()
    except UserError:
        raise
    except Exception as exc:
        raise _raised(target, exc, index, where) from exc


def _raised(target, exc: Exception, index: int, where: str | None = None) -> UserError:
    who = where or f"the forward of {target.where('model')}"
    return UserError(f"{who} raised {describe_exception(exc)} on batch {index}")


def loss(target, loss_fn, outputs, targets) -> torch.Tensor:
    """``loss_fn`` (the user's) on the outputs exactly as the model returned them; without one,
    the loss the model computed itself (``own_loss.found``: ``outputs.loss``, a dict of losses),
    else the default CrossEntropyLoss on the logits. It must return a tensor that can be
    backpropagated."""
    given = target.loss_fn is not None
    if not given:
        own = own_loss.found(outputs)
        if own is not None:
            return own[0]
        if own_loss.missing_labels(outputs):
            raise UserError(f"the model in {target.where('model')} returned {type(outputs).__name__} without a "
                            f"loss: it computes its loss only when its batch holds 'labels' (for a causal LM, "
                            f"labels = input_ids); add them to the batches, or set loss_fn in the target")
    return _user_loss(target, given, loss_fn, outputs if given else logits_of(outputs), outputs, targets)


def _user_loss(target, given: bool, loss_fn, inputs, outputs, targets) -> torch.Tensor:
    """``loss_fn(inputs, targets)`` (``inputs``: the outputs, or their logits for the default
    loss), its exceptions and a value that is no tensor named as the loss's."""
    try:
        value = loss_fn(inputs, targets)
    except UserError:
        raise
    except Exception as exc:
        where = target.where("loss_fn") if given else "the default CrossEntropyLoss"
        hint = "" if given else cross_entropy_hint(logits_of(outputs), targets)
        raise UserError(f"{where} raised {describe_exception(exc)} on outputs {describe_value(outputs)}"
                        + (f" and targets {describe_value(targets)}: {hint}" if hint else "")) from exc
    if not isinstance(value, torch.Tensor):
        where = target.where("loss_fn") if given else "the default CrossEntropyLoss"
        raise UserError(f"{where} returned a {type(value).__name__}, not a tensor: return the loss as a scalar "
                        f"tensor (no .item() or float() on it), so that it can be backpropagated")
    return value


def resolved(target, loss_fn, layout, input_key: str | None = None, target_key: str | None = None):
    """``(model, batch, index) -> (outputs, targets, loss)``: what ``ctx.forward`` then ``ctx.loss``
    compute (:func:`forward`, the layout's targets, :func:`loss`), resolved once (per Trainer)
    instead of per step. A target without
    its own ``forward``/``training_step`` gets a short path for ``(inputs, targets)`` batches
    whose model returns a tensor (what the general path does for them, step for step, errors
    alike); every other batch or output takes the general path."""
    shift, given = bool(layout.shift), target.loss_fn is not None

    def general(model, batch, index):
        outputs, targets = forward(target, model, batch, index, input_key, target_key)
        targets = layout.targets(targets)
        return outputs, targets, loss(target, loss_fn, outputs, targets)

    if target.own_step:
        return general

    def short(model, batch, index):
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            return general(model, batch, index)
        inputs, targets = batch[0], batch[1]
        try:  # _call's and call_model's, inline: three frames fewer per step
            outputs = model(inputs) if type(inputs) is torch.Tensor else call_model(model, inputs)
        except UserError:
            raise
        except Exception as exc:
            raise _raised(target, exc, index) from exc
        if shift:
            targets = layout.targets(targets)
        if not given and type(outputs) is not torch.Tensor:
            return outputs, targets, loss(target, loss_fn, outputs, targets)
        return outputs, targets, _user_loss(target, given, loss_fn, outputs, outputs, targets)

    return short


def labels_out_of_range(ctx, batch, index: int, exc: UserError) -> UserError | None:
    """The error for a batch whose class labels fall outside the model's classes (0..C-1, the
    loss's ignore_index aside), naming the loader, the batch and the labels; None when its labels
    are in range (``exc``, the forward's or the loss's error, stands). A check that trains reads
    batches past the first ones init-loss (DLC107) and data-check (DLC705) inspect."""
    task = ctx.task
    classes = ctx.target.num_classes or (task.classes if task.kind == "classification" else None)
    if not classes or task.soft_targets or ctx.target.own_step:
        return None
    try:
        _, targets = ctx.split(batch, index)
    except UserError:
        return None
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point() or targets.dtype == torch.bool:
        return None
    ignore = task.options.get("ignore_index", -100)
    bad = ((targets < 0) | (targets >= classes)) & (targets != ignore)
    count = int(bad.sum())
    if not count:
        return None
    values = sorted({int(v) for v in targets[bad].flatten()[:1000].tolist()})
    shown = ", ".join(map(str, values[:6])) + (" ..." if len(values) > 6 else "")
    where = ctx.target.where("train_loader")
    return UserError(f"{where} batch {index} holds {count} label(s) outside 0..{classes - 1} for the model's "
                     f"{classes} classes ({shown}), so the loss failed ({exc.message[:160]}): map the labels to "
                     f"0..{classes - 1}, or widen the model's final layer")
