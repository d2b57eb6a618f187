"""overfit-small's measuring: train on a few batches kept on the device until they are memorised,
the loss diverges, the budget runs out or time is up; record the curve, the accuracy, the
parameters that never changed and the set-up's flags into :class:`Measured`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck import distributed
from dlcheck.batches import rebatch
from dlcheck.checks.overfit_small.course import first_pass, levelled_off, runaway
from dlcheck.checks.overfit_small.record import Record, Trend, falling, fits, on_course, trend_of
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.task import References, Task
from dlcheck.training import Trainer


@dataclass
class Measured:
    """What overfit-small measured; the rules read only this and the task."""

    curve: list[float]
    batches: int
    samples: int
    refs: References
    fit_loss: float | None  # the loss at or below which the subset counts as memorised (None: no known floor)
    fit_at: int | None = None
    diverged_at: int | None = None
    accuracy: float | None = None
    unchanged: dict[str, int] = field(default_factory=dict)  # parameter -> elements never changed
    frozen: dict[str, int] = field(default_factory=dict)  # parameter -> elements, requires_grad=False
    total: int = 0
    probabilities: bool = False  # the outputs already were probabilities for a logits loss
    turned_off: set[str] = field(default_factory=set)
    trend: Trend | None = None
    trend_wide: Trend | None = None  # the same line over trend_window_wide of the run (rules._still_falling)
    extended: bool = False  # the budget was extended because the loss was on course to fit
    lr: float | None = None  # the learning rate the run trained at
    timed_out: bool = False  # --budget ended the run (not the step budget, a fit or a divergence)
    amp_skipped: int | None = None  # steps the GradScaler skipped, left out of the curve (None: no scaler)
    run_steps: int = 0  # steps run, the skipped ones too

    @property
    def steps(self) -> int:
        return len(self.curve)

    @property
    def initial(self) -> float:
        return self.curve[0]

    @property
    def final(self) -> float:
        tail = self.curve[-self.batches:]
        return sum(tail) / len(tail)

    @property
    def floor(self) -> float:
        return self.refs.floor if self.refs.floor is not None else 0.0

    @property
    def known_floor(self) -> bool:
        """Whether the task's floor is known; without it no judgement assumes 0 (course.py)."""
        return self.refs.floor is not None

    @property
    def first(self) -> float:
        return first_pass(self.curve, self.batches)


# -- measuring ----------------------------------------------------------------------------------
def measure(ctx: Context, task: Task) -> Measured:
    s = ctx.settings
    batches = _subset(ctx, int(s["batches"]), s["batch_size"])
    with ctx.model() as model:
        model.train()
        turned_off = _regularisation_off(model)
        optimizer = ctx.optimizer(model.parameters())
        for group in optimizer.param_groups:
            if group.get("weight_decay", 0):
                group["weight_decay"] = 0.0
                turned_off.add("weight decay")
        initial = {name: p.detach().clone() for name, p in model.named_parameters()}
        run = _Run(len(batches))
        _train(ctx, task, Trainer(ctx, model, optimizer), batches, run)
        record = run.record
        curve = record.curve()  # one transfer at the end
        skipped = record.skipped
        if not curve and skipped:  # the GradScaler skipped every step: the run as it went (it never trained)
            curve = record.as_run()
        accuracy = record.accuracy()
        unchanged, frozen = _unchanged(model, initial)
        total = sum(p.numel() for p in initial.values())
        probabilities = distributed.all_true(_are_probabilities(task, run.first_outputs)
                                             and _are_probabilities(task, run.last_outputs))
    refs = _mean(run.refs)
    fit_loss = run.fit_loss if run.judged else _fit_loss(ctx, refs, curve[0] if curve else 0.0, record.counts_hits)
    m = Measured(curve=curve, batches=len(batches), samples=distributed.total(sum(_count(b, ctx) for b in batches)),
                 refs=refs, fit_loss=fit_loss, fit_at=run.fit_at, diverged_at=run.diverged_at, accuracy=accuracy,
                 unchanged=unchanged, frozen=frozen, total=total, probabilities=probabilities, turned_off=turned_off,
                 extended=run.extended, lr=ctx.lr, timed_out=run.timed_out, amp_skipped=skipped,
                 run_steps=run.step + 1)
    if run.fit_at is None and run.diverged_at is None:
        m.trend = trend_of(curve, len(batches), refs.floor, fit_loss, s)
        m.trend_wide = trend_of(curve, len(batches), refs.floor, fit_loss, s, "trend_window_wide")
    return m


@dataclass
class _Run:
    """The training run's state as :func:`_train` leaves it."""

    n: int
    refs: list = field(default_factory=list)
    first_outputs: object = None
    last_outputs: object = None
    diverged_at: int | None = None
    fit_at: int | None = None
    fit_loss: float | None = None
    judged: bool = False
    extended: bool = False
    timed_out: bool = False
    step: int = -1

    def __post_init__(self):
        self.record = Record(self.n)


def _train(ctx: Context, task: Task, trainer: Trainer, batches: list, run: _Run) -> None:
    """Train on the subset until it is memorised, the loss diverges, the budget or the time runs
    out; one flush (one sync) per chunk. Steps count as the curve counts them: those the GradScaler
    skipped are left out (``record.steps``); the budget counts every step run."""
    s, record, n = ctx.settings, run.record, run.n
    max_steps, chunk = int(s["max_steps"]), int(s["chunk"])
    limit, passed = max_steps, []  # passed: (logits, targets) of the last pass before the flush
    with ctx.progress(max_steps, "overfit-small") as advance:
        while run.step + 1 < limit:
            run.step = step = run.step + 1
            tail = _last_pass(step, n, chunk, limit)  # hits (and outputs) only where the accuracy is read
            out = trainer.step(batches[step % n], step % n, outputs=tail or step < n)
            if step < n:  # the first pass: the references of every batch (n syncs, once)
                run.refs.append(task.reference(ctx.loss_fn, out.outputs, out.targets, out.raw))
                if run.first_outputs is None and out.outputs is not None:
                    run.first_outputs = out.outputs.float()
            record.add(out.loss, None, out.skipped)
            if tail:  # hits counted at the flush, the pass's steps at once
                passed.append((out.outputs, out.targets))
            if (step + 1) % chunk and step + 1 != limit and not ctx.time_up():
                continue  # a flush per chunk, and where the budget is spent mid-chunk
            for hits in _pass_hits(task, passed):
                record.add_hits(hits)
            passed = []
            run.last_outputs = out.outputs  # the last step's, at the flush the run may end on
            advance(record.pending)  # the bar moves per chunk: nothing per step
            ok, bad = record.flush()  # one sync per chunk; memory grows by one small tensor per chunk
            if not ok:
                run.diverged_at = bad
                return
            if record.steps and not run.judged:  # (none yet: the GradScaler skipped every step so far)
                run.fit_loss, run.judged = _fit_loss(ctx, _mean(run.refs), record.first, record.counts_hits), True
            done = _done(task, record, run.fit_loss, step + 1 >= limit, s) if record.steps else None
            run.fit_at = record.steps if done == "fit" else None
            run.timed_out = not done and ctx.out_of_time()
            if done or run.timed_out:
                return
            if step + 1 == limit and not run.extended and record.steps \
                    and _extend(s, record, run.fit_loss, max_steps, _mean(run.refs)):
                limit, run.extended = int(max_steps * float(s["extend_factor"])), True


def _last_pass(step: int, n: int, chunk: int, limit: int) -> bool:
    """Whether ``step`` lies in the last pass over the subset before the next flush (a chunk's end,
    or the budget's): the accuracy is read over that pass only, so hits are counted only there."""
    return step + n >= min(limit, (step // chunk + 1) * chunk)


def _extend(s, record: Record, fit_loss: float | None, max_steps: int, refs: References) -> bool:
    """At the end of the budget, go on: on course to fit (with a known floor), or, without one,
    still clearly falling (its level not yet reached)."""
    if fit_loss is not None:
        return on_course(s, record, record.n, fit_loss, max_steps, refs.floor or 0.0)
    trend = trend_of(record.curve(), record.n, None, None, s)
    return float(s["extend_factor"]) > 1 and trend is not None and falling(trend, s)


def _done(task: Task, record: Record, fit_loss: float | None, last: bool, s) -> str | None:
    """After a chunk: "fit" when the subset is memorised, "runaway" when a loss without a known
    floor ran off towards -inf (course.py), else None. With a known floor, memorised is the loss
    near it (and the accuracy); without one, a clear fall that levelled off, judged from
    ``level_min_steps`` on (and at the end of the budget: ``last``). Steps: those of the curve."""
    n, steps = record.n, record.steps
    if fit_loss is not None:
        return "fit" if steps >= n and fits(task, record, fit_loss, s) else None
    curve = record.curve()  # one transfer per chunk, only without a known floor
    if runaway(curve, n, s):
        return "runaway"
    if steps < int(s["level_min_steps"]) and not last:
        return None
    trend = trend_of(curve, n, None, None, s)
    final = float(record.recent_loss())
    accuracy = None if task.per_position else record.recent_accuracy()
    if accuracy is not None and float(accuracy) < s["target_accuracy"]:
        return None  # where accuracy applies it must be reached too
    return "fit" if levelled_off(first_pass(curve, n), final, trend, s) else None


def _mean(refs: list) -> References:
    """The references averaged over the subset's batches (and, under torchrun, over ranks)."""
    return distributed.mean_refs(References.mean(refs))


def _fit_loss(ctx: Context, refs: References, initial: float, accuracy_applies: bool) -> float | None:
    """The loss at or below which the subset is memorised: near the floor, measured as a share of
    (expected - floor), or else a share of the initial loss; None without a known floor (then the
    loss's own course decides: course.py)."""
    s = ctx.settings
    if refs.floor is None:
        return None
    share = s["fit_fraction"] if accuracy_applies else s["regression_fraction"]
    if refs.expected is not None and refs.expected > refs.floor:
        margin = share * (refs.expected - refs.floor)
        if s["near_zero_loss"] is not None:
            margin = min(margin, float(s["near_zero_loss"]))
        return refs.floor + margin
    return s["regression_fraction"] * initial if initial > 0 else initial


def _pass_hits(task: Task, steps: list) -> list:
    """:meth:`Task.hits` of each step of a pass (those with hits), the same numbers computed at once
    for the pass when its steps' class-index targets and logits share their shapes."""
    if not steps:
        return []
    (logits, targets), ignore = steps[0], task.ignore_index
    same = task.class_targets(logits, targets) \
        and all(isinstance(t, torch.Tensor) and o is not None and o.shape == logits.shape
                and t.shape == targets.shape and t.dtype == targets.dtype for o, t in steps)
    if not same or len(steps) == 1:
        return [h for h in (task.hits(o, t) for o, t in steps) if h is not None]
    stacked, labels = torch.stack([o for o, _ in steps]), torch.stack([t for _, t in steps])
    valid = labels != ignore
    correct = ((stacked.argmax(2) == labels) & valid).flatten(1).sum(1)
    return list(zip(correct.unbind(), valid.flatten(1).sum(1).unbind()))


# -- helpers --------------------------------------------------------------------------------------
def _subset(ctx: Context, count: int, size) -> list:
    """``count`` batches: the loader's first, or (with ``batch_size``) its first samples re-cut."""
    if size is None:
        return ctx.batches(count)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or count < 1:
        raise UserError(f"overfit-small: batches and batch_size must be at least 1, not {count} and {size}")
    if ctx.target.own_step:
        raise UserError("overfit-small: --batch-size needs (inputs, targets) batches; with a forward() "
                        "in the target, batch the loader yourself")
    raw, seen = [], 0
    for index, batch in ctx.stream(count * size):  # enough loader batches for count x size samples
        raw.append(batch)
        seen += len(ctx.split(batch, index)[1])
        if seen >= count * size:
            break
    return rebatch(raw, size, ctx.target.where("train_loader"))[:count]


#: Stochastic-depth modules by class name (torchvision's StochasticDepth, timm's DropPath and
#: DropBlock): matched by name so that neither library is needed to recognise them.
_STOCHASTIC_DEPTH = {"StochasticDepth", "DropPath", "DropBlock2d"}


def _regularisation_off(model: nn.Module) -> set[str]:
    """Dropout and stochastic depth to eval mode (the model's modes are restored afterwards):
    a subset cannot be memorised while residual branches are dropped at random."""
    found = set()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            module.eval()
            found.add("dropout")
        elif type(module).__name__ in _STOCHASTIC_DEPTH:
            module.eval()
            found.add("stochastic depth")
    return found


def _unchanged(model: nn.Module, initial: dict) -> tuple[dict[str, int], dict[str, int]]:
    """Parameter name -> element count, for parameters bit-identical to their initial value, and
    for those frozen on purpose (requires_grad=False)."""
    params = dict(model.named_parameters())
    return ({name: p.numel() for name, p in params.items() if torch.equal(p.detach(), initial[name])},
            {name: p.numel() for name, p in params.items() if not p.requires_grad})


def _are_probabilities(task: Task, outputs) -> bool:
    """Softmax outputs into CrossEntropyLoss, or sigmoid outputs into BCEWithLogitsLoss."""
    if outputs is None or outputs.numel() == 0:
        return False
    if task.kind == "classification" and not task.log_probabilities:
        if outputs.dim() < 2 or outputs.shape[1] < 2:
            return False
        sums = outputs.float().sum(dim=1)
        return bool((outputs.min() >= 0) & ((sums - 1).abs().max() < 1e-3))
    if task.kind == "multilabel" and not task.probabilities:
        return bool((outputs.min() >= 0) & (outputs.max() <= 1))
    return False


def _count(batch, ctx: Context) -> int:
    if ctx.target.own_step:
        return 0
    _, targets = ctx.split(batch)
    return int(targets.shape[0]) if isinstance(targets, torch.Tensor) and targets.dim() else 0

