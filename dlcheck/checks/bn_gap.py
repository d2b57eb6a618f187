"""Recipe step 5: BatchNorm's set-up, and the gap between its train-mode and eval-mode outputs.

Static findings come from one traced batch (forward hooks record *execution* order, which module
registration order is not): BN whose output is the model's output (DLC501), a conv/linear bias
feeding straight into BN (DLC502), ``track_running_stats=False`` (DLC503), ``momentum=0``
(DLC504), the batch size the BN layers see (DLC505/506).

The gap: training-mode passes without gradients first fill the running statistics (a fresh
model still has mean 0 / var 1). Then each compared batch (the val loader's when given) goes
through the model twice: all of it in eval mode, and with only the BN modules themselves in train
mode (not what they contain), so that dropout and stochastic depth, also a fused BN+act layer's
own drop, do not count as a gap. Outputs, loss and accuracy are compared, and each BN layer's own
gap names the layer where the two modes part (DLC507): in a hook, the module's train-mode output
against the same module run again in eval mode on the same input through its own forward
(subclasses such as timm's BatchNormAct2d, SyncBatchNorm, lazy BN compute as they do), reduced on
the device. The warmed statistics are put back after every train-mode pass and before every
eval-mode re-run, so the measurement never moves them; a layer that cannot be re-run so is named
(DLC512), not mis-measured.

Representative batches: val batches are drawn at random across the val set (seeded) when the val
loader is a DataLoader over a map-style dataset, since an unshuffled one (ImageFolder) yields
class-sorted batches whose batch statistics stand for one class. Other val loaders whose batches
are far more one-class than the training batches are not compared on (DLC511: train batches
instead). A compared batch that BN sees smaller than the training batches (a short last batch) is
left out after its eval pass, and said so exactly; only when no val batch is large enough does
the comparison fall back to train batches.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, Finding, listing, rounded
from dlcheck.rules import finding, judge
from dlcheck.state import Hooks

Settings = Mapping[str, Any]

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
    "sorted_share": 0.5,  # val batches whose top class share is this far from the training batches'
    #                       toward 1 (one class a batch): sorted by class, not compared on (DLC511)
}

_LINEAR = (nn.Linear, nn.modules.conv._ConvNd)
_OTHER_NORMS = (nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    with ctx.model() as model:
        bns = {name: m for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
        if not bns:
            measured = Measured(other_norms=_other_norms(model))
            _conclude(result, measured, ctx.task, s)
            return result.skip("the model has no BatchNorm layer")
        kinds = {name: type(m).__name__ for name, m in bns.items()}  # a lazy BN becomes a plain one when run
        setup = Measured(layers=[_row(name, m, kinds[name]) for name, m in bns.items()])
        result.findings += judge(SETUP_RULES, setup, ctx.task, s)  # said before anything runs
        momenta = {name: m.momentum for name, m in bns.items()}
        try:
            measured = _measure(ctx, model, bns, s)
        finally:
            for name, m in bns.items():
                m.momentum = momenta[name]
        measured.layers = [_row(name, m, kinds[name]) for name, m in bns.items()]
    _conclude(result, measured, ctx.task, s, MEASURED_RULES)
    if measured.compared is not None:
        _write_artifacts(result, measured.table)
    return result


def _conclude(result: CheckResult, measured: Measured, task, s, rules=None) -> None:
    """Summary, metrics, details and findings: functions of the measured data."""
    result.summary = _summary(measured)
    result.metrics.update(_metrics(measured, s))
    result.details.update(_details(measured))
    result.findings += judge(rules or RULES, measured, task, s)


def _write_artifacts(result: CheckResult, table: list[dict]) -> None:
    result.table("layers.csv", table)
    if any(isinstance(r.get("gap"), (int, float)) for r in table):
        result.figure("bn_layer_gaps", "each BatchNorm layer's own train-vs-eval gap", file="layers.png",
                      names=[str(r["name"]) for r in table], gaps=[r["gap"] for r in table])


# -- measuring ---------------------------------------------------------------------------------
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

    @property
    def table(self) -> list[dict]:
        """The layer rows in execution order (unused layers last), with batch, own gap and bias source."""
        rows = {r["name"]: r for r in self.layers}
        order = self.order + [n for n in rows if n not in self.order]
        return [dict(rows[name], batch=self.batch.get(name),
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
    others: dict[str, int] = {}
    for m in model.modules():
        if isinstance(m, _OTHER_NORMS):
            others[type(m).__name__] = others.get(type(m).__name__, 0) + 1
    return others


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


class _Frozen:
    """The running statistics as the warm-up left them (every buffer of every BN layer, the batch
    counter included), put back after each compared train-mode pass and before each layer's own
    eval-mode run: the measurement leaves them untouched, whatever a subclass's forward does."""

    def __init__(self, bns: dict[str, nn.Module]):
        self.saved = {name: [(key, t, t.detach().clone()) for key, t in m.named_buffers(recurse=False)
                             if isinstance(t, torch.Tensor) and not nn.parameter.is_lazy(t)]
                      for name, m in bns.items()}

    def restore(self, name: str | None = None) -> None:
        for saved in ([self.saved[name]] if name is not None else self.saved.values()):
            for _, t, value in saved:
                t.copy_(value)


class _Gap:
    """Forward hooks for the compared passes: each BN layer's own train-vs-eval difference. The
    layer's train-mode output is compared with the same module run again in eval mode on the same
    input (its own forward, so subclasses that add an activation or drop, SyncBatchNorm and lazy BN
    are measured as they compute), with its warmed statistics. Sums stay on the device (squared
    difference and squared train-mode output; no tensor is stored). A layer whose eval-mode run
    raises or gives something else than its train-mode run is named, not measured."""

    def __init__(self, bns: dict[str, nn.Module], device: torch.device, hooks: Hooks, frozen: _Frozen):
        self.diff = {name: torch.zeros((), device=device) for name in bns}
        self.norm = {name: torch.zeros((), device=device) for name in bns}
        self.seen: set[str] = set()
        self.unmeasured: dict[str, str] = {}
        self.frozen = frozen
        self.active = False
        for name, m in bns.items():
            hooks.add(m.register_forward_hook(self._hook(name), with_kwargs=True))

    def _hook(self, name):
        def hook(module, args, kwargs, out):
            if not self.active or getattr(module, "running_mean", None) is None or name in self.unmeasured:
                return
            if not isinstance(out, torch.Tensor):
                self.unmeasured[name] = f"its output is a {type(out).__name__}, not a tensor"
                return
            self.active = False  # BN layers inside this one run again below: not measured twice
            flags = [(m, m.training) for m in module.modules()]
            try:
                self.frozen.restore(name)  # the statistics as warmed, even if this forward moved them
                module.eval()
                as_eval = module.forward(*args, **kwargs)  # hooks bypassed: the module's own work only
            except Exception as exc:  # noqa: BLE001 - named in the report instead of mis-measured
                first = str(exc).splitlines()[0][:120] if str(exc).strip() else ""
                self.unmeasured[name] = f"its eval-mode run raised {type(exc).__name__}" + (f": {first}" if first else "")
                return
            finally:
                for m, flag in flags:
                    m.training = flag
                self.active = True
            if not isinstance(as_eval, torch.Tensor) or as_eval.shape != out.shape:
                shape = tuple(as_eval.shape) if isinstance(as_eval, torch.Tensor) else type(as_eval).__name__
                self.unmeasured[name] = f"its eval-mode run gives {shape}, its train-mode run {tuple(out.shape)}"
                return
            train_out = out.detach().float()
            self.diff[name] += (train_out - as_eval.float()).pow(2).sum()
            self.norm[name] += train_out.pow(2).sum()
            self.seen.add(name)
        return hook

    def reset(self) -> None:
        self.active = False
        self.seen.clear()
        self.unmeasured.clear()
        for name in self.diff:
            self.diff[name].zero_()
            self.norm[name].zero_()

    def ratios(self) -> dict[str, float]:
        from dlcheck import distributed

        names = list(self.diff)
        diff = torch.stack([self.diff[n] for n in names]).tolist()  # one transfer
        norm = torch.stack([self.norm[n] for n in names]).tolist()
        if distributed.active() and names:  # under torchrun: every rank's samples together
            both = distributed.reduce_floats(diff + norm, ["sum"] * (2 * len(names)))
            diff, norm = both[:len(names)], both[len(names):]
        return {n: _ratio(d, q) for n, d, q in zip(names, diff, norm)}


def _measure(ctx: Context, model: nn.Module, bns: dict[str, nn.Module], s) -> Measured:
    n = int(s["batches"])
    warm = ctx.batches(int(s["warmup_batches"]))
    has_val = ctx.loader("val") is not None
    with Hooks() as hooks, ctx.progress(len(warm) + n, "bn-gap") as advance, torch.no_grad():
        trace = _Trace(bns, model, hooks)
        _prepare_warmup(bns, len(warm), float(s["converged_weight"]))
        model.train()  # warm-up as training sees it: dropout and all
        on_logits = None
        shares = []
        for i, batch in enumerate(warm):
            try:
                raw, targets = ctx.forward(model, batch, i)
                outputs = ctx.logits(raw)
            except (ValueError, UserError) as exc:
                if not _one_value_per_channel(exc):
                    raise
                return Measured(one_sample=str(exc).splitlines()[0][:160])
            if i == 0:
                on_logits = trace.output_of(outputs)
                trace.stop()
            share = _top_share(outputs, targets)
            if share is not None:
                shares.append(share)
            advance()
            if ctx.out_of_time():
                break
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
        frozen.restore()
    return Measured(order=trace.order, batch=trace.batch, fed_by=trace.fed_by, on_logits=on_logits,
                    gaps=gap.ratios(), seen=set(gap.seen), unmeasured=dict(gap.unmeasured), sums=sums,
                    warmup=len(warm), compared=sums.pop("batches"), train_batch=train_batch, **how)
def _val_batches(ctx: Context, n: int) -> tuple[list, bool]:
    """``n`` val batches drawn at random across the val set (seeded), when the val loader is a
    DataLoader over a map-style dataset: a loader without shuffling yields batches sorted by class
    (ImageFolder), whose batch statistics stand for one class, not for the data. Else its first
    ``n`` batches as it yields them. Returns (batches, drawn at random)."""
    from torch.utils.data import DataLoader, IterableDataset, RandomSampler, SequentialSampler, SubsetRandomSampler

    from dlcheck.batches import first_batches
    from dlcheck.device import to_device

    loader = ctx.loader("val")
    indices = None
    if isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset) and loader.batch_size:
        sampler = loader.sampler
        try:
            if isinstance(sampler, SequentialSampler) or (isinstance(sampler, RandomSampler)
                                                          and not sampler.replacement
                                                          and sampler.num_samples == len(loader.dataset)):
                indices = range(len(loader.dataset))
            elif isinstance(sampler, SubsetRandomSampler):
                indices = list(sampler.indices)
            else:
                indices = list(sampler)  # the samples the loader draws (a subset, a distributed share)
        except TypeError:  # a dataset or sampler without a length
            indices = None
    if not indices:
        return ctx.batches(n, split="val"), False
    gen = torch.Generator().manual_seed(ctx.seed)
    from dlcheck import distributed

    world = distributed.world_size()  # under torchrun: each rank its share of the drawn samples
    picked = torch.randperm(len(indices), generator=gen)[:n * loader.batch_size * world].tolist()
    if world > 1 and len(picked) >= world:
        picked = picked[distributed.rank()::world][:len(picked) // world]
    drawn = DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=[indices[i] for i in picked],
                       collate_fn=loader.collate_fn)
    where = ctx.target.where("val_loader")
    out = []
    for i, batch in enumerate(first_batches(drawn, n, where)):
        if ctx.target.forward is None:
            ctx.split(batch, i, "val")  # fails early, clearly
        out.append(to_device(batch, ctx.device))
    return out, True


def _top_share(logits: torch.Tensor, targets) -> torch.Tensor | None:
    """The share of a batch's labels that its most common class holds (a 0-d tensor on the
    device), for class labels (integer, one-hot or binary 0/1 targets); None for anything else."""
    if not isinstance(targets, torch.Tensor) or targets.dim() == 0 or targets.shape[0] < 2:
        return None
    classes = int(logits.shape[1]) if logits.dim() == 2 and logits.shape[1] > 1 else 2
    if targets.dtype.is_floating_point:
        if classes > 2 and targets.shape == logits.shape:
            labels = targets.argmax(1)  # one-hot or soft targets
        elif classes == 2 and targets.numel() == targets.shape[0] and logits.numel() == targets.numel():
            labels = (targets.reshape(-1) > 0.5).long()  # binary targets of a single logit
        else:
            return None
    elif targets.dim() == 1:
        labels = targets.long()
    else:
        return None
    valid = ((labels >= 0) & (labels < classes)).float()  # ignore_index (-100) does not count
    counts = torch.zeros(classes, device=labels.device).scatter_add_(0, labels.clamp(0, classes - 1), valid)
    return counts.max() / valid.sum().clamp(min=1)


def _dominated(val_share: float | None, train_share: float | None, s) -> bool:
    """The val batches are far more one class each than the training batches: their top class's
    share (on average) has gone ``sorted_share`` of the way from the training batches' to 1."""
    if val_share is None or train_share is None or train_share >= 1:
        return False
    return val_share - train_share >= float(s["sorted_share"]) * (1 - train_share)


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
        done += 1
        advance()
        if ctx.out_of_time():
            break
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



# -- rules: one per finding code ----------------------------------------------------------------
def no_batchnorm(m: Measured, task, s: Settings) -> Finding | None:
    """DLC508 (info): nothing to compare."""
    if not m.layers:
        return finding("DLC508", f"the model has no BatchNorm layer{_uses(m)}; it behaves alike in train and eval "
                                 f"mode as far as normalisation goes")


def untracked(m: Measured, task, s: Settings) -> Finding | None:
    """DLC503: track_running_stats=False, so eval mode uses batch statistics too."""
    names = [r["name"] for r in m.layers if not r["track_running_stats"]]
    if names:
        return finding("DLC503", f"track_running_stats=False in {_names(names)}: eval mode normalises with "
                                 f"each batch's own statistics")


def momentum_zero(m: Measured, task, s: Settings) -> Finding | None:
    """DLC504: momentum 0 keeps the initial statistics for good."""
    names = [r["name"] for r in m.layers if r["track_running_stats"] and r["momentum"] == 0]
    if names:
        return finding("DLC504", f"momentum=0 in {_names(names)}: the running statistics never leave mean 0 / "
                                 f"var 1, so eval mode normalises with them")


def momentum_inverted(m: Measured, task, s: Settings) -> Finding | None:
    """DLC510: a momentum of ``high_momentum`` or more (the Keras convention by mistake?)."""
    high = float(s["high_momentum"])
    rows = [r for r in m.layers if r["track_running_stats"] and r["momentum"] is not None and r["momentum"] >= high]
    if rows:
        values = sorted({r["momentum"] for r in rows})
        return finding("DLC510", f"momentum={values[0]:g} in {_names([r['name'] for r in rows])}: the running "
                                 f"statistics follow the last {'batch' if values[0] >= 0.9 else 'few batches'} "
                                 f"almost alone")


def cumulative(m: Measured, task, s: Settings) -> Finding | None:
    """DLC509 (info): momentum=None, a cumulative average."""
    names = [r["name"] for r in m.layers if r["track_running_stats"] and r["momentum"] is None]
    if names:
        return finding("DLC509", f"momentum=None in {_names(names)}: a cumulative average over every batch "
                                 f"since the last reset")


def on_logits(m: Measured, task, s: Settings) -> Finding | None:
    """DLC501: a BN layer's output is the model's output."""
    if m.on_logits is not None:
        return finding("DLC501", f"'{m.on_logits}' normalises the model's output: its output tensor is the logits")


def bias_before_bn(m: Measured, task, s: Settings) -> Finding | None:
    """DLC502 (info): a conv/linear bias feeds straight into BN."""
    fed = [(r["name"], r["bias_from"]) for r in m.table if r["bias_from"]] if m.compared is not None else []
    if fed:
        pairs = ", ".join(f"'{src}' -> '{bn}'" for bn, src in fed[:3])
        pairs += f" and {len(fed) - 3} more" if len(fed) > 3 else ""
        return finding("DLC502", f"a bias feeds straight into BatchNorm in {pairs}: BN subtracts it again")


def batch_size(m: Measured, task, s: Settings) -> Finding | None:
    """DLC506: a batch of one (BN cannot run) or at most ``tiny_batch``; DLC505: below ``small_batch``."""
    if m.one_sample is not None:
        return finding("DLC506", f"batch size 1: BatchNorm in train mode needs more than one value per channel "
                                 f"(torch raised: {m.one_sample})")
    batch = m.batch_size if m.compared is not None else None
    if batch is not None and batch <= s["tiny_batch"]:
        return finding("DLC506", f"batch size {batch}: BatchNorm's batch statistics from {batch} "
                                 f"sample{'s' * (batch > 1)} are degenerate (fail at or below {s['tiny_batch']})")
    elif batch is not None and batch < s["small_batch"]:
        return finding("DLC505", f"batch size {batch} is small for BatchNorm (warn below {s['small_batch']})")


def not_measured(m: Measured, task, s: Settings) -> Finding | None:
    """DLC512 (info): BN layers whose own gap could not be measured."""
    unmeasured = m.unmeasured if m.compared is not None else {}
    if unmeasured:
        kinds = {r["name"]: r["kind"] for r in m.layers}
        shown = "; ".join(f"'{name}' ({kinds[name]}): {why}" for name, why in list(unmeasured.items())[:3])
        more = f"; and {len(unmeasured) - 3} more" if len(unmeasured) > 3 else ""
        return finding("DLC512", f"{len(unmeasured)} BatchNorm layer{'s' * (len(unmeasured) > 1)} not measured, "
                                 f"{'its' if len(unmeasured) == 1 else 'their'} own gap left out: {shown}{more}")


def val_one_class(m: Measured, task, s: Settings) -> Finding | None:
    """DLC511 (info): the val batches come sorted by class, so the gap was measured on train batches."""
    if m.compared is None or m.split == "val" or m.val_sizes is not None or m.one_class is None:
        return
    val_share, train_share = m.one_class
    return finding("DLC511", f"the val batches come sorted by class: one class makes up {val_share:.0%} of a val "
                             f"batch on average, {train_share:.0%} of a training batch; train-mode BatchNorm on "
                             f"such batches measures the sorting, not the model, so bn-gap compared on train "
                             f"batches")


def train_eval_gap(m: Measured, task, s: Settings) -> Finding | None:
    """DLC507: a BN layer's own train-vs-eval gap at ``warn_gap`` (warn) or ``fail_gap`` (fail)."""
    parts_at = m.parts_at(s["warn_gap"]) if m.compared is not None else None
    if parts_at is None:
        return
    gaps, worst = m.gaps, m.worst
    top = gaps[worst] if math.isfinite(gaps[worst]) else math.inf
    severity = "warn" if top < s["fail_gap"] else "fail"
    limit = s["fail_gap"] if severity == "fail" else s["warn_gap"]
    also = f", up to {top:.1%} at '{worst}'" if worst != parts_at else ""
    loss_train, loss_eval = m.losses
    return finding("DLC507", f"the modes part at '{parts_at}': its eval-mode output differs from its train-mode "
                             f"output by {gaps[parts_at]:.1%} on the same input{also} ({severity} at {limit:.0%})"
                             f"{_where(m)}; the model's output moves by {m.output_gap:.1%}, loss "
                             f"{loss_train:.3g} -> {loss_eval:.3g}", severity=severity)


#: The rules judging the set-up alone, said before anything runs (kept if the measuring raises).
SETUP_RULES = (no_batchnorm, untracked, momentum_zero, momentum_inverted, cumulative)
#: The rules judging the measurement.
MEASURED_RULES = (on_logits, bias_before_bn, batch_size, not_measured, val_one_class, train_eval_gap)
#: The rules, in the order their findings are reported.
RULES = SETUP_RULES + MEASURED_RULES


# -- words, metrics, details ----------------------------------------------------------------------
def _names(names: list[str], shown: int = 3) -> str:
    return listing([f"'{n}'" for n in names], shown)


def _uses(m: Measured) -> str:
    others = m.other_norms
    return f"; it normalises with {', '.join(f'{n} x{k}' for n, k in sorted(others.items()))}" if others else ""


def _where(m: Measured) -> str:
    """What the gap was measured on, for the summary and DLC507; facts about batch sizes exact."""
    left = m.left_out or []
    short = ""
    if left:
        indices, sizes = (" and ".join(map(str, part)) for part in zip(*left))
        short = (f" (left out: {m.split} batch{'es' if len(left) > 1 else ''} {indices}, of {sizes} "
                 f"sample{'s' if left != [(left[0][0], 1)] else ''}, smaller than the training batches of "
                 f"{m.train_batch})")
    if m.split == "val":
        drawn = " drawn at random across the val set" if m.mixed else ""
        return f" on val batches{drawn}{short}"
    if m.val_sizes is not None:
        sizes = m.val_sizes
        of = " and ".join(map(str, sizes)) if len(sizes) <= 2 else listing(sizes, 3)
        return (f" on train batches (the val batches of {of} are smaller than the training batches of "
                f"{m.train_batch}){short}")
    if m.one_class is not None:
        return f" on train batches (the val batches come sorted by class){short}"
    return short


def _summary(m: Measured) -> str:
    if not m.layers:
        return f"no BatchNorm layer: nothing to compare{_uses(m)}"
    if m.one_sample is not None:
        return "batch size 1: BatchNorm cannot run in train mode"
    n = len(m.layers)
    agree = f", {round(m.sums['agree'] / m.sums['count'], 6):.0%} of predictions agree" if m.sums["count"] else ""
    worst = m.worst
    largest = f"; largest layer gap {m.gaps[worst]:.1%} at '{worst}'" if worst is not None else ""
    return (f"{n} BatchNorm layer{'s' if n != 1 else ''}, batch {m.batch_size}: eval mode "
            f"moves the output by {m.output_gap:.1%}{_where(m)}{agree}{largest}")


def _metrics(m: Measured, s: Settings) -> dict:
    if not m.layers:
        return {"bn_layers": 0}
    if m.one_sample is not None:
        return {"batch_size": 1}
    sums, worst = m.sums, m.worst
    loss_train, loss_eval = m.losses
    metrics = {"bn_layers": len(m.layers), "batch_size": m.batch_size, "output_gap": rounded(m.output_gap),
               "loss_train_mode": rounded(loss_train), "loss_eval_mode": rounded(loss_eval),
               "compared_on": m.split, "compared_batches": m.compared, "warmup_batches": m.warmup,
               "largest_layer_gap": rounded(m.gaps[worst]) if worst is not None else None,
               "largest_gap_at": worst, "parts_at": m.parts_at(s["warn_gap"])}
    if sums["count"]:
        metrics["agreement"] = round(sums["agree"] / sums["count"], 6)
    if sums["labelled"]:
        metrics["accuracy_train_mode"] = round(sums["correct_train"] / sums["labelled"], 6)
        metrics["accuracy_eval_mode"] = round(sums["correct_eval"] / sums["labelled"], 6)
    metrics["left_out_batches"] = len(m.left_out or [])
    if m.split == "val":
        metrics["val_drawn_at_random"] = bool(m.mixed)
    elif m.val_sizes is not None:
        metrics["val_batch_size"] = m.val_sizes[0]
    elif m.one_class is not None:
        metrics["val_top_class_share"] = round(m.one_class[0], 4)
        metrics["train_top_class_share"] = round(m.one_class[1], 4)
    return metrics


def _details(m: Measured) -> dict:
    if not m.layers:
        return {}
    if m.one_sample is not None:
        return {"bn_layers": list(m.layers)}
    details = {"bn_layers": m.table}
    if m.unmeasured:
        details["bn_not_measured"] = dict(m.unmeasured)
    if m.left_out:
        details["left_out_batches"] = [{"batch": i, "size": size} for i, size in m.left_out]
    return details


def _ratio(diff: float, norm: float) -> float:
    """sqrt(diff / norm): a relative L2 difference; 0 when both are 0 (e.g. a zero-init gamma)."""
    if norm <= 0:
        return 0.0 if diff <= 0 else math.inf
    return math.sqrt(diff / norm)
