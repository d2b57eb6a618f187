"""Recipe step 2: a few batches, kept on the device, must be memorised: the loss down to the task's
floor (0 for hard labels and regression; the smoothed targets' entropy under label smoothing)
and, where accuracy applies, ~100 % training accuracy (per position for dense outputs). When they
are not, say why: divergence, a loss that never falls, outputs that are already probabilities,
parameters that never change, a loss still falling when the budget ran out (not converged: a
warning with the rate), or a stall (flat within its own noise, far above the floor).

The check measures into :class:`Measured`; one small rule per finding code judges it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.batches import rebatch
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, listing, rounded
from dlcheck.task import References, Task
from dlcheck import distributed
from dlcheck.training import Trainer, all_finite, chunk_losses

NAME = "overfit-small"
SETTINGS = {
    "batches": 5,  # the tiny subset, in batches of the train loader
    "batch_size": None,  # cut the subset into batches of this size instead of the loader's
    "max_steps": 500,  # optimizer steps before giving up
    "target_accuracy": 0.99,  # training accuracy that counts as memorised (where accuracy applies)
    "fit_fraction": 0.05,  # with accuracy: memorised when (loss - floor) <= this x (expected - floor)
    "regression_fraction": 0.01,  # without accuracy: ... <= this x (expected - floor), or x the initial loss
    "near_zero_loss": None,  # optional absolute ceiling on (loss - floor) for memorised (old recipes)
    "flat_fraction": 0.9,  # (final - floor) above this x (initial - floor): the loss never fell (DLC201)
    "frozen_fraction": 0.5,  # share of parameter elements that never changed: DLC204
    "slow_steps": 400,  # fit, but only after more steps than this: DLC206 (a warning for hard labels, else a note)
    "extend_factor": 2.0,  # still clearly falling at max_steps, on course to fit within this x max_steps: go on
    "trend_window": 0.25,  # share of the run's passes the end-of-run trend is measured on
    "trend_t": 3.0,  # slope this many standard errors below 0: still falling (DLC209), not stalled
    "min_progress": 0.02,  # ... and falling by at least this share of its excess over the window
    "chunk": 20,  # steps between host synchronisations
}


@dataclass
class Trend:
    """The end of the loss curve: a straight line through the last passes' mean excess over the floor."""

    slope: float  # excess per step (negative: falling)
    t: float  # slope / its standard error
    drop: float  # share of the window's starting excess lost over the window
    steps_needed: float | None  # steps to the fit threshold at this rate


@dataclass
class Measured:
    """What overfit-small measured; the rules read only this and the task."""

    curve: list[float]
    batches: int
    samples: int
    refs: References
    fit_loss: float  # the loss at or below which the subset counts as memorised
    fit_at: int | None = None
    diverged_at: int | None = None
    accuracy: float | None = None
    unchanged: dict[str, int] = field(default_factory=dict)  # parameter -> elements never changed
    total: int = 0
    probabilities: bool = False  # the outputs already were probabilities for a logits loss
    turned_off: set[str] = field(default_factory=set)
    trend: Trend | None = None
    extended: bool = False  # the budget was extended because the loss was on course to fit

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


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    task = ctx.task
    if task.problem:
        result.summary = f"nothing to learn: {task.problem}"
        result.add("DLC208", f"{task.loss}: {task.problem}")
        return result
    m = _measure(ctx, task)
    result.metrics.update(_metrics(ctx, m))
    _write_curve(ctx, m.curve)
    for rule in RULES:
        if rule(ctx, task, m):
            break
    return result


# -- measuring ----------------------------------------------------------------------------------
def _measure(ctx: Context, task: Task) -> Measured:
    s = ctx.settings
    batches = _subset(ctx, int(s["batches"]), s["batch_size"])
    n, max_steps, chunk = len(batches), int(s["max_steps"]), int(s["chunk"])
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
        record = _Record(n)
        refs, first_outputs, last_outputs = [], None, None
        diverged_at = fit_at = fit_loss = None
        limit, extended, step = max_steps, False, -1
        with ctx.progress(max_steps, "overfit-small") as advance:
            while step + 1 < limit:
                step += 1
                out = trainer.step(batches[step % n], step % n)
                if step < n:  # the first pass: the references of every batch (n syncs, once)
                    refs.append(task.reference(ctx.loss_fn, out.outputs, out.targets, out.raw))
                    first_outputs = out.outputs.float() if first_outputs is None else first_outputs
                last_outputs = out.outputs
                record.add(out.loss, _hits(task, out.outputs, out.targets))
                advance()
                if (step + 1) % chunk and step + 1 != limit:
                    continue
                ok, bad = record.flush()  # one sync per chunk; memory grows by one small tensor per chunk
                if not ok:
                    diverged_at = bad
                    break
                if fit_loss is None:
                    fit_loss = _fit_loss(ctx, _mean(refs), record.first, record.counts_hits)
                if step + 1 >= n and _fits(task, record, fit_loss, s):
                    fit_at = step + 1
                    break
                if ctx.out_of_time():
                    break
                if step + 1 == limit and not extended and _on_course(ctx, record, n, fit_loss, max_steps,
                                                                         _mean(refs).floor or 0.0):
                    limit, extended = int(max_steps * float(s["extend_factor"])), True
        curve = record.curve()  # one transfer at the end
        accuracy = record.accuracy()
        unchanged = _unchanged(model, initial)
        total = sum(p.numel() for p in initial.values())
        probabilities = distributed.all_true(_are_probabilities(task, first_outputs)
                                             and _are_probabilities(task, last_outputs))
    refs = _mean(refs)
    if fit_loss is None:
        fit_loss = _fit_loss(ctx, refs, curve[0], record.counts_hits)
    m = Measured(curve=curve, batches=n, samples=distributed.total(sum(_count(b, ctx) for b in batches)), refs=refs,
                 fit_loss=fit_loss, fit_at=fit_at, diverged_at=diverged_at, accuracy=accuracy,
                 unchanged=unchanged, total=total, probabilities=probabilities, turned_off=turned_off,
                 extended=extended)
    if fit_at is None and diverged_at is None:
        m.trend = _trend(curve, n, m.floor, fit_loss, s)
    return m


def _mean(refs: list) -> References:
    """The references averaged over the subset's batches (and, under torchrun, over ranks)."""
    return distributed.mean_refs(References.mean(refs))


def _fit_loss(ctx: Context, refs: References, initial: float, accuracy_applies: bool) -> float:
    """The loss at or below which the subset is memorised: near the floor, measured as a share of
    (expected - floor); without references, a share of the initial loss."""
    s = ctx.settings
    share = s["fit_fraction"] if accuracy_applies else s["regression_fraction"]
    if refs.expected is not None and refs.floor is not None and refs.expected > refs.floor:
        margin = share * (refs.expected - refs.floor)
        if s["near_zero_loss"] is not None:
            margin = min(margin, float(s["near_zero_loss"]))
        return refs.floor + margin
    return s["regression_fraction"] * initial if initial > 0 else initial


def _hits(task: Task, logits: torch.Tensor, targets) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(correct, counted) predictions of one step on the device, where accuracy applies: hard
    class labels (per position for dense outputs, ignore_index left out) or 0/1 multi-labels."""
    if not isinstance(targets, torch.Tensor) or logits.dim() < 1:
        return None
    if task.hard_labels and logits.dim() >= 2 and not targets.dtype.is_floating_point \
            and targets.shape == logits.shape[:1] + logits.shape[2:]:
        valid = targets != task.options.get("ignore_index", -100)
        return ((logits.argmax(1) == targets) & valid).sum(), valid.sum()
    if task.kind == "multilabel" and targets.numel() == logits.numel():
        y = targets.reshape(logits.shape)
        if not bool(((y == 0) | (y == 1)).all()):
            return None  # soft targets: no accuracy
        cut = 0.5 if task.probabilities else 0.0
        return ((logits > cut) == (y > 0.5)).sum(), torch.full((), float(y.numel()), device=y.device)
    return None


class _Record:
    """Per-step losses and hits, kept on the device in one tensor per chunk: memory grows with the
    steps done (a few bytes each), never per step with Python objects, and one sync per chunk."""

    def __init__(self, n: int):
        self.n = n  # batches in a pass over the subset
        self._losses, self._hits, self._counts = [], [], []  # this chunk's 0-dim tensors
        self.losses, self.hits, self.counts = [], [], []  # flushed: one 1-D tensor per chunk
        self.first = None
        self.counts_hits = False
        self.steps = 0

    def add(self, loss: torch.Tensor, hits) -> None:
        self._losses.append(loss.float())
        if hits is not None:
            self.counts_hits = True
            self._hits.append(hits[0].float())
            self._counts.append(hits[1].float())

    def flush(self) -> tuple[bool, int | None]:
        """Stack the chunk; whether its losses are finite, and else the step that was not."""
        losses = chunk_losses(self._losses)  # under torchrun: the global mean over ranks
        ok, bad = all_finite(losses)
        self.losses.append(losses)
        if self._hits:  # the mean of hits over the mean of counts: the global accuracy
            self.hits.append(distributed.mean(torch.stack(self._hits)))
            self.counts.append(distributed.mean(torch.stack(self._counts)))
        if self.first is None:
            self.first = float(self.losses[0][0])
        start = self.steps
        self.steps += len(self._losses)
        self._losses, self._hits, self._counts = [], [], []
        return ok, (start + bad if not ok else None)

    def _last(self, chunks: list) -> torch.Tensor:
        """The last pass's values (the last ``n`` steps) from the last chunks."""
        tail, size = [], 0
        for chunk in reversed(chunks):
            tail.insert(0, chunk)
            size += len(chunk)
            if size >= self.n:
                break
        return torch.cat(tail)[-self.n:]

    def recent_loss(self) -> torch.Tensor:
        return self._last(self.losses).mean()

    def recent_accuracy(self) -> torch.Tensor | None:
        if not self.hits:
            return None
        return self._last(self.hits).sum() / self._last(self.counts).sum().clamp_min(1)

    def accuracy(self) -> float | None:
        acc = self.recent_accuracy()
        return float(acc) if acc is not None else None

    def curve(self) -> list[float]:
        return torch.cat(self.losses).tolist() if self.losses else []


def _on_course(ctx: Context, record: _Record, n: int, fit_loss: float, max_steps: int, floor: float) -> bool:
    """At the end of the budget: still clearly falling, and at that rate fit within the extension."""
    factor = float(ctx.settings["extend_factor"])
    if factor <= 1:
        return False
    trend = _trend(record.curve(), n, floor, fit_loss, ctx.settings)  # one transfer, once
    return trend is not None and _falling(ctx, trend) and trend.steps_needed is not None \
        and trend.steps_needed <= (factor - 1) * max_steps


def _fits(task: Task, record: _Record, fit_loss: float, s) -> bool:
    """The last pass over the subset memorised it (one host sync). With many targets per sample
    (tokens, pixels) some are ambiguous given their inputs (the first characters of a window), so
    99 % accuracy may be out of reach: there the loss alone decides."""
    recent = record.recent_loss()
    accuracy = None if task.per_position else record.recent_accuracy()
    if accuracy is not None:
        return bool((accuracy >= s["target_accuracy"]) & (recent <= fit_loss))
    return bool(recent <= fit_loss)


def _trend(curve: list[float], n: int, floor: float, fit_loss: float, s) -> Trend | None:
    """A least-squares line through the mean excess of the last passes over the subset."""
    passes = [sum(curve[i:i + n]) / n for i in range(0, len(curve) - n + 1, n)]
    k = max(4, round(float(s["trend_window"]) * len(passes)))
    window = [p - floor for p in passes[-k:]]
    if len(window) < 4:
        return None
    xs = list(range(len(window)))
    mx, my = sum(xs) / len(xs), sum(window) / len(window)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, window)) / sxx
    residual = [y - (my + slope * (x - mx)) for x, y in zip(xs, window)]
    sigma = math.sqrt(sum(r * r for r in residual) / max(len(window) - 2, 1))
    se = sigma / math.sqrt(sxx)
    t = slope / se if se > 0 else (-math.inf if slope < 0 else 0.0)
    start = my - slope * mx
    drop = -slope * (len(window) - 1) / start if start > 0 else 0.0
    end = my + slope * (len(window) - 1 - mx)
    per_step = slope / n
    needed = (end - (fit_loss - floor)) / -per_step if per_step < 0 else None
    return Trend(slope=per_step, t=t, drop=drop, steps_needed=max(needed, 0.0) if needed is not None else None)


def _metrics(ctx: Context, m: Measured) -> dict:
    out = {"steps": m.steps, "fit": m.fit_at is not None, "initial_loss": rounded(m.initial),
           "final_loss": rounded(m.final), "floor": rounded(m.refs.floor), "expected": rounded(m.refs.expected),
           "fit_loss": rounded(m.fit_loss), "lr": ctx.lr, "samples": m.samples}
    if m.accuracy is not None:
        out["final_accuracy"] = rounded(m.accuracy)
    if m.trend is not None:
        out.update({"slope_per_step": rounded(m.trend.slope, 4), "trend_t": rounded(m.trend.t, 3),
                    "steps_needed": round(m.trend.steps_needed) if m.trend.steps_needed is not None
                    and math.isfinite(m.trend.steps_needed) else None})
    return {k: v for k, v in out.items() if v is not None}


# -- words --------------------------------------------------------------------------------------
def _batches(n: int) -> str:
    return f"{n} batch" if n == 1 else f"{n} batches"


def _progress(m: Measured) -> str:
    floor = f", floor {m.floor:.3g}" if m.refs.floor else ""
    acc = f", accuracy {_percent(m.accuracy)}" if m.accuracy is not None else ""
    return f"loss {m.initial:.3g} -> {m.final:.3g}{floor}{acc}"


def _percent(share: float) -> str:
    """100% only when it is: 0.997 is 99.7%."""
    return f"{share:.0%}" if share in (0.0, 1.0) else f"{min(share, 0.999):.1%}"


# -- rules: one per finding code; the first that explains the run ends the diagnosis -------------
def regularisation_off(ctx: Context, task: Task, m: Measured) -> bool:
    """DLC207 (info): what was turned off for the run."""
    if m.turned_off:
        ctx.result.add("DLC207", f"turned off for this run: {', '.join(sorted(m.turned_off))}")
    return False


def diverged(ctx: Context, task: Task, m: Measured) -> bool:
    """DLC202: NaN/Inf."""
    if m.diverged_at is None:
        return False
    ctx.result.summary = f"the loss became non-finite at step {m.diverged_at}"
    ctx.result.add("DLC202", f"the loss became NaN/Inf at step {m.diverged_at} (lr {ctx.lr:g})")
    return True


def memorised(ctx: Context, task: Task, m: Measured) -> bool:
    """The pass; DLC206 when it took long."""
    if m.fit_at is None:
        return False
    more = f"; the budget of {ctx.settings['max_steps']} was extended while the loss was on course" \
        if m.extended else ""
    ctx.result.summary = f"memorised {_batches(m.batches)} in {m.fit_at} steps ({_progress(m)}{more})"
    if m.fit_at > ctx.settings["slow_steps"]:
        # hard labels are memorised in a few hundred steps; fitting continuous or per-token targets
        # closely takes longer in healthy set-ups, so there it is a note
        severity = None if task.hard_labels and not task.per_position else "info"
        ctx.result.add("DLC206", f"the subset was fit only after {m.fit_at} steps", severity=severity)
    return True


def not_memorised(ctx: Context, task: Task, m: Measured) -> bool:
    """The summary of a run that did not fit; the rules below say why."""
    still = m.trend is not None and _falling(ctx, m.trend)
    verb = "not converged" if still else "not memorised"
    ctx.result.summary = f"{verb} after {m.steps} steps: {_progress(m)}"
    return False


def probabilities(ctx: Context, task: Task, m: Measured) -> bool:
    """DLC203: softmax/sigmoid outputs into a loss that applies its own."""
    if not m.probabilities:
        return False
    what = ("non-negative and sum to 1 per sample: a softmax runs before CrossEntropyLoss"
            if task.kind == "classification" else "all in [0, 1]: a sigmoid runs before BCEWithLogitsLoss")
    ctx.result.add("DLC203", f"the model's outputs are {what}, which applies its own")
    return True


def frozen(ctx: Context, task: Task, m: Measured) -> bool:
    """DLC204: most parameters never changed."""
    share = sum(m.unchanged.values()) / m.total if m.total else 0.0
    if share < ctx.settings["frozen_fraction"]:
        return False
    names = sorted(m.unchanged, key=m.unchanged.get, reverse=True)
    ctx.result.add("DLC204", f"{share:.0%} of the parameters never changed ({listing(names)}): frozen, "
                             f"without gradient, or missing from the optimizer")
    return True


def still_falling(ctx: Context, task: Task, m: Measured) -> bool:
    """DLC209 (warn): the budget ran out while the loss was still falling."""
    if m.trend is None or not _falling(ctx, m.trend):
        return False
    needed = m.trend.steps_needed
    rate = f"falling {-m.trend.slope * 100:.2g} per 100 steps"
    more = f"; at that rate about {needed:.0f} more steps" if needed is not None and math.isfinite(needed) else ""
    ctx.result.add("DLC209", f"not converged within {m.steps} steps: the loss is still {rate} "
                             f"(at {m.final:.3g}, memorised at {m.fit_loss:.3g}{more})",
                   advice=f"raise --max-steps (e.g. to {_suggest_steps(m)}) or try a higher learning rate "
                          f"(now {ctx.lr:g}; see dlcheck lr-find)")
    return True


def flat(ctx: Context, task: Task, m: Measured) -> bool:
    """DLC201: the loss did not fall at all (relative to the floor)."""
    if (m.final - m.floor) < ctx.settings["flat_fraction"] * (m.initial - m.floor):
        return False
    ctx.result.add("DLC201", f"the loss did not fall: {m.initial:.3g} -> {m.final:.3g} in {m.steps} "
                             f"steps at lr {ctx.lr:g}")
    return True


def stalled(ctx: Context, task: Task, m: Measured) -> bool:
    """DLC205: fell, then flat within its own noise, far above the floor."""
    floor = f" (floor {m.floor:.3g})" if m.refs.floor else ""
    ctx.result.add("DLC205", f"the loss fell from {m.initial:.3g} but stalled at {m.final:.3g}{floor}: flat "
                             f"within its noise over the last {round(ctx.settings['trend_window'] * 100)}% "
                             f"of the run")
    return True


#: The rules, in order; the first that returns True ends the diagnosis.
RULES = (regularisation_off, diverged, memorised, not_memorised, probabilities, frozen, still_falling,
         flat, stalled)


def _falling(ctx: Context, trend: Trend) -> bool:
    return trend.t <= -ctx.settings["trend_t"] and trend.drop >= ctx.settings["min_progress"]


def _suggest_steps(m: Measured) -> int:
    needed = m.trend.steps_needed if m.trend and m.trend.steps_needed is not None else m.steps
    total = m.steps + (needed if math.isfinite(needed) else m.steps)
    return int(min(max(2 * m.steps, 1.5 * total), 100 * m.steps) // 100 * 100) or 2 * m.steps


# -- helpers --------------------------------------------------------------------------------------
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


def _unchanged(model: nn.Module, initial: dict) -> dict[str, int]:
    """Parameter name -> element count, for parameters bit-identical to their initial value."""
    return {name: p.numel() for name, p in model.named_parameters() if torch.equal(p.detach(), initial[name])}


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
    if ctx.target.forward is not None:
        return 0
    _, targets = ctx.split(batch)
    return int(targets.shape[0]) if isinstance(targets, torch.Tensor) and targets.dim() else 0


def _write_curve(ctx: Context, curve: list[float]) -> None:
    ctx.result.table("loss.csv", [{"step": i + 1, "loss": v} for i, v in enumerate(curve)])
    title = "overfit-small: training loss on the tiny subset"
    ctx.result.figure("loss_curve", title, file="loss.png", losses=curve, title=title)
