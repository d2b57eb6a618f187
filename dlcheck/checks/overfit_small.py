"""Recipe step 2: a few batches, kept on the device, must be memorised: ~100 % training accuracy
and a loss near zero. When they are not, say why: divergence, a loss that never falls, outputs
that are already probabilities, parameters that never change, or a stall (capacity)."""

from __future__ import annotations

import torch
from torch import nn

from dlcheck.batches import rebatch
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, listing
from dlcheck.training import Trainer, all_finite

NAME = "overfit-small"
SETTINGS = {
    "batches": 5,  # the tiny subset, in batches of the train loader
    "batch_size": None,  # cut the subset into batches of this size instead of the loader's
    "max_steps": 500,  # optimizer steps before giving up
    "target_accuracy": 0.99,  # training accuracy that counts as memorised (classification)
    "near_zero_loss": 0.1,  # ... together with a mean loss at or below this
    "regression_fraction": 0.01,  # non-classification: fit when the loss falls below this x initial
    "flat_fraction": 0.9,  # final loss above this x initial: the loss never fell (DLC201)
    "frozen_fraction": 0.5,  # share of parameter elements that never changed: DLC204
    "slow_steps": 400,  # fit, but only after more steps than this: DLC206
    "chunk": 20,  # steps between host synchronisations
}


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    batches = _subset(ctx, int(s["batches"]), s["batch_size"])
    n = len(batches)
    classify = ctx.is_cross_entropy
    with ctx.model() as model:
        model.train()
        turned_off = _regularisation_off(model)
        optimizer = ctx.optimizer(model.parameters())
        for group in optimizer.param_groups:
            if group.get("weight_decay", 0):
                group["weight_decay"] = 0.0
                turned_off.add("weight decay")
        initial = {name: p.detach().clone() for name, p in model.named_parameters()}
        trainer = Trainer(ctx, model, optimizer)
        losses, correct, seen = [], [], []
        first_outputs = None
        diverged_at = None
        fit_at = None
        with ctx.progress(int(s["max_steps"]), "overfit-small") as advance:
            for step in range(int(s["max_steps"])):
                out = trainer.step(batches[step % n], step % n)
                if first_outputs is None:
                    first_outputs = out.outputs.float()
                losses.append(out.loss.float())
                if classify and out.outputs.dim() >= 2 and isinstance(out.targets, torch.Tensor) \
                        and not out.targets.dtype.is_floating_point:
                    correct.append((out.outputs.argmax(1) == out.targets).sum())
                    seen.append(out.targets.numel())
                advance()
                if (step + 1) % int(s["chunk"]) and step + 1 != int(s["max_steps"]):
                    continue
                ok, bad = all_finite(losses[-int(s["chunk"]):])  # one sync per chunk
                if not ok:
                    diverged_at = len(losses) - len(losses[-int(s["chunk"]):]) + bad
                    break
                if step + 1 >= n and _fits(losses, correct, seen, n, classify, s):
                    fit_at = step + 1
                    break
                if ctx.out_of_time():
                    break
        curve = torch.stack(losses).tolist()  # one transfer at the end
        unchanged = _unchanged(model, initial)
        total = sum(p.numel() for p in initial.values())
    steps = len(curve)
    initial_loss, final_loss = curve[0], sum(curve[-n:]) / len(curve[-n:])
    accuracy = float(torch.stack(correct[-n:]).sum()) / sum(seen[-n:]) if correct else None
    result.metrics.update({"steps": steps, "fit": fit_at is not None, "initial_loss": round(initial_loss, 6),
                           "final_loss": round(final_loss, 6) if final_loss == final_loss else str(final_loss),
                           "lr": ctx.lr, "samples": sum(_count(b, ctx) for b in batches)})
    if accuracy is not None:
        result.metrics["final_accuracy"] = round(accuracy, 6)
    _write_curve(ctx, curve)
    if turned_off:
        result.add("DLC207", f"turned off for this run: {', '.join(sorted(turned_off))}")

    if diverged_at is not None:
        result.summary = f"the loss became non-finite at step {diverged_at}"
        result.add("DLC202", f"the loss became NaN/Inf at step {diverged_at} (lr {ctx.lr:g})")
        return result
    if fit_at is not None:
        acc = f", accuracy {accuracy:.0%}" if accuracy is not None else ""
        result.summary = f"memorised {n} batches in {fit_at} steps (loss {final_loss:.3g}{acc})"
        if fit_at > s["slow_steps"]:
            result.add("DLC206", f"the subset was fit only after {fit_at} steps")
        return result
    acc = f", accuracy {accuracy:.0%}" if accuracy is not None else ""
    result.summary = f"not memorised after {steps} steps: loss {initial_loss:.3g} -> {final_loss:.3g}{acc}"
    if classify and _are_probabilities(first_outputs):
        result.add("DLC203", "the model's outputs are non-negative and sum to 1 per sample: a softmax "
                             "runs before CrossEntropyLoss, which applies its own")
    elif total and sum(unchanged.values()) / total >= s["frozen_fraction"]:
        names = sorted(unchanged, key=unchanged.get, reverse=True)
        shown = listing(names)
        share = sum(unchanged.values()) / total
        result.add("DLC204", f"{share:.0%} of the parameters never changed ({shown}): frozen, "
                             f"without gradient, or missing from the optimizer")
    elif final_loss >= s["flat_fraction"] * initial_loss:
        result.add("DLC201", f"the loss did not fall: {initial_loss:.3g} -> {final_loss:.3g} in {steps} "
                             f"steps at lr {ctx.lr:g}")
    else:
        result.add("DLC205", f"the loss fell from {initial_loss:.3g} but stalled at {final_loss:.3g}")
    return result


def _subset(ctx: Context, count: int, size) -> list:
    """``count`` batches: the loader's first, or (with ``batch_size``) its first samples re-cut."""
    if size is None:
        return ctx.batches(count)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or count < 1:
        raise UserError(f"overfit-small: batches and batch_size must be at least 1, not {count} and {size}")
    if ctx.target.forward is not None:
        raise UserError("overfit-small: --batch-size needs (inputs, targets) batches; with a forward() "
                        "in the target, batch the loader yourself")
    raw, seen = [], 0
    for index, batch in ctx.stream(count * size):  # enough loader batches for count x size samples
        raw.append(batch)
        seen += len(ctx.split(batch, index)[1])
        if seen >= count * size:
            break
    return rebatch(raw, size, ctx.target.where("train_loader"))[:count]


def _regularisation_off(model: nn.Module) -> set[str]:
    """Dropout modules to eval mode (the model's modes are restored afterwards)."""
    found = set()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            module.eval()
            found.add("dropout")
    return found


def _fits(losses, correct, seen, n, classify, s) -> bool:
    """The last pass over the subset memorised it (one host sync)."""
    recent = torch.stack(losses[-n:]).mean()
    if classify and correct:
        accuracy = torch.stack(correct[-n:]).sum().float() / sum(seen[-n:])
        return bool((accuracy >= s["target_accuracy"]) & (recent <= s["near_zero_loss"]))
    return bool(recent <= s["regression_fraction"] * losses[0])


def _unchanged(model: nn.Module, initial: dict) -> dict[str, int]:
    """Parameter name -> element count, for parameters bit-identical to their initial value."""
    return {name: p.numel() for name, p in model.named_parameters() if torch.equal(p.detach(), initial[name])}


def _are_probabilities(outputs) -> bool:
    if outputs is None or outputs.dim() != 2 or outputs.shape[1] < 2:
        return False
    sums = outputs.sum(dim=1)
    return bool((outputs.min() >= 0) & ((sums - 1).abs().max() < 1e-3))


def _count(batch, ctx: Context) -> int:
    if ctx.target.forward is not None:
        return 0
    _, targets = ctx.split(batch)
    return int(targets.shape[0]) if isinstance(targets, torch.Tensor) and targets.dim() else 0


def _write_curve(ctx: Context, curve: list[float]) -> None:
    rows = [{"step": i + 1, "loss": v} for i, v in enumerate(curve)]
    ctx.write_csv("loss.csv", rows)
    path = ctx.artifact("loss.png")
    if path is not None:
        from dlcheck.render.plots import loss_curve

        loss_curve(path, curve, title="overfit-small: training loss on the tiny subset")
