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
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from dlcheck import distributed
from dlcheck.batches import dict_keys
from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.results import CheckResult
from dlcheck.training import Trainer


def obstacle(result: CheckResult, labels_ok: bool, sorted_batches: bool, problem: str | None = None) -> str | None:
    codes = {f.code for f in result.findings}
    if problem:
        return f"the set-up cannot train ({problem})"
    if "DLC704" in codes:
        return "the inputs or targets hold NaN/Inf"
    if "DLC701" in codes:
        return "the inputs are raw 0-255 values (scale them first)"
    if not labels_ok:
        return "labels are out of range"
    if sorted_batches:
        return "the batches are sorted by class"
    return None


def label_slot(ctx: Context, batch, targets):
    """Where the labels sit in a batch: ('item', index) or ('key', key); None when unknown.

    Without a target ``forward`` it is the usual place; with one, the batch entry holding the
    targets the forward returned (the same tensor, equal values, or the same values flattened,
    as a language model's forward flattens (B, T) token targets)."""
    if ctx.target.forward is None:
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


def control(ctx: Context, kept: list, slot, skip: str | None) -> None:
    """DLC709 on the batches data-check kept: ``(index, batch, 'train' | 'holdout')``."""
    result = ctx.result
    if skip:
        result.add("DLC710", f"pairing control skipped: {skip}")
        return
    train = [(i, b) for i, b, role in kept if role == "train"]
    held = [(i, b) for i, b, role in kept if role == "holdout"]
    if slot is None or not train:
        result.add("DLC710", "pairing control skipped: the target's forward() takes the labels from the "
                             "batch in a way dlcheck cannot rebuild with permuted labels")
        return
    labels = [_get(b, slot) for _, b in train]
    if not all(isinstance(t, torch.Tensor) and t.dim() >= 1 for t in labels) or sum(len(t) for t in labels) < 2:
        result.add("DLC710", "pairing control skipped: the labels cannot be permuted across samples "
                             "(fewer than 2 samples, or labels that are not tensors)")
        return
    permuted = _permute(labels, ctx.seed)
    shuffled = [(i, _replace(b, slot, p)) for (i, b), p in zip(train, permuted)]
    steps, longer = int(ctx.settings["pair_steps"]), int(ctx.settings["pair_max_steps"] or 0)
    verdict, message = _judge(ctx, _fit(ctx, train, held, steps), _fit(ctx, shuffled, held, steps), len(train))
    if verdict in ("apart", "weak") and longer > steps and not ctx.out_of_time():
        # no evidence of pairing after the short runs: the same two runs again, longer, before a verdict
        verdict, message = _judge(ctx, _fit(ctx, train, held, longer), _fit(ctx, shuffled, held, longer), len(train))
    if verdict == "apart":
        result.add("DLC709", message)
    elif verdict != "paired":
        result.add("DLC710", message)


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
        held_before, held_refs = _evaluate(ctx, model, held)
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
        held_after, _ = _evaluate(ctx, model, held)
        curve = distributed.mean(torch.stack(losses)).tolist()  # one transfer per run; the ranks' mean
    from dlcheck.task import References

    refs = distributed.mean_refs(References.mean(floors))
    return Run(curve, refs.floor, refs.constant, refs.expected, held_before, held_after, held_refs.floor,
               held_refs.constant)


def _evaluate(ctx: Context, model, held: list):
    """Mean loss and mean References over the held-out batches (true labels), without gradients."""
    from dlcheck.task import References

    if not held:
        return None, References()

    losses, refs = [], []
    with torch.no_grad():
        for i, batch in held:
            outputs, targets = ctx.forward(model, batch, i)
            losses.append(ctx.loss(outputs, targets).detach().float())
            try:
                refs.append(ctx.task.reference(ctx.loss_fn, ctx.logits(outputs), targets, outputs))
            except Exception:  # no logits tensor: no floor
                refs.append(References())
    value = float(distributed.mean(torch.stack(losses).mean()))  # under torchrun: the ranks' mean
    return (value if math.isfinite(value) else None), distributed.mean_refs(References.mean(refs))


def _share(start: float, value: float, floor: float) -> float:
    """How far ``value`` came from ``start`` towards ``floor``, as a share of the way."""
    span = start - floor
    return (start - value) / span if span > 1e-12 else 0.0


def _judge(ctx: Context, true: Run, perm: Run, n: int) -> tuple[str, str | None]:
    """``(verdict, message)``: paired | apart | weak (too little learned to tell) | nan.

    Subset evidence: learning = the mean loss over the run (an area under the curve, so an early
    lead counts and late memorisation of the permuted labels cannot hide it) as a share of (loss at
    step 1 - floor). Held-out evidence: how far the held-out loss fell below the best
    input-independent loss (the task's constant reference; the initial loss without one), as a
    share of the way to the floor, clipped at 0: a model trained on labels that do not belong to
    their inputs cannot beat the constant on new samples, however much it memorised.

    Measured (seeds 0-2, tests/zoo and tests/tasks): labels apart (digits, diabetes, text, masks)
    held-out 0 % in both runs, subset 0.14-0.55 vs 0.14-0.56 after 160 steps, memorised 0.22-0.91;
    healthy set-ups held-out 10-93 % with the true labels (an LSTM on a plateau only after 160
    steps), at most 14 % with permuted ones."""
    s, result = ctx.settings, ctx.result
    steps = min(len(true.curve), len(perm.curve))
    tc, pc = true.curve[:steps], perm.curve[:steps]
    _write_curves(ctx, tc, pc)
    if not all(map(math.isfinite, tc + pc)):
        return "nan", "pairing control inconclusive: the loss became NaN/Inf (see overfit-small and lr-find)"
    floor = true.floor if true.floor is not None else min(0.0, *tc, *pc)
    start = (tc[0] + pc[0]) / 2
    learn_true = _share(start, sum(tc) / steps, floor)
    learn_perm = _share(start, sum(pc) / steps, floor)
    m = max(1, min(n, steps // 4))  # one pass over the subset
    final_true, final_perm = sum(tc[-m:]) / m, sum(pc[-m:]) / m
    result.metrics.update({
        "pair_steps": steps, "pair_final_true_loss": round(final_true, 6),
        "pair_final_permuted_loss": round(final_perm, 6),
        "pair_final_ratio": round(final_true / final_perm, 6) if final_perm > 0 else None,
        "pair_learning_true": round(learn_true, 6), "pair_learning_permuted": round(learn_perm, 6),
        "pair_floor": round(floor, 6),
    })
    held = ""
    paired_held = False
    if None not in (true.held_before, true.held_after, perm.held_after):
        h_floor = true.held_floor if true.held_floor is not None else min(0.0, true.held_before)
        ref = min(true.held_before, true.held_constant) if true.held_constant is not None else true.held_before
        gen_true = max(0.0, _share(ref, true.held_after, h_floor))
        gen_perm = max(0.0, _share(ref, perm.held_after, h_floor))
        result.metrics.update({"pair_heldout_true": round(gen_true, 6), "pair_heldout_permuted": round(gen_perm, 6)})
        paired_held = gen_true - gen_perm >= s["pair_holdout_margin"]
        held = f"; on held-out batches {gen_true:.0%} vs {gen_perm:.0%} below the best constant output"
    gap = learn_true - learn_perm
    # learned several times more, or (a big model memorises permuted labels too) left several times
    # less unlearned: the share of the way cannot pass 1, so 0.87 vs 0.74 is 2x less left, not 1.2x more
    faster = learn_true >= s["pair_ratio"] * max(learn_perm, 0.0) or \
        (1 - learn_perm) >= s["pair_ratio"] * max(1 - learn_true, 0.0)
    paired_subset = gap >= s["pair_margin"] and faster
    if paired_subset or paired_held:
        return "paired", None
    # memorised: how far below the best constant output the runs ended (learning an output scale
    # or the label prior is no evidence either way)
    base = min(start, true.constant) if true.constant is not None else start
    memorised = max(_share(base, final_true, floor), _share(base, final_perm, floor))
    result.metrics["pair_memorised"] = round(memorised, 6)
    if memorised < s["pair_memorised"]:
        return "weak", (f"pairing control inconclusive: in {steps} steps at lr {ctx.lr:g} neither the true nor the "
                        f"permuted labels were learned below the best constant output by more than "
                        f"{max(memorised, 0):.0%} of the way to the floor: too little to tell them apart (see "
                        f"overfit-small; raise pair_max_steps)")
    if true.expected is not None and start > s["pair_init_ratio"] * max(true.expected, 1e-12):
        return "weak", (f"pairing control inconclusive: both runs memorised the subset alike, but the loss at step 1 "
                        f"({start:.3g}) is {start / max(true.expected, 1e-12):.0f}x that of outputs at zero "
                        f"({true.expected:.3g}): the model's init dominates what it learns (see init-loss)")
    excess_true, excess_perm = final_true - floor, final_perm - floor
    if gap > s["pair_apart_gap"] or (excess_perm > 0 and s["pair_ratio"] * excess_true < excess_perm):
        # the true labels are ahead, but not by enough to call them paired: weak evidence either way
        return "weak", (f"pairing control inconclusive: the true labels were learned somewhat faster than "
                        f"permuted ones ({learn_true:.0%} vs {learn_perm:.0%} of the way to the floor; final "
                        f"{final_true:.3g} vs {final_perm:.3g}{held}), not by the margin that shows pairing: "
                        f"a model that memorises permuted labels too leaves too little to tell apart")
    return "apart", (f"in {steps} steps on {n} batches the true labels were learned no faster than permuted "
                     f"ones (loss fell {learn_true:.0%} vs {learn_perm:.0%} of the way to its floor on average; "
                     f"final {final_true:.3g} vs {final_perm:.3g}{held})")


def _write_curves(ctx: Context, true_curve: list[float], perm_curve: list[float]) -> None:
    rows = [{"step": i + 1, "true_labels": t, "permuted_labels": p}
            for i, (t, p) in enumerate(zip(true_curve, perm_curve))]
    ctx.result.table("pairing.csv", rows)
    ctx.result.figure("data_pairing_curves", "pairing control", file="pairing.png", true_losses=true_curve,
                      permuted_losses=perm_curve)


def same(a, b) -> bool:
    """Two tensors of the same shape and values."""
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and bool((a == b).all()))


def batch_size(t: torch.Tensor) -> int:
    return int(t.shape[0]) if t.dim() else 1
