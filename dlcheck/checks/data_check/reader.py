"""data-check's reading: the first N batches streamed, one on the device at a time, every statistic
reduced there batch by batch into measure.Measured (per-channel or per-feature moments and range, NaN/Inf
where they are, sample digests, label counts per batch, target moments, targets found in the inputs); the
batches the pairing control needs are kept. Under torchrun the numbers are reduced over ranks (reduce.py)."""

from __future__ import annotations

import contextlib
import hashlib

import torch

from dlcheck import scale
from dlcheck.checks.data_check import copies, dominance, multihot, pairing, parts, reduce
from dlcheck.checks.data_check import targets as targets_mod
from dlcheck.checks.data_check.measure import InputSummary, LabelSummary, Measured
from dlcheck.checks.data_check.pairing import batch_size
from dlcheck.context import Context
from dlcheck.device import to_device
from dlcheck.errors import UserError


def read(ctx: Context) -> Reader:
    """The first ``batches`` batches read into ``reader.measured`` (with the pairing control's
    batches kept on the reader)."""
    s = ctx.settings
    for key in ("batches", "pair_steps", "pair_batches"):
        if int(s[key]) < 1:
            raise UserError(f"data-check: {key} must be at least 1, not {s[key]}")
    reader = Reader(ctx)
    with reader:
        for index, raw in first_batches(ctx, int(s["batches"])):
            reader.add(index, raw)
    return reader


def first_batches(ctx: Context, n: int):
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
            if count >= n or ctx.time_up():  # no batch read once --budget is spent
                break
    if not count:
        raise UserError(f"{where} yielded no batches")


def _spread(k: int, n: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)``, first and last included."""
    k = min(k, n)
    return sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)}) if k else []


def plan(n: int | None, k: int, wide: int, h: int) -> dict[int, str]:
    """The pairing control's batches among ``n`` read: ``k`` for the short runs ('train'), up to
    ``wide`` for the longer runs (the short runs' and 'more'), and up to ``h`` held out ('holdout'),
    never more than a third of ``n`` nor taken from the short runs' ``k``: all spread out, the
    held-out batches between the others (the first ones in that order when the loader has no
    length: ``n`` None)."""
    wide = max(k, wide)
    if n is None:
        return {**{i: "train" for i in range(k)}, **{i: "more" for i in range(k, wide)},
                **{wide + i: "holdout" for i in range(h)}}
    h = min(h, n // 3, max(n - k, 0))
    fit = _spread(min(wide, n - h), n)
    short = {fit[j] for j in _spread(k, len(fit))}
    rest = [i for i in range(n) if i not in fit]
    return {**{i: "train" if i in short else "more" for i in fit}, **{rest[j]: "holdout" for j in _spread(h, len(rest))}}


# -- reading ----------------------------------------------------------------------------------
class Reader:
    """Streams batches: each is moved to the device, reduced there, and dropped unless it is one
    of the few the pairing control keeps (``kept``: (index, batch, role) with role train/holdout)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.measured = Measured()
        self.kept: list[tuple[int, object, str]] = []
        self.slot = None  # where the labels sit in a batch, for the pairing control
        self._stack = contextlib.ExitStack()
        self.first = None  # the first batch (on the device): the label-use probe runs on it
        self.inputs_at = None  # where the inputs sit when the forward builds a non-tensor target
        self._model = None  # open only when the target's forward() must be run on every batch
        self._arguments = None  # the tensors the model was called with on the first batch (own steps)
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
        """Which batch indices the pairing control keeps (:func:`plan`), over the batches read."""
        s = self.ctx.settings
        if not s["pairing"]:
            return {}
        try:
            n = min(int(s["batches"]), len(self.ctx.loader()) // self._world())
        except (TypeError, NotImplementedError):  # no length (an iterable dataset, a generator)
            n = None
        return plan(n, int(s["pair_batches"]), int(s["pair_max_batches"] or 0), max(0, int(s["pair_holdout"])))

    # -- one batch --------------------------------------------------------------------------
    def add(self, index: int, raw) -> None:
        ctx, m = self.ctx, self.measured
        batch = to_device(raw, ctx.device)
        if index == 0:
            self.first = batch
            self._first(batch)
        if self.mode == "split":
            inputs, targets = ctx.split(batch, index)
            inputs_cpu, targets_cpu = ctx.split(raw, index)
        else:
            targets = inputs = inputs_cpu = targets_cpu = None
            if m.label_part is not None or not m.target_parts:  # the targets are judged: the forward builds them
                with torch.no_grad():
                    targets = ctx.forward(self._model, batch, index)[1]
            if self.inputs_at is not None:
                inputs, inputs_cpu = targets_mod.select(batch, self.inputs_at), targets_mod.select(raw, self.inputs_at)
        if m.label_part is not None:
            targets = targets_cpu = targets_mod.pick(targets, m.label_part)
        elif m.target_parts:
            targets = None
        else:
            targets = parts.tensor_targets(ctx, targets, index)
        samples = parts.leading(inputs) if inputs is not None else parts.leading(batch)
        m.batches += 1
        m.samples += samples if samples is not None else batch_size(targets) if targets is not None else 1
        if targets is not None:
            m.targets += self._count_targets(targets)
        if inputs is not None:
            self._add_inputs(index, inputs)
            self._hash(index, inputs_cpu, targets_cpu, raw)
        self._arguments = None  # the first batch's streams are made: the model's arguments are let go
        if targets is not None:
            self._add_targets(index, targets)
            dominance.add(m, inputs, targets, ctx.task.ignore_index, int(ctx.settings["max_classes"]) + 1)
            multihot.add(m, targets, index, ctx.settings["soft_sum_tolerance"])
            copies.add(m, inputs, targets)
        if index in self._keep:
            self.kept.append((index, batch, self._keep[index]))

    def _first(self, batch) -> None:
        """Decide, on the first batch, where inputs and labels are and what the targets are."""
        ctx, m = self.ctx, self.measured
        probe = None
        self.mode = "split"
        if ctx.target.own_step:
            self._model = self._stack.enter_context(ctx.model())
            with torch.no_grad(), parts.model_arguments(self._model) as self._arguments:
                outputs, targets = ctx.forward(self._model, batch, 0)
            probe = parts.logits_or_none(ctx, outputs)
            heuristic = parts.try_split(ctx, batch)
            if heuristic and parts.matches(heuristic[1], targets):  # the forward takes the usual parts
                self._stack.close()
                self._model = None
            else:  # its own split: targets through the forward on every batch
                self.mode = "forward"
                m.inputs_known = False
            if not isinstance(targets, torch.Tensor):  # None, a tuple, a dict: the other entries are inputs
                targets = self._parts(batch, targets)
            self.slot = pairing.label_slot(ctx, batch, targets)
        else:
            targets = ctx.split(batch, 0)[1]  # a clear error for a batch that is no (inputs, targets)
            self.slot = pairing.label_slot(ctx, batch, None)
            if not isinstance(targets, torch.Tensor):
                targets = self._parts(batch, targets)
        if self.mode == "split":
            parts.tensor_leaves(ctx, ctx.split(batch, 0)[0], 0)  # no tensor inputs: a clear error first
        if targets is not None:
            self._kind(batch, parts.tensor_targets(ctx, targets, 0), probe)
        self._position_word(batch)

    def _parts(self, batch, targets):
        """A target that is not one tensor: its parts described (m.target_parts), the inputs found
        among the other batch entries; the part judged as class labels (None: none)."""
        ctx, m = self.ctx, self.measured
        if targets is not None and not any(isinstance(v, torch.Tensor) for _, v in targets_mod.leaves(targets)):
            parts.tensor_targets(ctx, targets, 0)  # a list of numbers: a clear error
        if self.mode == "forward":
            self.inputs_at = targets_mod.input_slots(batch, targets)
            m.inputs_known = self.inputs_at is not None
        inputs = targets_mod.select(batch, self.inputs_at) if self.mode == "forward" and m.inputs_known \
            else ctx.split(batch, 0)[0] if self.mode == "split" else batch
        classification = ctx.target.task == "classification" or ctx.task.kind == "classification"
        m.target_parts, m.label_part = targets_mod.describe(targets, parts.leading(inputs), classification,
                                                            ctx.task.kind)
        m.target_kind = "none" if targets is None else "parts"
        return None if m.label_part is None else targets_mod.pick(targets, m.label_part)

    def _kind(self, batch, targets: torch.Tensor, probe) -> None:
        """What the (label) targets are, and the number of classes of class labels."""
        ctx, m, task = self.ctx, self.measured, self.ctx.task
        m.target_dtype = str(targets.dtype)
        m.targets_are_inputs = targets.dtype.is_floating_point and parts.fed_to_model(ctx, batch, targets)
        if not targets.dtype.is_floating_point and targets.dim() >= 2 and targets.shape[0] > 1:
            counted = targets != task.ignore_index  # a masked LM counts its masked positions only
            m.ignored_where_varies = bool((counted != counted[:1]).any())
        m.target_kind = "classes" if m.label_part is not None else parts.target_kind(task, targets)
        if m.target_kind == "classes":
            classes, source = ctx.target.num_classes, "num_classes in the target"
            if classes is None and task.kind == "classification" and task.classes:
                classes, source = int(task.classes), "the model's output width"
            if classes is None and probe is None:
                with ctx.model() as model, torch.no_grad():
                    probe = parts.logits_or_none(ctx, ctx.forward(model, batch, 0)[0])
            if classes is None and probe is not None and probe.dim() >= 2:
                classes, source = int(probe.shape[1]), "the model's output width"
            if classes is not None and classes < 2 and ctx.is_cross_entropy:
                classes = None
            m.labels = LabelSummary(classes=classes, source=source)
        elif m.target_kind in ("regression", "multilabel"):
            self._target_moments = scale.Moments()

    def _position_word(self, batch) -> None:
        ctx, m = self.ctx, self.measured
        if self.mode == "split":
            ids = [v for _, v in parts.leaves(ctx.split(batch, 0)[0]) if isinstance(v, torch.Tensor)]
            if ids and parts.kind(ids[0]) == "ids":
                m.position_word = "tokens"
            elif ids and ids[0].dim() >= 3:
                m.position_word = "pixels"
        elif ctx.task.dense:
            m.position_word = "positions"

    def _count_targets(self, targets: torch.Tensor) -> int:
        """Labels for hard labels (one per position), target rows for the other kinds."""
        if self.measured.target_kind == "classes":
            return int(targets.numel())
        return batch_size(targets)

    def _add_inputs(self, index: int, inputs) -> None:
        for name, t in parts.tensor_leaves(self.ctx, inputs, index):
            if name not in self._streams:
                kind = parts.kind(t)
                summary = InputSummary(label=name, kind=kind, dtype=str(t.dtype), shape=tuple(t.shape[1:]),
                                       given=parts.given_as_is(t, self._arguments), levels=parts.levels(t, kind))
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

    def _hash(self, index: int, inputs, targets, raw=None) -> None:
        """DLC708: a digest of every sample's input bytes (on the CPU copy the loader gave)."""
        if not self._hashing:
            return
        digests = parts.sample_digests(inputs, raw)
        if not digests:
            self._hashing = digests is not None
            return
        m, n = self.measured, len(digests)
        labels = parts.row_bytes(targets) if isinstance(targets, torch.Tensor) and targets.dim() \
            and targets.shape[0] == n else None
        for i, digest in enumerate(digests):
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
        ignore = self.ctx.task.ignore_index
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
            reduce.reduce(self)
        for summary, moments in self._streams.values():
            if moments is not None:
                summary.stats = moments.result()
        if self._target_moments is not None:
            self.measured.target_stats = self._target_moments.result()
        if not self._hashing:
            self.measured.hashed = 0
