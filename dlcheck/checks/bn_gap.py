"""Recipe step 5: BatchNorm's set-up, and the gap between its train-mode and eval-mode outputs.

Static findings come from one traced batch (forward hooks record *execution* order, which module
registration order is not): BN whose output is the model's output (DLC501), a conv/linear bias
feeding straight into BN (DLC502), ``track_running_stats=False`` (DLC503), ``momentum=0``
(DLC504), the batch size the BN layers see (DLC505/506).

The gap: training-mode passes without gradients first fill the running statistics (a fresh
model still has mean 0 / var 1). Then each compared batch (the val loader's when given) goes
through the model twice: all of it in eval mode, and with only the BN layers in train mode, so
that dropout and stochastic depth do not count as a gap. Outputs, loss and accuracy are compared,
and each BN layer's own gap (its train-mode output against the eval-mode normalisation of the
same input, reduced on the device in a hook) names the layer where the two modes part (DLC507).

Momentum, decided: ``momentum=None`` is PyTorch's cumulative moving average, legitimate and only
noted (DLC509); ``momentum=0`` keeps the initial statistics for good, so eval mode normalises
with mean 0 / var 1: a bug (DLC504). Warm-up stands in for a long training run at fixed
weights: a layer whose EMA would not converge within the warm-up passes is switched to the
cumulative average over them (what a long run's EMA settles at); a fast EMA keeps its momentum,
and momentum 0 stays 0. Momenta are put back afterwards; ``ctx.model()`` restores the rest.
"""

from __future__ import annotations

import math
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, listing, rounded
from dlcheck.state import Hooks

NAME = "bn-gap"
SETTINGS = {
    "batches": 4,  # batches compared in train and eval mode (the val loader's when given)
    "warmup_batches": 8,  # training-mode passes without gradients that fill the running statistics
    "small_batch": 16,  # batch size below this: warn (DLC505)
    "tiny_batch": 2,  # batch size at or below this: fail (DLC506)
    "warn_gap": 0.4,  # a BN layer's own relative train-vs-eval gap at or above this: warn (DLC507)
    "fail_gap": 0.8,  # ... at or above this: fail (DLC507)
    "high_momentum": 0.5,  # momentum at or above this: the Keras convention by mistake? (DLC510)
    "converged_weight": 0.05,  # initial statistics' weight left after warm-up that counts as converged
}

_LINEAR = (nn.Linear, nn.modules.conv._ConvNd)
_OTHER_NORMS = (nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    with ctx.model() as model:
        bns = {name: m for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
        if not bns:
            return _no_batchnorm(model, result)
        rows = {name: _row(name, m) for name, m in bns.items()}
        _static_findings(result, bns, float(s["high_momentum"]))
        momenta = {name: m.momentum for name, m in bns.items()}
        try:
            measured = _measure(ctx, model, bns, s)
        finally:
            for name, m in bns.items():
                m.momentum = momenta[name]
    if measured is None:  # batch size 1: train mode could not run at all
        result.details["bn_layers"] = list(rows.values())
        return result
    _report(ctx, rows, measured, s)
    return result


# -- static ------------------------------------------------------------------------------------
def _no_batchnorm(model: nn.Module, result: CheckResult) -> CheckResult:
    others: dict[str, int] = {}
    for m in model.modules():
        if isinstance(m, _OTHER_NORMS):
            others[type(m).__name__] = others.get(type(m).__name__, 0) + 1
    uses = f"; it normalises with {', '.join(f'{n} x{k}' for n, k in sorted(others.items()))}" if others else ""
    result.summary = f"no BatchNorm layer: nothing to compare{uses}"
    result.metrics["bn_layers"] = 0
    result.add("DLC508", f"the model has no BatchNorm layer{uses}; it behaves alike in train and eval mode "
                         f"as far as normalisation goes")
    return result


def _row(name: str, m: nn.Module) -> dict:
    return {"name": name, "kind": type(m).__name__, "features": int(m.num_features),
            "momentum": None if m.momentum is None else float(m.momentum), "eps": float(m.eps),
            "affine": bool(m.affine), "track_running_stats": bool(m.track_running_stats)}


def _static_findings(result: CheckResult, bns: dict[str, nn.Module], high_momentum: float) -> None:
    untracked = [n for n, m in bns.items() if not m.track_running_stats]
    inverted = [n for n, m in bns.items() if m.track_running_stats and m.momentum is not None
                and m.momentum >= high_momentum]
    frozen = [n for n, m in bns.items() if m.track_running_stats and m.momentum == 0]
    cumulative = [n for n, m in bns.items() if m.track_running_stats and m.momentum is None]
    if untracked:
        result.add("DLC503", f"track_running_stats=False in {_names(untracked)}: eval mode normalises with "
                             f"each batch's own statistics")
    if frozen:
        result.add("DLC504", f"momentum=0 in {_names(frozen)}: the running statistics never leave mean 0 / "
                             f"var 1, so eval mode normalises with them")
    if inverted:
        values = sorted({bns[n].momentum for n in inverted})
        result.add("DLC510", f"momentum={values[0]:g} in {_names(inverted)}: the running statistics follow "
                             f"the last {'batch' if values[0] >= 0.9 else 'few batches'} almost alone")
    if cumulative:
        result.add("DLC509", f"momentum=None in {_names(cumulative)}: a cumulative average over every batch "
                             f"since the last reset")


def _names(names: list[str], shown: int = 3) -> str:
    return listing([f"'{n}'" for n in names], shown)


# -- measuring ---------------------------------------------------------------------------------
class _Trace:
    """Forward hooks for the warm-up passes: BN execution order, the batch size each BN sees, and
    (while ``tracing``) which BN output is the model output and which biased layer feeds a BN."""

    def __init__(self, bns: dict[str, nn.Module], model: nn.Module, hooks: Hooks):
        self.order: list[str] = []
        self.batch: dict[str, int] = {}
        self.fed_by: dict[str, str] = {}
        self.bn_outputs: list[tuple[str, weakref.ref]] = []  # weak: nothing is kept alive
        self.produced: dict[int, tuple[weakref.ref, str]] = {}
        self.tracing = True  # first batch only
        self.warming = True  # batch sizes are the training batches'
        self.compared_batch: int | None = None
        for name, m in bns.items():
            hooks.add(m.register_forward_pre_hook(self._bn_input(name)))
            hooks.add(m.register_forward_hook(self._bn_output(name)))
        for name, m in model.named_modules():
            if isinstance(m, _LINEAR) and getattr(m, "bias", None) is not None:
                hooks.add(m.register_forward_hook(self._produced(name)))

    def _bn_input(self, name):
        def hook(module, args):
            x = args[0] if args else None
            if not isinstance(x, torch.Tensor) or x.dim() < 2:
                return
            if not self.warming:  # a compared pass: only its batch size matters
                self.compared_batch = min(self.compared_batch or x.shape[0], int(x.shape[0]))
                return
            if name not in self.batch:
                self.order.append(name)
            self.batch[name] = max(self.batch.get(name, 0), int(x.shape[0]))
            if self.tracing:
                source = self.produced.get(id(x))
                if source is not None and source[0]() is x:
                    self.fed_by[name] = source[1]
        return hook

    def _bn_output(self, name):
        def hook(module, args, out):
            if self.tracing and isinstance(out, torch.Tensor):
                self.bn_outputs.append((name, weakref.ref(out)))
        return hook

    def _produced(self, name):
        def hook(module, args, out):
            if self.tracing and isinstance(out, torch.Tensor):
                self.produced[id(out)] = (weakref.ref(out), name)
        return hook

    def output_of(self, outputs: torch.Tensor) -> str | None:
        """The BN whose output tensor is (a view of) the model's output, if any."""
        for name, ref in reversed(self.bn_outputs):
            t = ref()  # alive, so its memory cannot have been reused by another tensor
            if t is not None and t.numel() == outputs.numel() and t.data_ptr() == outputs.data_ptr():
                return name
        return None

    def stop(self) -> None:
        self.tracing = False
        self.produced.clear()
        self.bn_outputs.clear()


class _Gap:
    """Forward hooks for the compared passes: each BN's own train-vs-eval difference, summed on
    the device (squared difference and squared train-mode output; no tensor is stored)."""

    def __init__(self, bns: dict[str, nn.Module], device: torch.device, hooks: Hooks):
        self.diff = {name: torch.zeros((), device=device) for name in bns}
        self.norm = {name: torch.zeros((), device=device) for name in bns}
        self.active = False
        for name, m in bns.items():
            hooks.add(m.register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def hook(module, args, out):
            if not self.active or module.running_mean is None or not isinstance(out, torch.Tensor):
                return
            with torch.no_grad():
                as_eval = F.batch_norm(args[0], module.running_mean, module.running_var, module.weight,
                                       module.bias, False, 0.0, module.eps)
                train_out = out.float()
                self.diff[name] += (train_out - as_eval.float()).pow(2).sum()
                self.norm[name] += train_out.pow(2).sum()
        return hook

    def reset(self) -> None:
        self.active = False
        for name in self.diff:
            self.diff[name].zero_()
            self.norm[name].zero_()

    def ratios(self) -> dict[str, float]:
        names = list(self.diff)
        diff = torch.stack([self.diff[n] for n in names]).tolist()  # one transfer
        norm = torch.stack([self.norm[n] for n in names]).tolist()
        return {n: _ratio(d, q) for n, d, q in zip(names, diff, norm)}


def _measure(ctx: Context, model: nn.Module, bns: dict[str, nn.Module], s) -> dict | None:
    warm = ctx.batches(int(s["warmup_batches"]))
    val = ctx.loader("val") is not None
    compared = ctx.batches(int(s["batches"]), split="val") if val else warm[:int(s["batches"])]
    with Hooks() as hooks, ctx.progress(len(warm) + len(compared), "bn-gap") as advance, torch.no_grad():
        trace = _Trace(bns, model, hooks)
        gap = _Gap(bns, ctx.device, hooks)
        _prepare_warmup(bns, len(warm), float(s["converged_weight"]))
        model.train()  # warm-up as training sees it: dropout and all
        on_logits = None
        for i, batch in enumerate(warm):
            try:
                outputs, _ = ctx.forward(model, batch, i)
            except (ValueError, UserError) as exc:
                if not _one_value_per_channel(exc):
                    raise
                _batch_of_one(ctx, exc)
                return None
            if i == 0:
                on_logits = trace.output_of(outputs)
                trace.stop()
            advance()
            if ctx.out_of_time():
                break
        trace.warming = False
        for m in bns.values():
            m.momentum = 0.0  # the compared train-mode passes must not move the warmed statistics
        sums = None
        try:
            sums = _compare(ctx, model, bns, compared, gap, advance)
        except (ValueError, UserError) as exc:
            if not (val and _one_value_per_channel(exc)):
                raise
        train_batch = min(trace.batch.values(), default=0)
        if val and (sums is None or (trace.compared_batch or 0) < train_batch):
            # train-mode BN on batches smaller than training's would show batch noise training never sees
            ctx.result.metrics["val_batch_size"] = trace.compared_batch or 1
            val = False
            gap.reset()
            sums = _compare(ctx, model, bns, warm[:int(s["batches"])], gap, advance)
    return {"trace": trace, "on_logits": on_logits, "gaps": gap.ratios(), "sums": sums,
            "warmup": len(warm), "compared": sums.pop("batches"), "split": "val" if val else "train"}


def _one_value_per_channel(exc: Exception) -> bool:
    """torch's error for BatchNorm in train mode on a batch of one sample (no spatial extent)."""
    return "more than 1 value per channel" in str(exc)


def _prepare_warmup(bns: dict[str, nn.Module], passes: int, converged: float) -> None:
    for m in bns.values():
        if not m.track_running_stats or m.momentum == 0:
            continue  # nothing to fill / stays frozen, as in training
        if m.momentum is None or (1 - m.momentum) ** passes > converged:
            m.momentum = None  # the cumulative average over the warm-up = where a long EMA settles
            m.reset_running_stats()


def _compare(ctx: Context, model: nn.Module, bns: dict[str, nn.Module], batches: list, gap: _Gap, advance) -> dict:
    """Each batch in eval mode, then with only the BN layers in train mode; sums stay on the device."""
    zero = lambda: torch.zeros((), device=ctx.device)  # noqa: E731
    sums = {"diff": zero(), "norm": zero(), "agree": zero(), "count": zero(),
            "loss_train": zero(), "loss_eval": zero(), "correct_train": zero(), "correct_eval": zero(),
            "labelled": zero()}
    done = 0
    for i, batch in enumerate(batches):
        model.eval()
        eval_out, targets = ctx.forward(model, batch, i)
        for m in bns.values():
            m.train()
        gap.active = True
        try:
            train_out, _ = ctx.forward(model, batch, i)
        finally:
            gap.active = False  # also when a batch BN cannot take raises (the caller falls back)
        eval_out, train_out = eval_out.float(), train_out.float()
        sums["diff"] += (train_out - eval_out).pow(2).sum()
        sums["norm"] += train_out.pow(2).sum()
        sums["loss_train"] += ctx.loss(train_out, targets).float().mean()
        sums["loss_eval"] += ctx.loss(eval_out, targets).float().mean()
        if train_out.dim() >= 2 and train_out.shape[1] > 1:
            pred_train, pred_eval = train_out.argmax(1), eval_out.argmax(1)
            sums["agree"] += (pred_train == pred_eval).sum()
            sums["count"] += pred_train.numel()
            if ctx.is_cross_entropy and isinstance(targets, torch.Tensor) and not targets.dtype.is_floating_point \
                    and targets.shape == pred_train.shape:
                valid = targets != -100
                sums["correct_train"] += ((pred_train == targets) & valid).sum()
                sums["correct_eval"] += ((pred_eval == targets) & valid).sum()
                sums["labelled"] += valid.sum()
        done += 1
        advance()
        if ctx.out_of_time():
            break
    names = list(sums)
    values = dict(zip(names, torch.stack([sums[n].float() for n in names]).tolist()))  # one transfer
    values["batches"] = done
    return values


def _batch_of_one(ctx: Context, exc: Exception) -> None:
    ctx.result.summary = "batch size 1: BatchNorm cannot run in train mode"
    ctx.result.metrics["batch_size"] = 1
    ctx.result.add("DLC506", f"batch size 1: BatchNorm in train mode needs more than one value per channel "
                             f"(torch raised: {str(exc).splitlines()[0][:160]})")


# -- judging -----------------------------------------------------------------------------------
def _report(ctx: Context, rows: dict[str, dict], measured: dict, s) -> None:
    result = ctx.result
    trace, gaps, sums = measured["trace"], measured["gaps"], measured["sums"]
    order = trace.order + [n for n in rows if n not in trace.order]  # execution order; unused last
    table = []
    for name in order:
        row = dict(rows[name])
        row["batch"] = trace.batch.get(name)
        row["gap"] = rounded(gaps[name]) if name in trace.batch and row["track_running_stats"] else None
        row["bias_from"] = trace.fed_by.get(name)
        table.append(row)
    result.details["bn_layers"] = table

    batch = min(trace.batch.values()) if trace.batch else None
    output_gap = _ratio(sums["diff"], sums["norm"])
    judged = [r["name"] for r in table if r["gap"] is not None]  # in execution order
    worst = max(judged, key=lambda name: gaps[name] if math.isfinite(gaps[name]) else math.inf,
                default=None)
    parts_at = next((name for name in judged if not gaps[name] < s["warn_gap"]), None)  # NaN counts
    n = max(measured["compared"], 1)
    metrics = {"bn_layers": len(rows), "batch_size": batch, "output_gap": rounded(output_gap),
               "loss_train_mode": rounded(sums["loss_train"] / n),
               "loss_eval_mode": rounded(sums["loss_eval"] / n),
               "compared_on": measured["split"], "compared_batches": measured["compared"],
               "warmup_batches": measured["warmup"],
               "largest_layer_gap": rounded(gaps[worst]) if worst is not None else None,
               "largest_gap_at": worst, "parts_at": parts_at}
    if sums["count"]:
        metrics["agreement"] = round(sums["agree"] / sums["count"], 6)
    if sums["labelled"]:
        metrics["accuracy_train_mode"] = round(sums["correct_train"] / sums["labelled"], 6)
        metrics["accuracy_eval_mode"] = round(sums["correct_eval"] / sums["labelled"], 6)
    result.metrics.update(metrics)

    if measured["on_logits"] is not None:
        result.add("DLC501", f"'{measured['on_logits']}' normalises the model's output: its output tensor is "
                             f"the logits")
    fed = [(r["name"], r["bias_from"]) for r in table if r["bias_from"]]
    if fed:
        pairs = ", ".join(f"'{src}' -> '{bn}'" for bn, src in fed[:3])
        pairs += f" and {len(fed) - 3} more" if len(fed) > 3 else ""
        result.add("DLC502", f"a bias feeds straight into BatchNorm in {pairs}: BN subtracts it again")
    if batch is not None and batch <= s["tiny_batch"]:
        result.add("DLC506", f"batch size {batch}: BatchNorm's batch statistics from {batch} "
                             f"sample{'s' * (batch > 1)} are degenerate (fail at or below {s['tiny_batch']})")
    elif batch is not None and batch < s["small_batch"]:
        result.add("DLC505", f"batch size {batch} is small for BatchNorm (warn below {s['small_batch']})")

    where = " on val batches" if measured["split"] == "val" else ""
    if "val_batch_size" in result.metrics:
        where = (f" on train batches (the val batches of {result.metrics['val_batch_size']} are smaller than "
                 f"the training batches)")
    agree = f", {metrics['agreement']:.0%} of predictions agree" if "agreement" in metrics else ""
    largest = f"; largest layer gap {gaps[worst]:.1%} at '{worst}'" if worst is not None else ""
    result.summary = (f"{len(rows)} BatchNorm layer{'s' if len(rows) != 1 else ''}, batch {batch}: eval mode "
                      f"moves the output by {output_gap:.1%}{where}{agree}{largest}")
    if parts_at is not None:
        top = gaps[worst] if math.isfinite(gaps[worst]) else math.inf
        severity = "warn" if top < s["fail_gap"] else "fail"
        limit = s["fail_gap"] if severity == "fail" else s["warn_gap"]
        also = f", up to {top:.1%} at '{worst}'" if worst != parts_at else ""
        result.add("DLC507", f"the modes part at '{parts_at}': its eval-mode output differs from its train-mode "
                             f"output by {gaps[parts_at]:.1%} on the same input{also} ({severity} at {limit:.0%})"
                             f"{where}; the model's output moves by {output_gap:.1%}, loss "
                             f"{sums['loss_train'] / n:.3g} -> {sums['loss_eval'] / n:.3g}", severity=severity)
    _write_artifacts(ctx, table)


def _write_artifacts(ctx: Context, table: list[dict]) -> None:
    ctx.write_csv("layers.csv", table)
    path = ctx.artifact("layers.png")
    if path is not None:
        from dlcheck.render.plots import bn_layer_gaps

        bn_layer_gaps(path, [r["name"] for r in table], [r["gap"] for r in table])


def _ratio(diff: float, norm: float) -> float:
    """sqrt(diff / norm): a relative L2 difference; 0 when both are 0 (e.g. a zero-init gamma)."""
    if norm <= 0:
        return 0.0 if diff <= 0 else math.inf
    return math.sqrt(diff / norm)
