"""bn-gap's measuring: warm-up passes fill the running statistics, then each compared batch goes
through the model in eval mode and with only the BN layers in train mode (see the package's docstring)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlcheck.checks.bn_gap.hooks import _Frozen, _Gap, _ratio, _Trace
from dlcheck.checks.bn_gap.sampling import _dominated, _top_share, _val_batches
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import rounded
from dlcheck.state import Hooks

_OTHER_NORMS = (nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)


@dataclass
class Measured:
    """What bn-gap measured; the rules read only this and the settings. Built in two stages: the
    BN layers' set-up (``layers``) before anything runs, the rest by :func:`_measure`."""

    layers: list[dict] = field(default_factory=list)  # one row per BN layer, in registration order
    other_norms: dict[str, int] = field(default_factory=dict)  # no BN: the other norm layers, by type
    one_sample: str | None = None  # torch's error when BN could not run on a batch of one sample
    compared: int | None = None  # batches compared in both modes; None: nothing was compared
    warmup: int = 0  # warm-up passes made
    order: list[str] = field(default_factory=list)  # BN layers in execution order
    batch: dict[str, int] = field(default_factory=dict)  # the batch size each BN layer saw in training
    values: dict[str, int] = field(default_factory=dict)  # values per channel it normalised (batch x positions)
    fed_by: dict[str, str] = field(default_factory=dict)  # BN layer -> the biased layer feeding it
    on_logits: str | None = None  # the BN layer whose output is the model's output
    gaps: dict[str, float] = field(default_factory=dict)  # each BN layer's own relative gap
    seen: set[str] = field(default_factory=set)  # the BN layers whose gap was measured
    unmeasured: dict[str, str] = field(default_factory=dict)  # BN layer -> why its gap was not measured
    sums: dict[str, Any] = field(default_factory=dict)  # model-level sums over the compared batches
    train_batch: int = 0  # the smallest batch a BN layer saw in training
    split: str = "train"  # compared on "train" or "val" batches
    mixed: bool | None = None  # val batches drawn at random across the val set
    left_out: list[tuple[int, int]] = field(default_factory=list)  # (batch index, size) left out as short
    val_sizes: list[int] | None = None  # val batches all smaller than training's: their sizes
    one_class: tuple[float, float] | None = None  # val batches sorted by class: (val, train) top class share
    held: list[str] = field(default_factory=list)  # BN layers the model keeps in eval mode in training
    fixed: dict[str, str] = field(default_factory=dict)  # layers normalising with fixed statistics -> type
    wrapped: list[str] = field(default_factory=list)  # wrappers measured through ("torch.compile", ...)

    @property
    def table(self) -> list[dict]:
        """The layer rows in execution order (unused layers last), with batch, own gap and bias source."""
        rows = {r["name"]: r for r in self.layers}
        order = self.order + [n for n in rows if n not in self.order]
        return [dict(rows[name], batch=self.batch.get(name), values=self.values.get(name),
                     gap=rounded(self.gaps[name]) if name in self.seen else None,
                     bias_from=self.fed_by.get(name)) for name in order]

    @property
    def batch_size(self) -> int | None:
        return min(self.batch.values()) if self.batch else None

    @property
    def output_gap(self) -> float:
        return _ratio(self.sums["diff"], self.sums["norm"])

    @property
    def judged(self) -> list[str]:
        """The layers with a measured gap, in execution order."""
        return [r["name"] for r in self.table if r["gap"] is not None]

    @property
    def worst(self) -> str | None:
        return max(self.judged, key=lambda name: self.gaps[name] if math.isfinite(self.gaps[name]) else math.inf,
                   default=None)

    def parts_at(self, warn_gap: float) -> str | None:
        """The first layer (in execution order) whose gap reaches ``warn_gap``; NaN counts."""
        return next((name for name in self.judged if not self.gaps[name] < warn_gap), None)

    @property
    def losses(self) -> tuple[float, float]:
        """Mean loss per compared batch: (train mode, eval mode)."""
        n = max(self.compared or 0, 1)
        return self.sums["loss_train"] / n, self.sums["loss_eval"] / n


def _row(name: str, m: nn.Module, kind: str) -> dict:
    return {"name": name, "kind": kind, "features": int(m.num_features),
            "momentum": None if m.momentum is None else float(m.momentum), "eps": float(m.eps),
            "affine": bool(m.affine), "track_running_stats": bool(m.track_running_stats)}


def _other_norms(model: nn.Module) -> dict[str, int]:
    from dlcheck.modules import fixed_norms

    others: dict[str, int] = {}
    fixed = set(fixed_norms(model))
    for name, m in model.named_modules():
        if isinstance(m, _OTHER_NORMS) or name in fixed:
            others[type(m).__name__] = others.get(type(m).__name__, 0) + 1
    return others


def _measure(ctx: Context, model: nn.Module, bns: dict[str, nn.Module], s) -> Measured:
    n = int(s["batches"])
    warm = ctx.batches(int(s["warmup_batches"]))
    has_val = ctx.loader("val") is not None
    with Hooks() as hooks, ctx.progress(len(warm) + n, "bn-gap") as advance, torch.no_grad():
        trace = _Trace(bns, model, hooks)
        _prepare_warmup(bns, len(warm), float(s["converged_weight"]))
        model.train()  # warm-up as training sees it: dropout and all
        on_logits, shares, one_sample = _warm_up(ctx, model, warm, trace, advance)
        if one_sample is not None:
            return Measured(one_sample=one_sample)
        trace.warming = False
        _average_running_stats(bns)
        frozen = _Frozen(bns)
        gap = _Gap(bns, ctx.device, hooks, frozen)
        for m in bns.values():
            m.momentum = 0.0  # the compared train-mode passes must not move the warmed statistics
        train_batch = min(trace.batch.values(), default=0)
        train_share = float(torch.stack(shares).mean()) if shares else None
        from dlcheck import distributed

        if distributed.active():  # the ranks' mean (every rank has shares, or none has)
            train_share = distributed.mean_values([train_share])[0]
        compare = lambda batches, least: _compare(ctx, model, bns, batches, gap, frozen, trace, least, advance)  # noqa: E731
        sums, how = _compared(ctx, compare, warm, has_val, n, trace, gap, train_batch, train_share, s)
        frozen.restore()
    return Measured(order=trace.order, batch=trace.batch, values=trace.values, fed_by=trace.fed_by, on_logits=on_logits,
                    gaps=gap.ratios(), seen=set(gap.seen), unmeasured=dict(gap.unmeasured), sums=sums,
                    warmup=len(warm), compared=sums.pop("batches"), train_batch=train_batch, **how)


def _warm_up(ctx: Context, model: nn.Module, warm: list, trace: _Trace, advance) -> tuple:
    """The training-mode passes without gradients that fill the running statistics; the first one
    traced. Returns (the BN on the logits, each batch's top class share, None), or (None, [], torch's
    error) when BatchNorm cannot run in train mode on a batch of one sample."""
    on_logits = None
    shares = []
    for i, batch in enumerate(warm):
        try:
            raw, targets = ctx.forward(model, batch, i)
            outputs = ctx.logits(raw)
        except (ValueError, UserError) as exc:
            if not _one_value_per_channel(exc):
                raise
            return None, [], str(exc).splitlines()[0][:160]
        if i == 0:
            on_logits = trace.output_of(outputs)
            trace.stop()
        share = _top_share(outputs, targets)
        if share is not None:
            shares.append(share)
        advance()
        if ctx.out_of_time():
            break
    return on_logits, shares, None


def _compared(ctx: Context, compare, warm: list, has_val: bool, n: int, trace: _Trace, gap: _Gap,
              train_batch: int, train_share: float | None, s) -> tuple[dict, dict]:
    """The sums over the compared batches and what they were (``how``: Measured's split, mixed,
    left_out, val_sizes, one_class): the val batches when given and fit to compare on, else the
    first ``n`` warm-up batches."""
    how = {"split": "train"}
    sums = None
    if has_val:
        batches, mixed = _val_batches(ctx, n)
        try:
            sums = compare(batches, train_batch)
        except (ValueError, UserError) as exc:  # BN cannot take the val batches in train mode
            if not _one_value_per_channel(exc):
                raise
        if sums is not None and sums["batches"] and not mixed and _dominated(sums["share"], train_share, s):
            how = {"split": "train", "one_class": (sums["share"], train_share)}
        elif sums is not None and sums["batches"]:
            how = {"split": "val", "mixed": mixed, "left_out": sums["left_out"]}
        else:  # train-mode BN on batches smaller than training's shows batch noise training never sees
            sizes = sums["sizes"] if sums is not None else [trace.compared_batch or 1]
            how = {"split": "train", "val_sizes": sorted({z for z in sizes if z is not None} or {1}, reverse=True)}
        if how["split"] == "train":
            gap.reset()
            sums = None
    if sums is None:
        sums = compare(warm[:n], train_batch)
        if not sums["batches"]:  # the first training batches are all shorter than the largest
            gap.reset()
            sums = compare(warm[:n], 0)
        how.setdefault("left_out", sums["left_out"])
    return sums, how


def _one_value_per_channel(exc: Exception) -> bool:
    """torch's error for BatchNorm in train mode on a batch of one sample (no spatial extent)."""
    return "more than 1 value per channel" in str(exc)


def _prepare_warmup(bns: dict[str, nn.Module], passes: int, converged: float) -> None:
    for m in bns.values():
        if not m.track_running_stats or m.momentum == 0:
            continue  # nothing to fill / stays frozen, as in training
        if m.momentum is None or (1 - m.momentum) ** passes > converged:
            m.momentum = None  # the cumulative average over the warm-up = where a long EMA settles
            if not nn.parameter.is_lazy(m.running_mean):  # lazy BN: fresh statistics when it is built
                m.reset_running_stats()


def _compare(ctx: Context, model: nn.Module, bns: dict[str, nn.Module], batches: list, gap: _Gap,
             frozen: _Frozen, trace: _Trace, least: int, advance) -> dict:
    """Each batch in eval mode, then with only the BN layers in train mode (their submodules, an
    activation's dropout say, stay in eval mode); sums stay on the device. A batch that the BN
    layers see smaller than ``least`` samples (a loader's short last batch) is left out after its
    eval-mode pass: train-mode BN on it shows batch noise that training does not see."""
    zero = lambda: torch.zeros((), device=ctx.device)  # noqa: E731
    sums = {"diff": zero(), "norm": zero(), "agree": zero(), "count": zero(),
            "loss_train": zero(), "loss_eval": zero(), "correct_train": zero(), "correct_eval": zero(),
            "labelled": zero(), "share": zero()}
    done, shared, sizes, left_out = 0, 0, [], []
    for i, batch in enumerate(batches):
        model.eval()
        trace.compared_batch = None
        eval_raw, targets = ctx.forward(model, batch, i)
        eval_out = ctx.logits(eval_raw).float()
        size = trace.compared_batch
        sizes.append(size)
        share = _top_share(eval_out, targets)
        if share is not None:
            sums["share"] += share
            shared += 1
        if size is not None and size < least:
            left_out.append((i, size))
            advance()
            continue
        for m in bns.values():
            m.training = True  # the BN layers alone, not what they contain
        gap.active = True
        try:
            train_raw, _ = ctx.forward(model, batch, i)
        finally:
            gap.active = False  # also when a batch BN cannot take raises (the caller falls back)
            frozen.restore()
        _add_pair(ctx, sums, train_raw, eval_raw, eval_out, targets)
        done += 1
        advance()
        if ctx.out_of_time():
            break
    return _totals(sums, shared, done, sizes, left_out)


def _add_pair(ctx: Context, sums: dict, train_raw, eval_raw, eval_out: torch.Tensor, targets) -> None:
    """One batch's train-mode and eval-mode outputs into the sums (on the device)."""
    train_out = ctx.logits(train_raw).float()
    sums["diff"] += (train_out - eval_out).pow(2).sum()
    sums["norm"] += train_out.pow(2).sum()
    sums["loss_train"] += ctx.loss(train_raw, targets).float().mean()
    sums["loss_eval"] += ctx.loss(eval_raw, targets).float().mean()
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


def _totals(sums: dict, shared: int, done: int, sizes: list, left_out: list) -> dict:
    """The sums as numbers, in one transfer (under torchrun: over every rank's batches)."""
    names = list(sums)
    numbers = torch.stack([sums[n].float() for n in names]).tolist()  # one transfer
    from dlcheck import distributed

    if distributed.active():  # under torchrun: the sums over every rank's batches
        numbers = distributed.reduce_floats(numbers + [float(shared), float(done)], ["sum"] * (len(numbers) + 2))
        done = int(round(numbers.pop()))
        shared = int(round(numbers.pop()))
    values = dict(zip(names, numbers))
    values["share"] = values["share"] / shared if shared else None
    values.update(batches=done, sizes=sizes, left_out=left_out)
    return values


def _average_running_stats(bns: dict[str, nn.Module]) -> None:
    """Under torchrun, each BN layer's warmed running mean and variance averaged over ranks (each
    rank warmed them on its own shard): the eval-mode statistics of the whole data, the same on
    every rank."""
    from dlcheck import distributed

    if not distributed.active():
        return
    for m in bns.values():
        for name in ("running_mean", "running_var"):
            buf = getattr(m, name, None)
            if isinstance(buf, torch.Tensor) and buf.is_floating_point():
                buf.copy_(distributed.mean(buf))
