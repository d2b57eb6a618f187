"""Recipe step 7: look at the data before blaming the model.

Over the first N batches: per-channel (images, (N, C, ...)) or per-feature (tables, (N, F)) mean,
std and range (raw 0-255 pixels, uncentred or unscaled inputs, constant features), NaN/Inf with
the batch and sample that hold them, duplicated samples, labels against the number of classes,
class balance, and batches dominated by one class (no shuffling). Integer inputs (token ids) get
no mean/std. Then the pairing control (``_pairing.py``): a short fit of the same initial model on
a small subset with the true and with permuted labels.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import torch

from dlcheck.checks import _pairing as pairing
from dlcheck.checks._pairing import batch_size, same
from dlcheck.context import Context
from dlcheck.device import to_device
from dlcheck.errors import UserError
from dlcheck.results import CheckResult

NAME = "data-check"
SETTINGS = {
    "batches": 20,  # batches of the train loader inspected
    "raw_max": 25.0,  # image inputs in [0, 255] whose maximum exceeds this are raw pixels (DLC701)
    "centre_tolerance": 0.3,  # |mean| above this (and above half the std): not zero-centred (DLC702)
    "std_low": 0.1,  # std below this: not unit-scale (DLC702)
    "std_high": 10.0,  # std above this: not unit-scale (DLC702; one such table feature is enough)
    "uncentred_share": 0.25,  # tables: share of features off-centre or too small that warns
    "constant_share": 0.25,  # constant features/channels: a warning above this share, else a note
    "imbalance_ratio": 10.0,  # largest / smallest class count that warns (DLC706)
    "max_classes": 100_000,  # labels beyond this with no num_classes known: counting skipped
    "entropy_ratio": 0.5,  # per-batch label entropy / that of shuffled batches, below: sorted (DLC707)
    "duplicate_share": 0.05,  # share of duplicated samples that warns (DLC708), else a note
    "pairing": True,  # run the pairing control (DLC709)
    "pair_batches": 4,  # batches in the pairing subset (spread over the batches read)
    "pair_steps": 40,  # optimizer steps per run (true labels, permuted labels)
    "pair_ratio": 1.5,  # paired when the true labels learn this many times more than permuted ones
    "pair_margin": 0.05,  # ... or by this much more (share of the initial loss)
    "pair_min_learning": 0.03,  # when neither run learns this much the control is inconclusive
}


@dataclass
class _Data:
    """What was read: per batch the inputs (device and CPU) and the targets (device)."""

    inputs: list = field(default_factory=list)  # device inputs per batch, or None when unknown
    inputs_cpu: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    probe_outputs: torch.Tensor | None = None


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    for key in ("batches", "pair_steps", "pair_batches"):
        if int(s[key]) < 1:
            raise UserError(f"data-check: {key} must be at least 1, not {s[key]}")
    raw = ctx.raw_batches(int(s["batches"]))
    batches = [to_device(b, ctx.device) for b in raw]
    data = _read(ctx, raw, batches)
    sizes = [batch_size(t) for t in data.targets]
    result.metrics.update({"batches": len(batches), "samples": sum(sizes)})

    parts = []
    if data.inputs[0] is None:
        result.add("DLC710", "the target's forward() takes the batches apart and dlcheck cannot tell "
                             "which part are the inputs: input statistics, NaN/Inf and duplicates skipped")
    else:
        streams = _streams(data.inputs, ctx.target.where("train_loader"))
        for name, tensors in streams.items():
            parts.append(_judge_inputs(ctx, name, tensors, len(streams) == 1))
        _duplicates(ctx, data)

    labels_ok, sorted_batches = _judge_labels(ctx, data, parts)
    if s["pairing"]:
        pairing.control(ctx, batches, data.targets, skip=pairing.obstacle(result, labels_ok, sorted_batches))
    result.summary = f"{sum(sizes)} samples in {len(batches)} batches: " + "; ".join(p for p in parts if p)
    return result


# -- reading ----------------------------------------------------------------------------------
def _read(ctx: Context, raw: list, batches: list) -> _Data:
    """Inputs and targets per batch: split as ``(inputs, targets)``, or through the target's forward.

    One forward of the first batch (no gradient) reads the model's output width when the target
    gives no ``num_classes``, and tells whether a target's forward() takes the labels we see."""
    data = _Data()
    if ctx.target.forward is not None:
        with ctx.model() as model, torch.no_grad():
            data.probe_outputs, targets = ctx.forward(model, batches[0], 0)
            heuristic = _try_split(ctx, batches[0])
            if not (heuristic and same(heuristic[1], targets)):  # its own split: inputs unknown
                data.targets = [_tensor_targets(ctx, ctx.forward(model, b, i)[1], i) for i, b in enumerate(batches)]
                data.inputs = data.inputs_cpu = [None] * len(batches)
                return data
    for i, (batch, cpu) in enumerate(zip(batches, raw)):
        inputs, targets = ctx.split(batch, i)
        data.inputs.append(inputs)
        data.inputs_cpu.append(ctx.split(cpu, i)[0])
        data.targets.append(_tensor_targets(ctx, targets, i))
    _streams(data.inputs, ctx.target.where("train_loader"))  # no tensor inputs: a clear error first
    if data.probe_outputs is None and ctx.target.num_classes is None:
        with ctx.model() as model, torch.no_grad():
            data.probe_outputs = ctx.forward(model, batches[0], 0)[0]
    return data


def _try_split(ctx: Context, batch):
    try:
        return ctx.split(batch)
    except UserError:
        return None


def _tensor_targets(ctx: Context, targets, index: int) -> torch.Tensor:
    if not isinstance(targets, torch.Tensor):
        raise UserError(f"{ctx.target.where('train_loader')} batch {index}: the targets are a "
                        f"{type(targets).__name__}, not a tensor")
    return targets


def _leaves(inputs, prefix: str = "inputs") -> list[tuple[str, object]]:
    """(name, value) of each part of the inputs: one tensor, or the entries of a tuple/dict."""
    if isinstance(inputs, dict):
        return [(f"{prefix}[{k!r}]", v) for k, v in inputs.items()]
    if isinstance(inputs, (tuple, list)):
        return [(f"{prefix}[{i}]", v) for i, v in enumerate(inputs)]
    return [(prefix, inputs)]


def _streams(inputs: list, where: str) -> dict[str, list[torch.Tensor]]:
    """Input tensors by name over all batches; an error when a batch holds no tensor inputs."""
    streams: dict[str, list] = {}
    for i, batch_inputs in enumerate(inputs):
        found = [(n, v) for n, v in _leaves(batch_inputs) if isinstance(v, torch.Tensor)]
        if not found:
            raise UserError(f"{where} batch {i}: the inputs are a {type(batch_inputs).__name__} "
                            f"holding no tensor")
        for name, value in found:
            streams.setdefault(name, []).append(value)
    return streams


# -- inputs -----------------------------------------------------------------------------------
def _kind(t: torch.Tensor) -> str:
    if t.is_complex():
        return "other"
    if t.dtype == torch.uint8 and t.dim() >= 3:
        return "image"
    if t.dtype == torch.bool or not (t.dtype.is_floating_point or t.dtype == torch.uint8):
        return "ids"
    return "image" if t.dim() >= 3 else "table"


def _by_channel(t: torch.Tensor, channels: int) -> torch.Tensor:
    """(channels, values) view in float64: axis 1 for (N, C, ...), features for (N, F)."""
    t = t.double()
    if t.dim() <= 1:
        return t.reshape(1, -1)
    if channels == 1 and t.shape[1] != 1:
        return t.reshape(1, -1)
    return t.transpose(0, 1).reshape(t.shape[1], -1)


def _judge_inputs(ctx: Context, name: str, tensors: list[torch.Tensor], only: bool) -> str:
    """Moments and NaN/Inf of one input stream; findings DLC701-704. Returns a summary part."""
    s, result = ctx.settings, ctx.result
    kind = _kind(tensors[0])
    label = "inputs" if only else name
    if kind in ("ids", "other"):
        result.add("DLC710", f"{label} are {tensors[0].dtype} ids (tokens or categories): "
                             f"mean/std and NaN checks do not apply")
        return f"{label}: {tensors[0].dtype} ids"
    widths = {t.shape[1] if t.dim() >= 2 else 1 for t in tensors}
    channels = widths.pop() if len(widths) == 1 else 1  # ragged widths: one global channel
    count = total = square = low = high = None
    bad_counts = []
    for t in tensors:
        x = _by_channel(t, channels)
        finite = torch.isfinite(x)
        bad_counts.append((~finite).sum())
        x0 = torch.where(finite, x, torch.zeros((), dtype=x.dtype, device=x.device))
        c, sm, sq = finite.sum(1), x0.sum(1), (x0 * x0).sum(1)
        lo = torch.where(finite, x, torch.full((), math.inf, dtype=x.dtype, device=x.device)).amin(1)
        hi = torch.where(finite, x, torch.full((), -math.inf, dtype=x.dtype, device=x.device)).amax(1)
        if count is None:
            count, total, square, low, high = c, sm, sq, lo, hi
        else:
            count, total, square = count + c, total + sm, square + sq
            low, high = torch.minimum(low, lo), torch.maximum(high, hi)
    n = count.clamp(min=1).double()
    mean = total / n
    std = (square / n - mean * mean).clamp(min=0).sqrt()
    mean, std, low, high = mean.tolist(), std.tolist(), low.tolist(), high.tolist()  # host copies
    samples = sum(batch_size(t) for t in tensors)
    bad_counts = torch.stack(bad_counts).tolist()
    _report_nonfinite(ctx, label, tensors, bad_counts)

    seen = [i for i in range(len(mean)) if math.isfinite(low[i])]
    if not seen:
        return f"{label}: no finite values"
    lo_all, hi_all = min(low[i] for i in seen), max(high[i] for i in seen)
    constant = [i for i in seen if high[i] - low[i] <= 1e-7 * max(1.0, abs(high[i]))]
    varying = sorted(set(seen) - set(constant))
    unit = "channel" if kind == "image" else "feature"
    rows = [{unit: i, "mean": mean[i], "std": std[i], "min": low[i], "max": high[i]} for i in seen]
    ctx.result.metrics.update({f"{_metric(label)}_min": lo_all, f"{_metric(label)}_max": hi_all,
                               f"{_metric(label)}_constant": len(constant)})
    raw = kind == "image" and lo_all >= 0 and s["raw_max"] < hi_all <= 255.5
    if raw:
        means = ", ".join(f"{mean[i]:.0f}" for i in seen[:4])
        result.add("DLC701", f"{label} range {lo_all:g}..{hi_all:g} with per-{unit} means {means}: "
                             f"raw 0-255 pixel values")
    else:
        _judge_scale(ctx, label, unit, kind, mean, std, varying)
    if constant and samples >= 2:
        share = len(constant) / len(seen)
        shown = ", ".join(str(i) for i in constant[:8]) + (" ..." if len(constant) > 8 else "")
        severity = "warn" if share > s["constant_share"] else "info"
        result.add("DLC703", f"{len(constant)} of {len(seen)} {unit}s of {label} are constant ({unit}s "
                             f"{shown})", severity=severity)
    if kind == "image" or len(rows) <= 40:
        ctx.result.details[f"{_metric(label)}_{unit}s"] = rows
    shape = "x".join(str(d) for d in tensors[0].shape[1:])
    return f"{label} {kind} ({shape}) range {lo_all:.3g}..{hi_all:.3g}"


def _metric(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")


def _judge_scale(ctx: Context, label, unit, kind, mean, std, varying) -> None:
    """DLC702: any of up to 4 image channels off, else a share of channels/features off-centre or
    too small, or any one with a huge scale (it dominates the first layer)."""
    s = ctx.settings
    if not varying:
        return
    off_centre = [i for i in varying if abs(mean[i]) > s["centre_tolerance"] and abs(mean[i]) > 0.5 * std[i]]
    small = [i for i in varying if std[i] < s["std_low"]]
    huge = [i for i in varying if std[i] > s["std_high"]]
    off = sorted(set(off_centre) | set(small) | set(huge))
    ctx.result.metrics[f"{_metric(label)}_off_scale"] = len(off)
    share = len(set(off_centre) | set(small)) / len(varying)
    few_channels = kind == "image" and len(varying) <= 4  # RGB-like: every channel counts
    if not (huge or (off and few_channels) or share > s["uncentred_share"]):
        return
    shown = "; ".join(f"{unit} {i}: mean {mean[i]:.3g}, std {std[i]:.3g}" for i in off[:4])
    more = f" and {len(off) - 4} more" if len(off) > 4 else ""
    ctx.result.add("DLC702", f"{len(off)} of {len(varying)} {unit}s of {label} are not zero-centred "
                             f"and unit-scale ({shown}{more})")


def _report_nonfinite(ctx: Context, label: str, tensors: list[torch.Tensor], bad_counts: list) -> None:
    """DLC704 naming the first batch and sample indices that hold NaN/Inf."""
    total = int(sum(bad_counts))
    if not total:
        return
    first = next(i for i, c in enumerate(bad_counts) if c)
    t = tensors[first]
    per_sample = (~torch.isfinite(t.reshape(t.shape[0], -1) if t.dim() else t.reshape(1, 1))).any(1)
    where = per_sample.nonzero().flatten().tolist()
    kinds = "NaN" if bool(torch.isnan(t).any()) else "Inf"
    batches = sum(1 for c in bad_counts if c)
    shown = ", ".join(map(str, where[:5])) + (" ..." if len(where) > 5 else "")
    ctx.result.add("DLC704", f"{total} non-finite values in {label} ({batches} batches); first in batch "
                             f"{first}, sample index {shown} ({kinds})")
    ctx.result.metrics["nonfinite_values"] = total


def _duplicates(ctx: Context, data: _Data) -> None:
    """DLC708: hash every sample's input bytes (on the CPU); name the first pair."""
    seen: dict[bytes, tuple[int, int, bytes]] = {}
    duplicates = conflicting = 0
    first = None
    for b, (inputs, targets) in enumerate(zip(data.inputs_cpu, data.targets)):
        parts = [v for _, v in _leaves(inputs) if isinstance(v, torch.Tensor) and v.dim() >= 1]
        if not parts:
            continue
        n = parts[0].shape[0]
        if any(p.shape[0] != n for p in parts):
            return
        rows = [_row_bytes(p.cpu()) for p in parts]
        labels = _row_bytes(targets.cpu()) if targets.dim() and targets.shape[0] == n else None
        for i in range(n):
            digest = hashlib.blake2b(b"".join(r[i] for r in rows), digest_size=16).digest()
            label = labels[i] if labels is not None else b""
            if digest in seen:
                duplicates += 1
                conflicting += seen[digest][2] != label
                first = first or (seen[digest][:2], (b, i))
            else:
                seen[digest] = (b, i, label)
    samples = duplicates + len(seen)
    ctx.result.metrics["duplicates"] = duplicates
    if duplicates:
        (b0, i0), (b1, i1) = first
        clash = f", {conflicting} of them with a different label" if conflicting else ""
        severity = "warn" if duplicates / max(samples, 1) >= ctx.settings["duplicate_share"] else "info"
        ctx.result.add("DLC708", f"{duplicates} of {samples} samples repeat an earlier one{clash} "
                                 f"(first: batch {b1} sample {i1} = batch {b0} sample {i0})", severity=severity)


def _row_bytes(t: torch.Tensor) -> list[bytes]:
    flat = t.detach().reshape(t.shape[0], -1).contiguous()
    raw = flat.view(torch.uint8).numpy() if flat.numel() else flat.numpy()
    return [row.tobytes() for row in raw]


# -- labels -----------------------------------------------------------------------------------
def _judge_labels(ctx: Context, data: _Data, parts: list) -> tuple[bool, bool]:
    """DLC705-707. Returns (labels usable by the loss, batches sorted by class)."""
    result, s = ctx.result, ctx.settings
    first = data.targets[0]
    if first.dtype.is_floating_point or first.is_complex():
        result.add("DLC710", f"the targets are {first.dtype} (regression or soft labels): label range, "
                             f"class balance and shuffling checks skipped")
        parts.append(f"{first.dtype} targets")
        return True, False
    ignore = getattr(ctx.loss_fn, "ignore_index", -100)
    labels = [t.reshape(-1).long() for t in data.targets]
    valid = [l[l != ignore] for l in labels]
    classes = ctx.target.num_classes
    source = "num_classes in the target"
    if classes is None and data.probe_outputs is not None and data.probe_outputs.dim() >= 2:
        classes, source = int(data.probe_outputs.shape[1]), "the model's output width"
    if classes is not None and classes < 2 and ctx.is_cross_entropy:
        classes = None
    everything = torch.cat(valid)
    if not everything.numel():
        result.add("DLC710", "every label is the loss's ignore_index: label checks skipped")
        return True, False
    low, high = int(everything.min()), int(everything.max())
    result.metrics.update({"label_min": low, "label_max": high})
    in_range = low >= 0 and (classes is None or high < classes)
    if not in_range:
        _report_out_of_range(ctx, valid, classes, source)
    width = classes if classes is not None else high + 1
    if width > s["max_classes"]:  # one garbage label must not make a table of a million classes
        result.add("DLC710", f"labels reach {high} and the number of classes is not known: class balance "
                             f"and shuffling checks skipped (set num_classes in the target)")
        return in_range, False
    result.metrics["num_classes"] = width
    kept = everything[(everything >= 0) & (everything < width)]  # out-of-range labels: DLC705 above
    counts = torch.bincount(kept, minlength=width)[:width].tolist()
    parts.append(f"{sum(1 for c in counts if c)} of {width} classes seen")
    if width <= 100:
        result.details["classes"] = [{"class": k, "count": c, "share": c / everything.numel()}
                                     for k, c in enumerate(counts)]
    per_position = first.dim() >= 2 and first.shape[-1] > 1  # tokens, pixels: skew is normal there
    _balance(ctx, counts[:width], classes, "info" if per_position else None)
    sorted_batches = _sorted_batches(ctx, [l[(l >= 0) & (l < width)] for l in valid], counts)
    return in_range, sorted_batches


def _report_out_of_range(ctx: Context, valid: list, classes, source: str) -> None:
    for b, l in enumerate(valid):
        bad = (l < 0) | (l >= classes) if classes is not None else l < 0
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            total = int(sum(int(((v < 0) | (v >= classes) if classes is not None else v < 0).sum()) for v in valid))
            span = f"0..{classes - 1} ({source})" if classes is not None else "0 and up"
            ctx.result.add("DLC705", f"{total} labels outside {span}; first: label {int(l[i])} in batch "
                                     f"{b}, index {i}")
            return


def _balance(ctx: Context, counts: list[int], classes, severity: str | None) -> None:
    present = [c for c in counts if c]
    if not present:
        return
    ratio = max(present) / min(present)
    ctx.result.metrics["imbalance_ratio"] = round(ratio, 4)
    if ratio > ctx.settings["imbalance_ratio"]:
        big, small = counts.index(max(present)), counts.index(min(present))
        ctx.result.add("DLC706", f"class {big} has {max(present)} samples and class {small} only "
                                 f"{min(present)} ({ratio:.0f}x) in the batches seen", severity=severity)
    total = sum(counts)
    missing = [k for k, c in enumerate(counts) if not c]
    if classes is not None and missing and total >= 5 * classes:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        ctx.result.add("DLC706", f"{len(missing)} of {classes} classes never appear in {total} labels "
                                 f"(classes {shown})", severity="info")


def _entropy(counts: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each row of class counts."""
    p = counts / counts.sum(-1, keepdim=True).clamp(min=1)
    return -(p * p.clamp(min=1e-30).log()).sum(-1)


def _sorted_batches(ctx: Context, valid: list, counts: list[int]) -> bool:
    """DLC707: per-batch label entropy against that of batches drawn at random (same sizes)."""
    usable = [l.cpu() for l in valid if l.numel() >= 2]
    overall = torch.tensor(counts, dtype=torch.float64)
    if len(usable) < 3 or int((overall > 0).sum()) < 2:
        return False
    width = len(counts)
    observed = torch.stack([torch.bincount(l.clamp(0, width - 1), minlength=width)[:width].double()
                            for l in usable])
    gen = torch.Generator().manual_seed(ctx.seed)
    p = overall / overall.sum()
    offsets = (torch.arange(64) * width)[:, None]
    expected = []
    for l in usable:  # Monte Carlo: 64 random batches of this size from the overall distribution
        size = min(l.numel(), 2048)  # larger batches: the entropy has converged
        draws = torch.multinomial(p, size * 64, replacement=True, generator=gen).view(64, size)
        hist = torch.bincount((draws + offsets).flatten(), minlength=64 * width).view(64, width).double()
        expected.append(_entropy(hist).mean())
    reference = float(torch.stack(expected).mean())
    if reference < 0.1:  # labels so skewed that random batches are nearly pure as well
        return False
    ratio = float(_entropy(observed).mean()) / reference
    ctx.result.metrics["batch_entropy_ratio"] = round(ratio, 4)
    if ratio >= ctx.settings["entropy_ratio"]:
        return False
    shares = observed / observed.sum(1, keepdim=True)
    top = shares.max(1)
    shown = ", ".join(f"{float(v):.0%} class {int(k)}" for v, k in zip(top.values[:6], top.indices[:6]))
    ctx.result.add("DLC707", f"label entropy per batch is {ratio:.0%} of what shuffled batches give; "
                             f"the first batches are {shown}")
    return True
