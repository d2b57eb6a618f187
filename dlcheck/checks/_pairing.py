"""data-check's pairing control (DLC709): a short fit of the same initial model on a small subset
with the true labels, and again with the labels permuted across the subset. When the true labels
are learned no faster than permuted ones, inputs and labels have come apart (the
``X.shuffle(); Y.shuffle()`` bug). Same init, same batches, same steps, same dropout draws."""

from __future__ import annotations

import copy
import math

import torch

from dlcheck.batches import dict_keys
from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.results import CheckResult
from dlcheck.training import Trainer


def obstacle(result: CheckResult, labels_ok: bool, sorted_batches: bool) -> str | None:
    codes = {f.code for f in result.findings}
    if "DLC704" in codes:
        return "the inputs hold NaN/Inf"
    if "DLC701" in codes:
        return "the inputs are raw 0-255 values (scale them first)"
    if not labels_ok:
        return "labels are out of range"
    if sorted_batches:
        return "the batches are sorted by class"
    return None


def _label_slot(ctx: Context, batch, targets):
    """Where the targets sit in a batch: ('item', index) or ('key', key); None when unknown."""
    if ctx.target.forward is None:
        if isinstance(batch, (tuple, list)):
            return ("item", 1)
        return ("key", dict_keys(batch, None, ctx.target_key)[1])
    entries = list(enumerate(batch)) if isinstance(batch, (tuple, list)) else \
        list(batch.items()) if isinstance(batch, dict) else []
    found = [k for k, v in entries if v is targets] or [k for k, v in entries if same(v, targets)]
    if len(found) != 1:
        return None
    return ("key" if isinstance(batch, dict) else "item", found[0])


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


def control(ctx: Context, batches: list, labels: list, skip: str | None) -> None:
    """DLC709: same init, same batches, same steps; true labels against one permutation of them."""
    s, result = ctx.settings, ctx.result
    if skip:
        result.add("DLC710", f"pairing control skipped: {skip}")
        return
    k = min(int(s["pair_batches"]), len(batches))
    picks = sorted({round(i * (len(batches) - 1) / max(k - 1, 1)) for i in range(k)})  # spread out
    subset = [batches[i] for i in picks]
    targets = [labels[i] for i in picks]
    slots = [_label_slot(ctx, b, t) for b, t in zip(subset, targets)]
    if any(slot is None for slot in slots):
        result.add("DLC710", "pairing control skipped: the target's forward() takes the labels from the "
                             "batch in a way dlcheck cannot rebuild with permuted labels")
        return
    sizes = [batch_size(t) for t in targets]
    if any(t.dim() == 0 for t in targets) or len({t.shape[1:] for t in targets}) != 1 or sum(sizes) < 2:
        result.add("DLC710", "pairing control skipped: the labels cannot be permuted across samples "
                             "(fewer than 2 samples, or label shapes that differ between batches)")
        return
    gen = torch.Generator().manual_seed(ctx.seed)
    joined = torch.cat(targets)
    permuted = joined[torch.randperm(len(joined), generator=gen).to(joined.device)].split(sizes)
    shuffled = [_replace(b, slot, p) for b, slot, p in zip(subset, slots, permuted)]
    true_curve = _fit(ctx, subset, picks)
    perm_curve = _fit(ctx, shuffled, picks)
    _judge_pairing(ctx, true_curve, perm_curve, len(subset))


def _fit(ctx: Context, subset: list, picks: list) -> list[float]:
    """Training losses of ``pair_steps`` steps over ``subset``, from the target's initial model."""
    with ctx.model() as model:
        model.train()
        seed_everything(ctx.seed)  # the same dropout masks in both runs
        trainer = Trainer(ctx, model, ctx.optimizer(model.parameters()))
        losses = []
        for step in range(int(ctx.settings["pair_steps"])):
            i = step % len(subset)
            losses.append(trainer.step(subset[i], picks[i]).loss.float())
            if ctx.out_of_time():
                break
        return torch.stack(losses).tolist()  # one transfer per run


def _judge_pairing(ctx: Context, true_curve: list[float], perm_curve: list[float], n: int) -> None:
    """Learning = 1 - (mean loss over the run) / (loss at step 1), an area under the curve, so an
    early lead counts and late memorisation of the permuted labels cannot hide it. Paired data:
    the true labels learn several times more. Measured at 40 steps (seeds 0-3): healthy zoo set-ups
    1.8-9.5x and at least +0.11; labels apart 0.91-1.05x and within +-0.01."""
    s, result = ctx.settings, ctx.result
    steps = min(len(true_curve), len(perm_curve))
    true_curve, perm_curve = true_curve[:steps], perm_curve[:steps]
    _write_curves(ctx, true_curve, perm_curve)
    if not all(map(math.isfinite, true_curve + perm_curve)):
        result.add("DLC710", "pairing control inconclusive: the loss became NaN/Inf (see overfit-small "
                             "and lr-find)")
        return
    m = max(1, min(n, steps // 4))  # one pass over the subset
    area_true, area_perm = sum(true_curve) / steps, sum(perm_curve) / steps
    start = (true_curve[0] + perm_curve[0]) / 2
    learn_true = 1 - area_true / start if start > 0 else 0.0
    learn_perm = 1 - area_perm / start if start > 0 else 0.0
    final_true, final_perm = sum(true_curve[-m:]) / m, sum(perm_curve[-m:]) / m
    result.metrics.update({
        "pair_steps": steps, "pair_final_true_loss": round(final_true, 6),
        "pair_final_permuted_loss": round(final_perm, 6),
        "pair_final_ratio": round(final_true / final_perm, 6) if final_perm > 0 else None,
        "pair_learning_true": round(learn_true, 6), "pair_learning_permuted": round(learn_perm, 6),
    })
    if learn_true - learn_perm >= s["pair_margin"] or \
            (learn_true >= s["pair_min_learning"] and learn_true >= s["pair_ratio"] * learn_perm):
        return
    if max(learn_true, learn_perm) < s["pair_min_learning"]:
        result.add("DLC710", f"pairing control inconclusive: neither the true nor the permuted labels were "
                             f"learned in {steps} steps at lr {ctx.lr:g} (see overfit-small and lr-find)")
        return
    result.add("DLC709", f"in {steps} steps on {n} batches the true labels were learned no faster than "
                         f"permuted ones (loss fell {learn_true:.0%} vs {learn_perm:.0%} on average; final "
                         f"{final_true:.3g} vs {final_perm:.3g})")


def _write_curves(ctx: Context, true_curve: list[float], perm_curve: list[float]) -> None:
    rows = [{"step": i + 1, "true_labels": t, "permuted_labels": p}
            for i, (t, p) in enumerate(zip(true_curve, perm_curve))]
    ctx.write_csv("pairing.csv", rows)
    path = ctx.artifact("pairing.png")
    if path is not None:
        from dlcheck.render.plots import data_pairing_curves

        data_pairing_curves(path, true_curve, perm_curve)


def same(a, b) -> bool:
    """Two tensors of the same shape and values."""
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and bool((a == b).all()))


def batch_size(t: torch.Tensor) -> int:
    return int(t.shape[0]) if t.dim() else 1
