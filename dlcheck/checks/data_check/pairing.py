"""data-check's pairing control (DLC709): a short fit of the same initial model on a small subset
with the true labels, and again with the labels permuted across the subset. Same init, same
batches, same steps, same dropout draws. Two kinds of evidence that inputs and labels are paired:

* on the subset, the true labels are learned faster than permuted ones;
* on held-out batches (read but not trained on), the model trained on the true labels does better
  than the one trained on permuted labels: it learned something that carries over, which a model
  can only do when labels belong to their inputs. This settles the case where a model memorises a
  small subset as fast with random labels as with true ones.

Learning is measured as a share of (initial loss - the task's floor), so label smoothing or soft
targets (whose floor is above 0) do not shrink it. DLC709 needs both kinds of evidence to be
absent *and* the subset to have been learned (memorised) clearly in one of the runs: a model
that learns nothing in the steps given says nothing about the data ("inconclusive").

This module measures (the runs, :class:`Pairing`); verdict.py judges them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch

from dlcheck import distributed
from dlcheck.batches import dict_keys
from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.errors import SetupFailure
from dlcheck.training import Trainer
from dlcheck.training.step import NO_PARAMETERS


def label_slot(ctx: Context, batch, targets):
    """Where the labels sit in a batch: ('item', index) or ('key', key); None when unknown.

    Without a target ``forward`` it is the usual place; with one, the batch entry holding the
    targets the forward returned (the same tensor, equal values, or the same values flattened,
    as a language model's forward flattens (B, T) token targets)."""
    if not ctx.target.own_step:
        if isinstance(batch, (tuple, list)):
            return ("item", 1)
        return ("key", dict_keys(batch, ctx.input_key, ctx.target_key)[1])
    entries = list(enumerate(batch)) if isinstance(batch, (tuple, list)) else \
        list(batch.items()) if isinstance(batch, dict) else []
    for test in (lambda v: v is targets, lambda v: same(v, targets), lambda v: _flat_same(v, targets)):
        found = [k for k, v in entries if isinstance(v, torch.Tensor) and v.dim() >= 1 and test(v)]
        if len(found) == 1:
            return ("key" if isinstance(batch, dict) else "item", found[0])
        if found:
            return None
    return None


def _flat_same(a, b) -> bool:
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.numel() == b.numel() > 0
            and bool((a.reshape(-1) == b.reshape(-1)).all()))


def _get(batch, slot):
    return batch[slot[1]]


def _replace(batch, slot, value):
    kind, key = slot
    if kind == "key":
        new = dict(batch) if type(batch) is dict else copy.copy(batch)
        new[key] = value
        return new
    items = list(batch)
    items[key] = value
    if isinstance(batch, tuple):
        return type(batch)(*items) if hasattr(batch, "_fields") else type(batch)(items)
    return items


@dataclass
class Run:
    """One fit: its training losses, and the held-out loss before and after it."""

    curve: list[float]
    floor: float | None  # the task's floor on the subset (None where the task has none)
    constant: float | None  # the best input-independent loss on the subset (a well-set output bias)
    expected: float | None  # the loss of outputs at zero on the subset (a model that knows nothing)
    held_before: float | None = None
    held_after: float | None = None
    held_floor: float | None = None
    held_constant: float | None = None  # the best input-independent loss on the held-out batches
    held_hits: tuple[int, int] | None = None  # (correct, counted) predictions on the held-out batches
    held_majority: int | None = None  # held-out samples of their most frequent class (one class label
    #                                   per sample): the best constant prediction's hits
    #                                           after the fit, where accuracy applies (class labels)


@dataclass
class Pairing:
    """The pairing control as measured: why it could not run, or the pairs of runs (true labels,
    permuted labels) judged, in order (the short runs, the longer ones, the longer ones on a wider
    subset when they were run; the pair whose verdict stands last), with the batches in each pair's
    subset."""

    skipped: str | None = None  # the DLC710 message when the control could not run
    judged: list[tuple[Run, Run]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # batches in each pair's subset
    lr: float = 0.0

    def add(self, batches: int, true: Run, perm: Run) -> None:
        self.judged.append((true, perm))
        self.sizes.append(batches)

    def stand(self, index: int) -> None:
        """Move the pair at ``index`` last: the verdict that stands is the last pair's."""
        self.judged.append(self.judged.pop(index))
        self.sizes.append(self.sizes.pop(index))


def measure(ctx: Context, kept: list, slot, skip: str | None) -> Pairing:
    """The runs on the batches data-check kept: ``(index, batch, 'train' | 'more' | 'holdout')``
    (reader.plan): the short runs on the 'train' batches; without evidence of pairing after them,
    the longer runs on those and the 'more' batches, a wider subset that random labels take longer
    to memorise (the evidence of a high-capacity model, which memorises a few batches of permuted
    labels as fast as true ones)."""
    from dlcheck.checks.data_check.verdict import verdict

    if skip:
        return Pairing(skipped=f"pairing control skipped: {skip}")
    train = [(i, b) for i, b, role in kept if role == "train"]
    wide = [(i, b) for i, b, role in kept if role in ("train", "more")]
    held = [(i, b) for i, b, role in kept if role == "holdout"]
    if slot is None or not train:
        return Pairing(skipped="pairing control skipped: the target's forward() takes the labels from the "
                               "batch in a way dlcheck cannot rebuild with permuted labels")
    labels = [_get(b, slot) for _, b in wide]
    if not all(isinstance(t, torch.Tensor) and t.dim() >= 1 for t in labels) or \
            sum(len(_get(b, slot)) for _, b in train) < 2:
        return Pairing(skipped="pairing control skipped: the labels cannot be permuted across samples "
                               "(fewer than 2 samples, or labels that are not tensors)")
    steps, longer = int(ctx.settings["pair_steps"]), int(ctx.settings["pair_max_steps"] or 0)
    shuffled = _permuted(ctx, train, slot)
    found = Pairing(lr=ctx.lr)
    try:
        found.add(len(train), _fit(ctx, train, held, steps), _fit(ctx, shuffled, held, steps))
    except SetupFailure as exc:  # a model without parameters: the checks that train say DLC005
        if exc.message != NO_PARAMETERS:
            raise
        return Pairing(skipped=f"pairing control skipped: {NO_PARAMETERS}")
    kind = lambda: verdict(*found.judged[-1], found.sizes[-1], found.lr, ctx.settings).kind  # noqa: E731
    if kind() in ("paired", "nan") or longer <= steps or ctx.out_of_time():
        return found
    # no evidence of pairing after the short runs: the two runs again, longer
    found.add(len(train), _fit(ctx, train, held, longer), _fit(ctx, shuffled, held, longer))
    if kind() not in ("apart", "weak") or len(wide) <= len(train) or ctx.out_of_time():
        return found
    # learned without a lead: once more on the wider subset (a model that memorises a few batches of
    # random labels as fast as true ones takes longer over more of them)
    found.add(len(wide), _fit(ctx, wide, held, longer), _fit(ctx, _permuted(ctx, wide, slot), held, longer))
    if kind() == "unlearned":
        found.stand(-2)  # the wider subset was too much to learn in those steps: the 4 batches' verdict stands
    return found


def _permuted(ctx: Context, subset: list, slot) -> list:
    """``subset`` with its labels permuted across its samples (seeded)."""
    permuted = _permute([_get(b, slot) for _, b in subset], ctx.seed)
    return [(i, _replace(b, slot, p)) for (i, b), p in zip(subset, permuted)]


def labels_used(ctx: Context, batch, slot) -> tuple[bool | None, bool]:
    """Whether the loss depends on the labels at ``slot`` of ``batch`` at all, and whether the model
    reads them as inputs too: the initial model's loss, gradients and outputs with the true and with
    permuted labels (same dropout draws). Identical loss and gradients: used is False (the loss
    ignores them, as a VAE ignores its dataset's digit labels); None when it cannot tell (labels not
    found or not permutable). Outputs that change: read is True (teacher forcing: an encoder-decoder
    shifts its labels into its decoder's inputs). The same answers on every rank."""
    labels = _get(batch, slot) if slot is not None and batch is not None else None
    unused, read = None, False
    if isinstance(labels, torch.Tensor) and labels.dim() >= 1 and len(labels) >= 2:
        permuted = next((p for k in range(4) for p in _permute([labels], ctx.seed + k) if not same(p, labels)), None)
        if permuted is not None:
            try:
                with ctx.model() as model:
                    model.train()
                    net = getattr(model, "module", model)  # DDP: the local module, no collective in the probe
                    true = _loss_and_grads(ctx, net, batch)
                    perm = _loss_and_grads(ctx, net, _replace(batch, slot, permuted))
                unused = true is not None and perm is not None and _alike(true[:2], perm[:2])
                read = true is not None and perm is not None and _outputs_differ(true[2], perm[2])
            except Exception:  # noqa: BLE001 - a probe: a loss that fails here fails in the checks that train
                unused = None
    read = distributed.all_true(bool(read))
    return (False if distributed.all_true(bool(unused)) else (None if unused is None else True)), read


def _loss_and_grads(ctx: Context, model, batch):
    seed_everything(ctx.seed)
    outputs, targets = ctx.forward(model, batch, 0)
    loss = ctx.loss(outputs, targets)
    if not (isinstance(loss, torch.Tensor) and loss.requires_grad and bool(torch.isfinite(loss).all())):
        return None
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    try:
        logits = ctx.logits(outputs)
    except Exception:  # noqa: BLE001 - no logits tensor: nothing to compare
        logits = None
    return loss.detach(), grads, logits.detach() if isinstance(logits, torch.Tensor) else None


def _outputs_differ(a, b) -> bool:
    """The model's outputs (its logits) changed with the labels alone: it reads them as inputs."""
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and not bool(torch.allclose(a.float(), b.float(), rtol=1e-5, atol=1e-7)))


def _alike(a, b) -> bool:
    close = lambda x, y: bool(torch.allclose(x.float(), y.float(), rtol=1e-5, atol=1e-7))  # noqa: E731
    return close(a[0], b[0]) and all((x is None) == (y is None) and (x is None or close(x, y))
                                     for x, y in zip(a[1], b[1]))


def _permute(labels: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """One permutation of the samples' labels across the subset (within each batch when the
    batches' label shapes differ, e.g. padded sequences of different lengths)."""
    gen = torch.Generator().manual_seed(seed)
    if len({t.shape[1:] for t in labels}) == 1:
        joined = torch.cat(labels)
        order = torch.randperm(len(joined), generator=gen).to(joined.device)
        return list(joined[order].split([len(t) for t in labels]))
    return [t[torch.randperm(len(t), generator=gen).to(t.device)] for t in labels]


def _fit(ctx: Context, subset: list, held: list, steps: int) -> Run:
    """``steps`` training steps over ``subset`` from the target's initial model; the
    held-out loss (training mode, no gradient) before and after."""
    with ctx.model() as model:
        model.train()
        seed_everything(ctx.seed)  # the same dropout masks in both runs
        held_before, held_refs, _ = _evaluate(ctx, model, held)
        trainer = Trainer(ctx, model, ctx.optimizer(model.parameters()))
        losses, floors = [], []
        for step in range(steps):
            i, batch = subset[step % len(subset)]
            out = trainer.step(batch, i)
            losses.append(out.loss.float())
            if step < len(subset):
                floors.append(ctx.task.reference(ctx.loss_fn, out.outputs, out.targets, out.raw))
            if ctx.out_of_time():
                break
        held_after, _, hits = _evaluate(ctx, model, held)
        curve = distributed.mean(torch.stack(losses)).tolist()  # one transfer per run; the ranks' mean
    from dlcheck.task import References

    refs = distributed.mean_refs(References.mean(floors))
    return Run(curve, refs.floor, refs.constant, refs.expected, held_before, held_after, held_refs.floor,
               held_refs.constant, hits[0] if hits else None, hits[1] if hits else None)


def _evaluate(ctx: Context, model, held: list):
    """Mean loss, mean References and (correct, counted) predictions where accuracy applies (None
    elsewhere) over the held-out batches (true labels), without gradients."""
    from dlcheck.task import References

    if not held:
        return None, References(), None

    losses, refs, hits, classes = [], [], [], []
    with torch.no_grad():
        for i, batch in held:
            outputs, targets = ctx.forward(model, batch, i)
            losses.append(ctx.loss(outputs, targets).detach().float())
            try:
                logits = ctx.logits(outputs)
                refs.append(ctx.task.reference(ctx.loss_fn, logits, targets, outputs))
                hits.append(ctx.task.hits(logits, targets))
                classes.append(_class_counts(ctx.task, logits, targets))
            except Exception:  # no logits tensor: no floor, no accuracy
                refs.append(References())
                hits.append(None)
                classes.append(None)
    value = float(distributed.mean(torch.stack(losses).mean()))  # under torchrun: the ranks' mean
    counted = None
    if hits and None not in hits:  # under torchrun: every rank's predictions
        total = distributed.sum_tensor(torch.stack([torch.stack([c.float(), n.float()]) for c, n in hits]).sum(0))
        majority = None
        if None not in classes and len({c.numel() for c in classes}) == 1:
            majority = int(distributed.sum_tensor(torch.stack(classes).sum(0).float()).max())
        counted = ((int(total[0]), int(total[1])), majority)
    return (value if math.isfinite(value) else None), distributed.mean_refs(References.mean(refs)), counted


def _class_counts(task, logits, targets) -> torch.Tensor | None:
    """Held-out samples per class where each sample has one class label (``(N,)`` targets against
    ``(N, C)`` logits, ignore_index left out); None elsewhere (positions within a sample are not
    independent draws, multi-labels have no single majority)."""
    if not task.class_targets(logits, targets) or logits.dim() != 2:
        return None
    kept = targets[targets != task.ignore_index]
    if bool(((kept < 0) | (kept >= logits.shape[1])).any()):
        return None
    return torch.bincount(kept, minlength=logits.shape[1])


def same(a, b) -> bool:
    """Two tensors of the same shape and values."""
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and bool((a == b).all()))


def batch_size(t: torch.Tensor) -> int:
    return int(t.shape[0]) if t.dim() else 1
