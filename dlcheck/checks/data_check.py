"""Recipe step 7: look at the data before blaming the model.

The first N batches are streamed (one on the device at a time; every statistic is reduced there,
batch by batch): per-channel (images, (N, C, ...)) or per-feature (tables, (N, F)) mean, std and
range (raw 0-255 pixels, uncentred or unscaled inputs, constant features), NaN/Inf with the batch
and sample that hold them, duplicated samples, and the targets for their task: class labels
against the number of classes, class balance and batches dominated by one class (no shuffling);
per-position labels (tokens, pixels) counted as positions, their natural skew only a note;
regression targets' scale; multi-label prevalence. Integer inputs (token ids) get no mean/std.
Then the pairing control (``_pairing.py``) on the few batches kept: a short fit of the same
initial model with the true and with permuted labels.

Reading (``_Reader``) fills one plain dataclass of measured numbers (``Measured``); each finding is
a small rule reading it, the task and the settings.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field

import torch

from dlcheck import scale
from dlcheck.checks import _pairing as pairing
from dlcheck.checks._pairing import batch_size, same
from dlcheck.context import Context
from dlcheck.device import to_device
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, listing

NAME = "data-check"
SETTINGS = {
    "batches": 20,  # batches of the train loader inspected (streamed: one on the device at a time)
    "raw_max": 25.0,  # image inputs in [0, 255] whose maximum exceeds this are raw pixels (DLC701)
    "centre_tolerance": 0.3,  # |mean| above this (and above centre_share x std): not zero-centred (DLC702)
    "centre_share": 0.5,  # ... a mean within this share of the std is spread, not an offset
    "std_low": 0.1,  # std below this: not unit-scale (DLC702)
    "std_high": 10.0,  # std above this: not unit-scale (DLC702; one such table feature is enough)
    "uncentred_share": 0.25,  # tables: share of features off-centre or too small that warns
    "constant_share": 0.25,  # constant features/channels: a warning above this share, else a note
    "imbalance_ratio": 10.0,  # largest / smallest class count that warns (DLC706)
    "max_classes": 100_000,  # labels beyond this with no num_classes known: counting skipped
    "entropy_ratio": 0.5,  # per-batch label entropy / that of shuffled batches, below: sorted (DLC707)
    "duplicate_share": 0.05,  # share of duplicated samples that warns (DLC708), else a note
    "target_scale": 10.0,  # regression: a target column whose RMS (sqrt(mean^2 + std^2)) exceeds this
    #                        is not standardised (DLC711): outputs start near 0, far from it
    "target_std_low": 1e-3,  # regression: a varying target column with a std below this (DLC711)
    "prevalence_low": 0.01,  # multi-label: a label positive in fewer (or more than 1 - this) of the
    #                          samples is a note; one never (or always) positive warns (DLC712)
    "prevalence_min_samples": 50,  # ... judged only over at least this many samples
    "pairing": True,  # run the pairing control (DLC709)
    "pair_batches": 4,  # batches in the pairing subset (spread over the batches read)
    "pair_holdout": 2,  # further batches, not trained on, on which both runs are judged afterwards
    "pair_steps": 40,  # optimizer steps per run (true labels, permuted labels)
    "pair_max_steps": 160,  # without evidence of pairing after pair_steps, both runs again this long
    #                         before a verdict (0: never)
    "pair_margin": 0.1,  # paired when the true labels learn this much more on the subset (share of
    #                      initial loss - floor) ...
    "pair_ratio": 1.5,  # ... and this many times as much as the permuted ones
    "pair_apart_gap": 0.05,  # DLC709 needs the two runs alike: the true labels at most this much ahead
    #                          (share of initial - floor) and ending no pair_ratio x lower; in between
    #                          (ahead, but not by the margin) the control is inconclusive
    "pair_holdout_margin": 0.05,  # paired when the held-out loss falls this much more (share of
    #                               initial - floor) after training on true than on permuted labels
    "pair_memorised": 0.12,  # DLC709 needs one run to end this far below the best constant output
    #                          (share of constant - floor): the model can fit the subset in the steps
    #                          given; below it the control is inconclusive
    "pair_init_ratio": 10.0,  # a loss at step 1 above this many times that of outputs at zero: the
    #                           init dominates, an alike pair of runs is inconclusive, not DLC709
}

# -- measured numbers -------------------------------------------------------------------------
@dataclass
class InputSummary:
    """One input stream (a tensor, or one entry of a tuple/dict of inputs) over the batches read."""

    label: str  # "inputs" or "inputs['x']"
    kind: str  # image | table | ids | other
    dtype: str
    shape: tuple  # of one sample
    stats: scale.ChannelStats | None = None  # None for ids
    bad_batches: int = 0  # batches holding NaN/Inf
    first_bad: tuple | None = None  # (batch, [sample indices], "NaN" | "Inf")


@dataclass
class LabelSummary:
    """Hard class labels (classification), counted per batch."""

    classes: int | None  # the number of classes known (num_classes, the task, the output width)
    source: str
    ignored: int = 0  # labels equal to the loss's ignore_index
    valid: int = 0
    low: int | None = None
    high: int | None = None
    out_of_range: int = 0
    first_out: tuple | None = None  # (batch, index, label)
    batch_counts: list[list[int]] = field(default_factory=list)  # per batch, per class (in range)


@dataclass
class Measured:
    """Everything data-check read, as plain numbers; the rules below judge it."""

    batches: int = 0
    samples: int = 0  # input samples (sequences, images, rows)
    targets: int = 0  # labels / target rows (= samples, or positions for per-position labels)
    position_word: str = "positions"  # tokens | pixels | positions
    inputs_known: bool = True
    inputs: list[InputSummary] = field(default_factory=list)
    target_kind: str = "classes"  # classes | multilabel | regression | soft | float
    target_dtype: str = ""
    labels: LabelSummary | None = None
    target_stats: scale.ChannelStats | None = None  # regression / multi-label targets per column
    target_bad: tuple | None = None  # (count, batch) of non-finite targets
    duplicates: int = 0
    hashed: int = 0
    conflicting: int = 0
    first_duplicate: tuple | None = None  # ((batch, index), (batch, index))

    @property
    def per_position(self) -> bool:
        return self.targets > self.samples


# -- the check --------------------------------------------------------------------------------
def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    for key in ("batches", "pair_steps", "pair_batches"):
        if int(s[key]) < 1:
            raise UserError(f"data-check: {key} must be at least 1, not {s[key]}")
    reader = _Reader(ctx)
    with reader:
        for index, raw in _first_batches(ctx, int(s["batches"])):
            reader.add(index, raw)
    m = reader.measured
    result.metrics.update({"batches": m.batches, "samples": m.samples})
    if m.per_position:
        result.metrics[m.position_word] = m.targets

    parts = []
    if not m.inputs_known:
        result.add("DLC710", "the target's forward() takes the batches apart and dlcheck cannot tell "
                             "which part are the inputs: input statistics, NaN/Inf and duplicates skipped")
    for stream in m.inputs:
        parts.append(_judge_inputs(ctx, stream, len(m.inputs) == 1))
    _judge_duplicates(ctx, m)
    labels_ok, sorted_batches = _judge_targets(ctx, m, parts)
    if s["pairing"]:
        skip = pairing.obstacle(result, labels_ok, sorted_batches, ctx.task.problem)
        pairing.control(ctx, reader.kept, reader.slot, skip=skip)
    what = f"{m.samples} samples" + (f" ({m.targets} {m.position_word})" if m.per_position else "")
    result.summary = f"{what} in {m.batches} batches: " + "; ".join(p for p in parts if p)
    return result


def _first_batches(ctx: Context, n: int):
    """``(index, batch)`` for the first ``n`` batches, read one at a time (none is kept here)."""
    where = ctx.target.where("train_loader")
    loader = ctx.loader()
    if loader is None:
        raise UserError("no train_loader was given")
    try:
        iterator = iter(loader)
    except TypeError:
        raise UserError(f"{where} is a {type(loader).__name__}, not an iterable of batches") from None
    stride = ctx._stride("train")  # under torchrun without a DistributedSampler: (rank, world)
    rank, world = stride if stride is not None else (0, 1)
    count, mine = 0, None
    for read, batch in enumerate(iterator):
        if read % world == rank:
            mine = batch
        if read % world == world - 1:  # a whole round read: every rank has its batch of it
            yield count, mine
            count, mine = count + 1, None
            if count >= n:
                break
    if not count:
        raise UserError(f"{where} yielded no batches")


def _spread(k: int, n: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)``, first and last included."""
    k = min(k, n)
    return sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)}) if k else []


# -- reading ----------------------------------------------------------------------------------
class _Reader:
    """Streams batches: each is moved to the device, reduced there, and dropped unless it is one
    of the few the pairing control keeps (``kept``: (index, batch, role) with role train/holdout)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.measured = Measured()
        self.kept: list[tuple[int, object, str]] = []
        self.slot = None  # where the labels sit in a batch, for the pairing control
        self._stack = contextlib.ExitStack()
        self._model = None  # open only when the target's forward() must be run on every batch
        self._streams: dict[str, tuple[InputSummary, scale.Moments | None]] = {}
        self._target_moments: scale.Moments | None = None
        self._hashes: dict[bytes, tuple[int, int, bytes]] = {}
        self._hashing = True
        self._digests: list[tuple[int, int, float, float]] = []  # under torchrun: (batch, i, input, label)
        self._keep = self._plan()

    def __enter__(self):
        return self

    def _world(self) -> int:
        """The ranks sharing the loader's batches round-robin (1: one process, or a loader with a
        DistributedSampler, whose length is already this rank's)."""
        stride = self.ctx._stride("train")
        return stride[1] if stride is not None else 1

    def __exit__(self, kind, *exc):
        self._stack.close()
        if kind is None:
            self._finish()
        return False

    def _plan(self) -> dict[int, str]:
        """Which batch indices the pairing control keeps: a spread-out training subset and
        held-out batches between them (the first ones when the loader has no length)."""
        s = self.ctx.settings
        if not s["pairing"]:
            return {}
        k, h = int(s["pair_batches"]), max(0, int(s["pair_holdout"]))
        try:
            n = min(int(s["batches"]), len(self.ctx.loader()) // self._world())
        except (TypeError, NotImplementedError):  # no length (an iterable dataset, a generator)
            return {**{i: "train" for i in range(k)}, **{k + i: "holdout" for i in range(h)}}
        train = _spread(k, n)
        rest = [i for i in range(n) if i not in train]
        return {**{i: "train" for i in train}, **{rest[j]: "holdout" for j in _spread(h, len(rest))}}

    # -- one batch --------------------------------------------------------------------------
    def add(self, index: int, raw) -> None:
        ctx, m = self.ctx, self.measured
        batch = to_device(raw, ctx.device)
        if index == 0:
            self._first(batch)
        if self.mode == "split":
            inputs, targets = ctx.split(batch, index)
            inputs_cpu, targets_cpu = ctx.split(raw, index)
        else:
            with torch.no_grad():
                targets = ctx.forward(self._model, batch, index)[1]
            inputs = inputs_cpu = targets_cpu = None
        targets = _tensor_targets(ctx, targets, index)
        samples = _leading(inputs) if inputs is not None else _leading(batch)
        m.batches += 1
        m.samples += samples if samples is not None else batch_size(targets)
        m.targets += self._count_targets(targets)
        if inputs is not None:
            self._add_inputs(index, inputs)
            self._hash(index, inputs_cpu, targets_cpu)
        self._add_targets(index, targets)
        if index in self._keep:
            self.kept.append((index, batch, self._keep[index]))

    def _first(self, batch) -> None:
        """Decide, on the first batch, where inputs and labels are and what the targets are."""
        ctx, m = self.ctx, self.measured
        task = ctx.task
        probe = None
        self.mode = "split"
        if ctx.target.forward is not None:
            self._model = self._stack.enter_context(ctx.model())
            with torch.no_grad():
                outputs, targets = ctx.forward(self._model, batch, 0)
            probe = _logits_or_none(ctx, outputs)
            heuristic = _try_split(ctx, batch)
            if heuristic and _matches(heuristic[1], targets):  # the forward takes the usual parts
                self._stack.close()
                self._model = None
            else:  # its own split: inputs unknown, targets through the forward on every batch
                self.mode = "forward"
                m.inputs_known = False
            self.slot = pairing.label_slot(ctx, batch, targets)
        else:
            targets = ctx.split(batch, 0)[1]  # a clear error for a batch that is no (inputs, targets)
            self.slot = pairing.label_slot(ctx, batch, None)
        if self.mode == "split":
            _tensor_leaves(ctx, ctx.split(batch, 0)[0], 0)  # no tensor inputs: a clear error first
        targets = _tensor_targets(ctx, targets, 0)
        m.target_dtype = str(targets.dtype)
        m.target_kind = _target_kind(task, targets)
        if m.target_kind == "classes":
            classes, source = ctx.target.num_classes, "num_classes in the target"
            if classes is None and task.kind == "classification" and task.classes:
                classes, source = int(task.classes), "the model's output width"
            if classes is None and probe is None:
                with ctx.model() as model, torch.no_grad():
                    probe = ctx.logits(ctx.forward(model, batch, 0)[0])
            if classes is None and probe is not None and probe.dim() >= 2:
                classes, source = int(probe.shape[1]), "the model's output width"
            if classes is not None and classes < 2 and ctx.is_cross_entropy:
                classes = None
            m.labels = LabelSummary(classes=classes, source=source)
        elif m.target_kind in ("regression", "multilabel"):
            self._target_moments = scale.Moments()
        if self.mode == "split":
            ids = [v for _, v in _leaves(ctx.split(batch, 0)[0]) if isinstance(v, torch.Tensor)]
            if ids and _kind(ids[0]) == "ids":
                m.position_word = "tokens"
            elif ids and ids[0].dim() >= 3:
                m.position_word = "pixels"
        elif task.dense:
            m.position_word = "positions"

    def _count_targets(self, targets: torch.Tensor) -> int:
        """Labels for hard labels (one per position), target rows for the other kinds."""
        if self.measured.target_kind == "classes":
            return int(targets.numel())
        return batch_size(targets)

    def _add_inputs(self, index: int, inputs) -> None:
        for name, t in _tensor_leaves(self.ctx, inputs, index):
            if name not in self._streams:
                kind = _kind(t)
                summary = InputSummary(label=name, kind=kind, dtype=str(t.dtype), shape=tuple(t.shape[1:]))
                self._streams[name] = (summary, scale.Moments() if kind in ("image", "table") else None)
                self.measured.inputs.append(summary)
            summary, moments = self._streams[name]
            if moments is None:
                continue
            bad = moments.add(t)
            if int(bad):  # one small read per batch; the sample indices only for the first such batch
                summary.bad_batches += 1
                if summary.first_bad is None:
                    flat = t.reshape(t.shape[0], -1) if t.dim() else t.reshape(1, 1)
                    where = (~torch.isfinite(flat)).any(1).nonzero().flatten().tolist()
                    summary.first_bad = (index, where, "NaN" if bool(torch.isnan(t).any()) else "Inf")

    def _hash(self, index: int, inputs, targets) -> None:
        """DLC708: a digest of every sample's input bytes (on the CPU copy the loader gave)."""
        if not self._hashing:
            return
        parts = [v for _, v in _leaves(inputs) if isinstance(v, torch.Tensor) and v.dim() >= 1]
        if not parts:
            return
        n = parts[0].shape[0]
        if any(p.shape[0] != n for p in parts):
            self._hashing = False
            return
        m = self.measured
        rows = [_row_bytes(p) for p in parts]
        labels = _row_bytes(targets) if isinstance(targets, torch.Tensor) and targets.dim() \
            and targets.shape[0] == n else None
        for i in range(n):
            digest = hashlib.blake2b(b"".join(r[i] for r in rows), digest_size=16).digest()
            label = labels[i] if labels is not None else b""
            if self.ctx.shards:
                self._digests.append((index, i, float(int.from_bytes(digest[:6], "big")),
                                      float(int.from_bytes(hashlib.blake2b(label, digest_size=6).digest(), "big"))))
            if digest in self._hashes:
                m.duplicates += 1
                m.conflicting += self._hashes[digest][2] != label
                m.first_duplicate = m.first_duplicate or (self._hashes[digest][:2], (index, i))
            else:
                self._hashes[digest] = (index, i, label)
        m.hashed += n

    def _add_targets(self, index: int, targets: torch.Tensor) -> None:
        m = self.measured
        if m.target_kind == "classes":
            self._add_labels(index, targets)
        elif self._target_moments is not None:
            bad = int(self._target_moments.add(targets.detach()))
            if bad and m.target_bad is None:
                m.target_bad = (bad, index)

    def _add_labels(self, index: int, targets: torch.Tensor) -> None:
        """Per batch: range, out-of-range labels (the first named) and the count per class."""
        s, lab = self.ctx.settings, self.measured.labels
        ignore = getattr(self.ctx.loss_fn, "ignore_index", -100)
        l = targets.reshape(-1).long()
        valid = l != ignore
        n_valid = int(valid.sum())
        lab.ignored += l.numel() - n_valid
        lab.valid += n_valid
        if not n_valid:
            lab.batch_counts.append([])
            return
        v = l[valid]
        lo, hi = int(v.min()), int(v.max())
        lab.low = lo if lab.low is None else min(lab.low, lo)
        lab.high = hi if lab.high is None else max(lab.high, hi)
        bad = valid & ((l < 0) | (l >= lab.classes)) if lab.classes is not None else valid & (l < 0)
        n_bad = int(bad.sum())
        if n_bad:
            lab.out_of_range += n_bad
            if lab.first_out is None:
                i = int(bad.nonzero()[0])
                lab.first_out = (index, i, int(l[i]))
        cap = lab.classes if lab.classes is not None else int(s["max_classes"]) + 1
        kept = v[(v >= 0) & (v < cap)]
        lab.batch_counts.append(torch.bincount(kept, minlength=lab.classes or 0).tolist())

    def _finish(self) -> None:
        if self.ctx.shards:
            self._reduce()
        for summary, moments in self._streams.values():
            if moments is not None:
                summary.stats = moments.result()
        if self._target_moments is not None:
            self.measured.target_stats = self._target_moments.result()
        if not self._hashing:
            self.measured.hashed = 0


    # -- under torchrun: every rank's numbers together ------------------------------------------
    def _reduce(self) -> None:
        """The statistics of all ranks' batches, the same on every rank: counts summed, moments
        summed (min/max reduced), the first bad sample the earliest over ranks (batch indices
        made global: local batch j of rank r is the loader's batch j * world + r), per-batch
        label counts gathered in the loader's order, duplicates found across ranks."""
        from dlcheck import distributed

        m, world, rank = self.measured, distributed.world_size(), distributed.rank()
        g = lambda j: j * world + rank  # noqa: E731
        m.batches, m.samples, m.targets = (int(v) for v in distributed.reduce_floats(
            [m.batches, m.samples, m.targets], ["sum"] * 3))
        for summary, moments in self._streams.values():
            if moments is None:
                continue
            _reduce_moments(moments)
            summary.bad_batches = int(distributed.reduce_floats([summary.bad_batches], ["sum"])[0])
            fb = summary.first_bad
            row = _earliest(None if fb is None else [g(fb[0]), float(fb[2] == "NaN"), len(fb[1]), *fb[1][:6]], 9)
            summary.first_bad = None if row is None else \
                (int(row[0]), [int(v) for v in row[3:3 + min(int(row[2]), 6)]], "NaN" if row[1] else "Inf")
        if self._target_moments is not None:
            _reduce_moments(self._target_moments)
            tb = m.target_bad
            row = _earliest(None if tb is None else [g(tb[1]), tb[0]], 2)
            m.target_bad = None if row is None else (int(row[1]), int(row[0]))
        if m.labels is not None:
            self._reduce_labels(g, world)
        self._reduce_duplicates(world)

    def _reduce_labels(self, g, world: int) -> None:
        from dlcheck import distributed

        lab = self.measured.labels
        inf = float("inf")
        ignored, valid, out, low, high, width = distributed.reduce_floats(
            [lab.ignored, lab.valid, lab.out_of_range, inf if lab.low is None else lab.low,
             -inf if lab.high is None else lab.high, max((len(r) for r in lab.batch_counts), default=0)],
            ["sum", "sum", "sum", "min", "max", "max"])
        lab.ignored, lab.valid, lab.out_of_range = int(ignored), int(valid), int(out)
        lab.low = None if low == inf else int(low)
        lab.high = None if high == -inf else int(high)
        fo = lab.first_out
        row = _earliest(None if fo is None else [g(fo[0]), fo[1], fo[2]], 3)
        lab.first_out = None if row is None else tuple(int(v) for v in row)
        width, n = int(width), len(lab.batch_counts)  # as many batches on every rank
        if not width or not n:
            lab.batch_counts = [[] for _ in range(n * world)]
            return
        flat = [float(c) for r in lab.batch_counts for c in r + [0] * (width - len(r))]
        ranks = distributed.gather_floats(flat)
        lab.batch_counts = [[int(c) for c in ranks[r][j * width:(j + 1) * width]] for j in range(n) for r in range(world)]

    def _reduce_duplicates(self, world: int) -> None:
        """The duplicate search replayed over every rank's sample digests in the loader's order."""
        from dlcheck import distributed

        m = self.measured
        if not distributed.all_true(self._hashing):
            self._hashing = False
            return
        size = int(distributed.reduce_floats([len(self._digests)], ["max"])[0])
        if not size:
            return
        flat = [v for d in self._digests for v in d] + [-1.0] * (4 * (size - len(self._digests)))
        rows = []
        for r, values in enumerate(distributed.gather_floats(flat)):
            for k in range(size):
                b, i, d, label = values[4 * k:4 * k + 4]
                if b >= 0:
                    rows.append((int(b) * world + r, int(i), d, label))
        rows.sort(key=lambda x: x[:2])
        seen: dict[float, tuple[int, int, float]] = {}
        m.duplicates = m.conflicting = 0
        m.first_duplicate = None
        for b, i, d, label in rows:
            if d in seen:
                m.duplicates += 1
                m.conflicting += seen[d][2] != label
                m.first_duplicate = m.first_duplicate or (seen[d][:2], (b, i))
            else:
                seen[d] = (b, i, label)
        m.hashed = len(rows)


def _reduce_moments(moments: scale.Moments) -> None:
    """One Moments accumulated over every rank's tensors (channels collapsed on every rank when
    the widths differ between ranks)."""
    from dlcheck import distributed

    widths = distributed.gather_floats([float(moments._acc[0].shape[0]) if moments._acc is not None else 0.0])
    if moments._acc is None:
        raise UserError("data-check: a rank read no tensor for a stream the others read")
    if len({w[0] for w in widths}) > 1:
        moments._collapse()
    c, s, q, low, high = moments._acc
    k = c.shape[0]
    bad = float(torch.stack(moments.nonfinite).sum()) if moments.nonfinite else 0.0
    numbers = torch.cat([c, s, q, low, high]).tolist() + [bad]
    out = distributed.reduce_floats(numbers, ["sum"] * (3 * k) + ["min"] * k + ["max"] * k + ["sum"])
    t = torch.tensor(out[:-1], dtype=torch.float64, device=c.device).view(5, k)
    moments._acc = list(t.unbind(0))
    moments.nonfinite = [torch.tensor(out[-1])]


def _earliest(row: list | None, size: int) -> list[float] | None:
    """Of every rank's ``row`` (the loader's batch index first; None: nothing to report), the one
    with the smallest first entry, the same on every rank."""
    from dlcheck import distributed

    mine = [float("inf")] * size if row is None else [float(v) for v in row] + [0.0] * (size - len(row))
    best = min(distributed.gather_floats(mine[:size]), key=lambda r: r[0])
    return None if best[0] == float("inf") else best


def _logits_or_none(ctx: Context, outputs):
    try:
        return ctx.logits(outputs)
    except UserError:
        return None


def _target_kind(task, targets: torch.Tensor) -> str:
    """What the targets are, from the task (inferred once per run) and, without one, the dtype."""
    if task.kind == "regression":
        return "regression"
    if task.kind == "multilabel":
        return "multilabel"
    if task.kind == "classification" and task.soft_targets and not task.problem:
        return "soft"
    if targets.dtype.is_floating_point or targets.is_complex():
        return "float"
    return "classes"


def _matches(a, b) -> bool:
    """The same tensor values, also when one is the other flattened ((B, T) -> (B*T,))."""
    if same(a, b):
        return True
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.numel() == b.numel()
            and a.numel() > 0 and bool((a.reshape(-1) == b.reshape(-1)).all()))


def _leading(value) -> int | None:
    """The first dimension of the first tensor in a batch or inputs (the number of samples)."""
    for _, v in _leaves(value):
        if isinstance(v, torch.Tensor) and v.dim():
            return int(v.shape[0])
        if isinstance(v, (dict, tuple, list)):
            inner = _leading(v)
            if inner is not None:
                return inner
    return None


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


def _tensor_leaves(ctx: Context, inputs, index: int) -> list[tuple[str, torch.Tensor]]:
    """The tensor parts of a batch's inputs; an error when there is none."""
    found = [(n, v) for n, v in _leaves(inputs) if isinstance(v, torch.Tensor)]
    if not found:
        raise UserError(f"{ctx.target.where('train_loader')} batch {index}: the inputs are a "
                        f"{type(inputs).__name__} holding no tensor")
    return found


def _kind(t: torch.Tensor) -> str:
    if t.is_complex():
        return "other"
    if t.dtype == torch.uint8 and t.dim() >= 3:
        return "image"
    if t.dtype == torch.bool or not (t.dtype.is_floating_point or t.dtype == torch.uint8):
        return "ids"
    return "image" if t.dim() >= 3 else "table"


def _row_bytes(t: torch.Tensor) -> list[bytes]:
    flat = t.detach().cpu().reshape(t.shape[0], -1).contiguous()
    raw = flat.view(torch.uint8).numpy() if flat.numel() else flat.numpy()
    return [row.tobytes() for row in raw]


def _metric(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")


# -- rules: inputs ----------------------------------------------------------------------------
def _thresholds(s) -> scale.Thresholds:
    return scale.Thresholds(raw_max=s["raw_max"], centre_tolerance=s["centre_tolerance"],
                            std_low=s["std_low"], std_high=s["std_high"], centre_share=s["centre_share"])


def _judge_inputs(ctx: Context, stream: InputSummary, only: bool) -> str:
    """DLC701-704 for one input stream. Returns a summary part."""
    s, result = ctx.settings, ctx.result
    label = "inputs" if only else stream.label
    if stream.kind in ("ids", "other"):
        result.add("DLC710", f"{label} are {stream.dtype} ids (tokens or categories): mean/std and NaN "
                             f"checks do not apply")
        return f"{label}: {stream.dtype} ids"
    st = stream.stats
    _report_nonfinite(ctx, label, stream)
    if not st.seen:
        return f"{label}: no finite values"
    unit = "channel" if stream.kind == "image" else "feature"
    lo_all, hi_all = st.range
    verdict = scale.judge(st, _thresholds(s), image=stream.kind == "image")
    key = _metric(label)
    result.metrics.update({f"{key}_min": lo_all, f"{key}_max": hi_all, f"{key}_constant": len(verdict.constant)})
    if verdict.raw:
        means = ", ".join(f"{st.mean[i]:.0f}" for i in st.seen[:4])
        result.add("DLC701", f"{label} range {lo_all:g}..{hi_all:g} with per-{unit} means {means}: "
                             f"raw 0-255 pixel values")
    else:
        _judge_scale(ctx, label, unit, stream.kind, st, verdict)
    if verdict.constant and ctx.result.metrics.get("samples", 2) >= 2:
        share = len(verdict.constant) / len(st.seen)
        shown = ", ".join(str(i) for i in verdict.constant[:8]) + (" ..." if len(verdict.constant) > 8 else "")
        severity = "warn" if share > s["constant_share"] else "info"
        result.add("DLC703", f"{len(verdict.constant)} of {len(st.seen)} {unit}s of {label} are constant "
                             f"({unit}s {shown})", severity=severity)
    if stream.kind == "image" or len(st.seen) <= 40:
        result.details[f"{key}_{unit}s"] = [{unit: i, "mean": st.mean[i], "std": st.std[i], "min": st.low[i],
                                             "max": st.high[i]} for i in st.seen]
    shape = "x".join(str(d) for d in stream.shape)
    return f"{label} {stream.kind} ({shape}) range {lo_all:.3g}..{hi_all:.3g}"


def _judge_scale(ctx: Context, label, unit, kind, st: scale.ChannelStats, v: scale.Verdict) -> None:
    """DLC702: any of up to 4 image channels off, else a share of channels/features off-centre or
    too small, or any one with a huge scale (it dominates the first layer)."""
    s = ctx.settings
    if not v.varying:
        return
    ctx.result.metrics[f"{_metric(label)}_off_scale"] = len(v.off)
    share = len(set(v.off_centre) | set(v.small)) / len(v.varying)
    few_channels = kind == "image" and len(v.varying) <= 4  # RGB-like: every channel counts
    if not (v.huge or (v.off and few_channels) or share > s["uncentred_share"]):
        return
    shown = "; ".join(f"{unit} {i}: mean {st.mean[i]:.3g}, std {st.std[i]:.3g}" for i in v.off[:4])
    more = f" and {len(v.off) - 4} more" if len(v.off) > 4 else ""
    ctx.result.add("DLC702", f"{len(v.off)} of {len(v.varying)} {unit}s of {label} are not zero-centred "
                             f"and unit-scale ({shown}{more})")


def _report_nonfinite(ctx: Context, label: str, stream: InputSummary) -> None:
    """DLC704 naming the first batch and sample indices that hold NaN/Inf."""
    total = stream.stats.nonfinite
    if not total:
        return
    first, where, kinds = stream.first_bad
    shown = ", ".join(map(str, where[:5])) + (" ..." if len(where) > 5 else "")
    ctx.result.add("DLC704", f"{total} non-finite values in {label} ({stream.bad_batches} batches); first in "
                             f"batch {first}, sample index {shown} ({kinds})")
    ctx.result.metrics["nonfinite_values"] = ctx.result.metrics.get("nonfinite_values", 0) + total


def _judge_duplicates(ctx: Context, m: Measured) -> None:
    """DLC708: samples whose input bytes repeat an earlier one; the first pair named."""
    if not m.inputs_known or not m.hashed:
        return
    ctx.result.metrics["duplicates"] = m.duplicates
    if not m.duplicates:
        return
    (b0, i0), (b1, i1) = m.first_duplicate
    clash = f", {m.conflicting} of them with a different label" if m.conflicting else ""
    severity = "warn" if m.duplicates / max(m.hashed, 1) >= ctx.settings["duplicate_share"] else "info"
    ctx.result.add("DLC708", f"{m.duplicates} of {m.hashed} samples repeat an earlier one{clash} "
                             f"(first: batch {b1} sample {i1} = batch {b0} sample {i0})", severity=severity)


# -- rules: targets ---------------------------------------------------------------------------
def _judge_targets(ctx: Context, m: Measured, parts: list) -> tuple[bool, bool]:
    """The targets for their kind. Returns (labels usable by the loss, batches sorted by class)."""
    if m.target_bad is not None:
        first_count, batch = m.target_bad
        ctx.result.add("DLC704", f"{m.target_stats.nonfinite} non-finite values in the targets; first in "
                                 f"batch {batch} ({first_count} there)")
    if m.target_kind == "regression":
        _judge_regression(ctx, m, parts)
        return m.target_bad is None, False
    if m.target_kind == "multilabel":
        return _judge_multilabel(ctx, m, parts), False
    if m.target_kind in ("soft", "float"):
        what = "soft labels (class probabilities)" if m.target_kind == "soft" else "regression or soft labels"
        ctx.result.add("DLC710", f"the targets are {m.target_dtype} ({what}): label range, class balance "
                                 f"and shuffling checks skipped")
        parts.append(f"{m.target_dtype} targets")
        return True, False
    return _judge_labels(ctx, m, parts)


def _judge_regression(ctx: Context, m: Measured, parts: list) -> None:
    """DLC711: a model's outputs start near 0 with unit-scale spread; targets in the hundreds
    (or with a vanishing spread) make the first steps chase the scale instead of the signal."""
    s, st = ctx.settings, m.target_stats
    seen = [i for i in st.seen if i not in st.constant]
    rows = [{"output": i, "mean": st.mean[i], "std": st.std[i], "min": st.low[i], "max": st.high[i]}
            for i in st.seen]
    if len(rows) <= 40:
        ctx.result.details["targets_columns"] = rows
    rms = [(st.mean[i] ** 2 + st.std[i] ** 2) ** 0.5 for i in range(len(st.mean))]
    ctx.result.metrics.update({"target_mean": max((st.mean[i] for i in seen), key=abs, default=None),
                               "target_rms": max((rms[i] for i in seen), default=None)})
    far = [i for i in seen if rms[i] > s["target_scale"]]
    tiny = [i for i in seen if st.std[i] < s["target_std_low"]]
    lo, hi = st.range
    parts.append(f"regression targets range {lo:.3g}..{hi:.3g}" if st.seen else "regression targets")
    cols = len(st.mean)
    name = (lambda i: "the targets") if cols == 1 else (lambda i: f"target column {i}")
    if far:
        i = max(far, key=lambda j: rms[j])
        more = f" ({len(far)} of {cols} columns)" if cols > 1 else ""
        ctx.result.add("DLC711", f"{name(i)} have mean {st.mean[i]:.4g} and std {st.std[i]:.4g}{more}: far "
                                 f"from the unit scale a freshly initialised output starts at (MSE at init "
                                 f"~{rms[i] ** 2:.3g})")
    elif tiny:
        i = min(tiny, key=lambda j: st.std[j])
        ctx.result.add("DLC711", f"{name(i)} vary by a std of only {st.std[i]:.3g}: the loss and its "
                                 f"gradients are tiny next to any output noise")
    if st.constant and cols > 1:
        ctx.result.add("DLC703", f"{len(st.constant)} of {cols} target columns are constant (columns "
                                 f"{listing(st.constant)})", severity="info")


def _judge_multilabel(ctx: Context, m: Measured, parts: list) -> bool:
    """DLC705 for BCE targets outside 0..1; DLC712 for labels never or always positive (the model
    learns to always say no), a note for rare ones. Returns whether the targets are usable."""
    s, st = ctx.settings, m.target_stats
    if not st.seen:
        return True
    lo, hi = st.range
    labels = len(st.mean)
    prevalence = [st.mean[i] for i in range(labels)]
    parts.append(f"{labels} binary label{'s' if labels != 1 else ''}, prevalence "
                 f"{min(prevalence):.2g}..{max(prevalence):.2g}")
    ctx.result.metrics.update({"labels": labels, "prevalence_min": min(prevalence),
                               "prevalence_max": max(prevalence)})
    if labels <= 100:
        ctx.result.details["label_prevalence"] = [{"label": i, "prevalence": p} for i, p in enumerate(prevalence)]
    if lo < 0 or hi > 1:
        ctx.result.add("DLC705", f"binary targets range {lo:g}..{hi:g}: a BCE target must lie in 0..1")
        return False
    samples = st.values / max(labels, 1)
    if samples < s["prevalence_min_samples"]:
        return True
    never = [i for i, p in enumerate(prevalence) if p == 0]
    always = [i for i, p in enumerate(prevalence) if p == 1]
    rare = [i for i, p in enumerate(prevalence) if 0 < p < s["prevalence_low"] or 1 - s["prevalence_low"] < p < 1]
    n = int(samples)
    if never or always:
        said = []
        if never:
            said.append(f"label{'s' if len(never) > 1 else ''} {listing(never)} never positive")
        if always:
            said.append(f"label{'s' if len(always) > 1 else ''} {listing(always)} always positive")
        ctx.result.add("DLC712", f"{' and '.join(said)} in {n} samples: nothing to learn there but a constant")
    if rare:
        shown = ", ".join(f"{i} ({prevalence[i]:.2%})" for i in rare[:4]) + (" ..." if len(rare) > 4 else "")
        ctx.result.add("DLC712", f"{len(rare)} of {labels} labels are rarely or almost always positive: "
                                 f"{shown}", severity="info")
    return True


def _judge_labels(ctx: Context, m: Measured, parts: list) -> tuple[bool, bool]:
    """DLC705-707 for hard class labels. Returns (labels usable by the loss, batches sorted)."""
    result, s, lab = ctx.result, ctx.settings, m.labels
    if not lab.valid:
        result.add("DLC710", "every label is the loss's ignore_index: label checks skipped")
        return True, False
    classes = lab.classes
    result.metrics.update({"label_min": lab.low, "label_max": lab.high})
    in_range = not lab.out_of_range
    if not in_range:
        b, i, value = lab.first_out
        span = f"0..{classes - 1} ({lab.source})" if classes is not None else "0 and up"
        result.add("DLC705", f"{lab.out_of_range} labels outside {span}; first: label {value} in batch {b}, "
                             f"index {i}")
    width = classes if classes is not None else lab.high + 1
    if width > s["max_classes"]:  # one garbage label must not make a table of a million classes
        result.add("DLC710", f"labels reach {lab.high} and the number of classes is not known: class balance "
                             f"and shuffling checks skipped (set num_classes in the target)")
        return in_range, False
    result.metrics["num_classes"] = width
    per_batch = [row[:width] + [0] * (width - len(row[:width])) for row in lab.batch_counts]
    counts = [sum(col) for col in zip(*per_batch)] if per_batch else [0] * width
    parts.append(f"{sum(1 for c in counts if c)} of {width} classes seen")
    if width <= 100:
        result.details["classes"] = [{"class": k, "count": c, "share": c / lab.valid} for k, c in enumerate(counts)]
    _balance(ctx, counts, classes, m)
    return in_range, _sorted_batches(ctx, per_batch, counts)


def _balance(ctx: Context, counts: list[int], classes, m: Measured) -> None:
    """DLC706: a warning for skewed classes of per-sample labels; for per-position labels (tokens,
    pixels) skew is the nature of the data (character frequencies, background pixels): a note."""
    present = [c for c in counts if c]
    if not present:
        return
    ratio = max(present) / min(present)
    ctx.result.metrics["imbalance_ratio"] = round(ratio, 4)
    unit = m.position_word if m.per_position else "samples"
    if ratio > ctx.settings["imbalance_ratio"]:
        big, small = counts.index(max(present)), counts.index(min(present))
        natural = f" (per-position labels: skew is natural for {m.position_word})" if m.per_position else ""
        ctx.result.add("DLC706", f"class {big} has {max(present)} {unit} and class {small} only "
                                 f"{min(present)} ({ratio:.0f}x) in the batches seen{natural}",
                       severity="info" if m.per_position else None)
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


def _sorted_batches(ctx: Context, per_batch: list[list[int]], counts: list[int]) -> bool:
    """DLC707: per-batch label entropy against that of batches drawn at random (same sizes)."""
    observed = torch.tensor([row for row in per_batch if sum(row) >= 2], dtype=torch.float64)
    overall = torch.tensor(counts, dtype=torch.float64)
    if len(observed) < 3 or int((overall > 0).sum()) < 2:
        return False
    width = len(counts)
    gen = torch.Generator().manual_seed(ctx.seed)
    p = overall / overall.sum()
    offsets = (torch.arange(64) * width)[:, None]
    expected = []
    for n in observed.sum(1).long().tolist():  # Monte Carlo: 64 random batches of this size
        size = min(n, 2048)  # larger batches: the entropy has converged
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
