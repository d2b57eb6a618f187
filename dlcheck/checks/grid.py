"""Tuning step 4: a coarse grid of learning rates x weight decays, each trial trained for a few
epochs (1 by default) from the same initial weights with the same batch order, judged on the
validation loss. The search runs on Optuna: a study with a grid sampler over the cells, each
trial's validation losses reported as it trains so a pruner (median, or successive halving) stops
hopeless trials, and an optional storage (``--storage sqlite:///grid.db``) that makes a grid
resumable after a crash and lets several processes or machines work on one grid at once.

The centre of the LR axis is the LR the user trains with (``--lr`` or the target's ``lr``), else
lr-find's suggestion computed on the spot; the weight decay is set on the param groups of the
user's own optimizer factory, so the optimizer searched is the user's.

Workers never run a cell twice: a worker claims a cell by creating a running trial for it (its
cell in the same insert), then checks the storage, and of two claims on one cell the lower trial
id wins (the loser's trial is marked failed before it trains). Optuna's own GridSampler can hand
the same cell to two workers at once (its documentation says so), and its trial queue can hand one
waiting trial to two workers on SQLite; this protocol rules both out.
Trials of a worker that died stop sending heartbeats and are failed after a grace period, so
their cells are run again by whoever resumes the grid.

Helpers the curves check shares live here too: one pass of evaluation on the validation data,
the epoch plan, the loader rewind, weight decay on the param groups, list settings.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, listing, rounded
from dlcheck.task import References
from dlcheck.training import Trainer, all_finite

NAME = "grid"
SETTINGS = {
    "epochs": 1,  # epochs per trial (the recipe: 1-5)
    "steps": None,  # optimizer steps per trial instead of epochs (large datasets)
    "lrs": None,  # the LR axis ("1e-3,3e-3" or a list); default: the centre LR x lr_factors
    "weight_decays": None,  # the WD axis; default: default_weight_decays
    "lr_factors": [1 / 3, 1.0, 3.0],  # the default LR axis around the centre
    "default_weight_decays": [1e-4, 1e-5, 0.0],  # the recipe's weight decays
    "prune": True,  # stop hopeless trials early (Optuna pruner)
    "pruner": "median",  # median | halving
    "startup_trials": 3,  # trials that finish before the median pruner prunes
    "min_evals": 3,  # validation evaluations per trial at least (within the epoch when epochs < this)
    "val_batches": None,  # cap on the validation batches per evaluation (default: the whole val_loader)
    "storage": None,  # Optuna storage URL (sqlite:///grid.db); default: in memory
    "study": None,  # study name in the storage (default: derived from the target and the grid)
    "diverge_factor": 3.0,  # diverged: non-finite, or val loss - floor above this x (initial - floor)
    "min_fall": 0.05,  # learned: the val loss fell at least this share of the way from init to the floor
    "edge_margin": 0.01,  # an edge cell counts as the best when it beats its neighbour by this share
    "wd_tolerance": 0.02,  # WD makes no difference: its spread at the best LR under this share of the loss
    "far_factor": 3.0,  # the best LR/WD more than this factor from the configured one: DLC905 ...
    "far_margin": 0.05,  # ... unless the configured value's own cells come within this share of the best
    "heartbeat": 10,  # seconds between a running trial's heartbeats (storage only)
    "grace": 60,  # a trial without heartbeat for this long belongs to a dead worker: failed, run again
    "wait": 3600.0,  # seconds to wait for other workers' trials before reporting the grid incomplete
    "poll": 1.0,  # seconds between looks at the storage while waiting
    "chunk": 20,  # steps between host synchronisations
}


# == shared with curves ==========================================================================
def number_list(value, name: str, *, positive: bool) -> list[float] | None:
    """``"1e-3, 3e-3"`` or a list of numbers -> floats (None stays None); one clear error else."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]  # one number (a recipe's `lrs: 1e-3`, or a flag the settings parsed as one)
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise UserError(f"{name} must be a comma-separated list of numbers, not {value!r}")
    out = []
    for item in items:
        try:
            v = float(item.strip() if isinstance(item, str) else item)
        except (TypeError, ValueError):
            raise UserError(f"{name}: '{item}' is not a number") from None
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise UserError(f"{name}: {item} must be a finite number {'above' if positive else 'at least'} 0")
        out.append(v)
    if len(set(out)) != len(out):
        raise UserError(f"{name} lists a value twice: {value!r}")
    return out


def require_val(ctx: Context, check: str) -> None:
    """A clear error when the target has no validation data (grid and curves judge on it)."""
    if ctx.loader("val") is None:
        raise UserError(f"{check} judges the validation loss and needs a val_loader: add val_loader (a loader, "
                        f"or a function returning one) to the target, or pass --val-data file.py:name")


def steps_per_epoch(ctx: Context) -> int:
    """Batches in one pass over the train loader: len() where it has one, else counted."""
    loader = ctx.loader("train")
    try:
        n = len(loader)
    except TypeError:
        n = 0
        for index, _ in ctx.stream(10 ** 12):
            if index == 0 and n:
                break
            n += 1
    if n < 1:
        raise UserError(f"{ctx.target.where('train_loader')} yielded no batches")
    return n


def set_weight_decay(optimizer: torch.optim.Optimizer, wd: float) -> None:
    """``weight_decay`` on the optimizer's param groups. Groups the factory keeps free of decay
    (0 while another group decays: biases, norms) stay at 0."""
    given = [float(g.get("weight_decay", 0.0) or 0.0) for g in optimizer.param_groups]
    exempt = any(v > 0 for v in given)
    for group, v in zip(optimizer.param_groups, given):
        if exempt and v == 0:
            continue
        group["weight_decay"] = wd


def configured_weight_decay(ctx: Context) -> float:
    """The weight decay the target's optimizer factory sets (the largest group's; Adam's default 0)."""
    if ctx.target.optimizer is None:
        return 0.0
    try:
        opt = ctx.target.optimizer([torch.nn.Parameter(torch.zeros(1))], lr=ctx.lr)
        return max(float(g.get("weight_decay", 0.0) or 0.0) for g in opt.param_groups)
    except Exception:  # a factory that needs the real parameters
        return 0.0


class Rewind:
    """The train loader's batch order, replayed: the states of the torch Generators a loader
    shuffles with (a DataLoader's, its sampler's, and those of a loader wrapped one or two levels
    deep in an object of the user's) are kept and set back before every trial, and at the end, so
    the loader is handed back as found. A loader that shuffles with the global RNG repeats
    through the seed."""

    def __init__(self, loader):
        self.generators: list[tuple[torch.Generator, torch.Tensor]] = []
        self._collect(loader, depth=0, seen=set())

    def _collect(self, obj, depth: int, seen: set) -> None:
        if obj is None or id(obj) in seen or depth > 3:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.Generator):
            self.generators.append((obj, obj.get_state()))
            return
        if isinstance(obj, (str, bytes, int, float, bool, torch.Tensor, torch.nn.Module)):
            return
        try:
            values = list(vars(obj).values())
        except TypeError:  # no __dict__: nothing of the user's to look into
            return
        for value in values:
            if isinstance(value, torch.Generator) or hasattr(value, "__iter__") or hasattr(value, "generator") \
                    or hasattr(value, "sampler"):
                if not isinstance(value, (dict, list, tuple, set)):
                    self._collect(value, depth + 1, seen)

    def __call__(self) -> None:
        for gen, state in self.generators:
            gen.set_state(state)


@dataclass
class Evaluation:
    loss: float
    accuracy: float | None
    refs: References


def evaluate(ctx: Context, model, split: str = "val", batches: int | None = None, refs: bool = False,
             fixed: list | None = None) -> Evaluation:
    """The mean loss (weighted by samples) and accuracy where it applies over one pass of ``split``
    (at most ``batches`` batches), or over the device batches ``fixed``, in eval mode without
    gradients; the model's modes are set back. ``refs``: also the task's references on them."""
    from dlcheck.checks.overfit_small import _hits

    modes = [m.training for m in model.modules()]
    model.eval()
    device = ctx.device
    total = torch.zeros((), device=device, dtype=torch.float64)
    count = torch.zeros((), device=device, dtype=torch.float64)
    hits = torch.zeros((), device=device, dtype=torch.float64)
    counted = torch.zeros((), device=device, dtype=torch.float64)
    found, with_hits = [], False
    pairs = enumerate(fixed) if fixed is not None else one_pass(ctx, split, batches)
    try:
        with torch.no_grad():
            for index, batch in pairs:
                outputs, targets = ctx.forward(model, batch, index)
                loss = ctx.loss(outputs, targets).float()
                n = targets.shape[0] if isinstance(targets, torch.Tensor) and targets.dim() else 1
                total += loss.double() * n
                count += n
                logits = ctx.logits(outputs)
                h = _hits(ctx.task, logits, targets)
                if h is not None:
                    with_hits = True
                    hits += h[0].double()
                    counted += h[1].double()
                if refs:
                    found.append(ctx.task.reference(ctx.loss_fn, logits.float(), targets))
    finally:
        for module, mode in zip(model.modules(), modes):
            module.training = mode
    mean = float(total / count.clamp_min(1))
    accuracy = float(hits / counted.clamp_min(1)) if with_hits else None
    return Evaluation(mean, accuracy, References.mean(found) if found else References())


def one_pass(ctx: Context, split: str, batches: int | None = None):
    """``(index, batch)`` over one pass of a loader (at most ``batches``), on the device."""
    try:
        limit = len(ctx.loader(split))
    except TypeError:
        limit = 10 ** 12
    if batches:
        limit = min(limit, int(batches))
    seen = 0
    for index, batch in ctx.stream(limit, split):
        if index == 0 and seen:
            return  # a loader without len(): the pass ended
        seen += 1
        yield index, batch


def eval_points(total: int, per_epoch: int, min_evals: int, by_steps: bool) -> list[int]:
    """Steps after which the validation loss is measured: every epoch's end (not with a step
    budget), and evenly spaced points when that gives fewer than ``min_evals``."""
    points = set() if by_steps else {e * per_epoch for e in range(1, total // per_epoch + 1)}
    if len(points) < min_evals:
        points |= {max(1, round(total * k / min_evals)) for k in range(1, min_evals + 1)}
    points.add(total)
    return sorted(p for p in points if 0 < p <= total)


@contextmanager
def progress(ctx: Context, total: int, description: str):
    """A rich progress bar on stderr with an ETA and a description that changes (trial i of n,
    epoch); silent with --quiet or off a terminal. Yields ``update(advance=1, description=None)``."""
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    disabled = ctx.quiet or not sys.stderr.isatty()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True, disable=disabled) as bar:
        task = bar.add_task(description, total=total)

        def update(advance: int = 1, description: str | None = None) -> None:
            bar.update(task, advance=advance, **({"description": description} if description else {}))

        yield update


def fall(initial: float, value: float, floor: float | None) -> float:
    """The share of the way from ``initial`` down to the floor that ``value`` is (0 at init, 1 at the floor)."""
    if not (math.isfinite(initial) and math.isfinite(value)):
        return -math.inf
    base = floor if floor is not None else 0.0
    span = initial - base
    if span <= 0:
        return 0.0
    return (initial - value) / span


# == the grid ===================================================================================
@dataclass(frozen=True)
class Cell:
    lr: float
    wd: float

    @property
    def key(self) -> str:
        return f"lr={self.lr!r},wd={self.wd!r}"


@dataclass
class Outcome:
    """One trial, as the storage holds it (user attributes) and the report shows it."""

    cell: Cell
    status: str  # done | pruned | diverged | cut (budget) | not run
    val_loss: float | None = None
    val_accuracy: float | None = None
    train_loss: float | None = None
    best_val_loss: float | None = None
    steps: int = 0
    points: list[dict] = field(default_factory=list)
    trial: int | None = None
    worker: str | None = None

    def attrs(self) -> dict:
        return {"status": self.status, "val_loss": rounded(self.val_loss), "val_accuracy": rounded(self.val_accuracy),
                "train_loss": rounded(self.train_loss), "best_val_loss": rounded(self.best_val_loss),
                "steps": self.steps, "points": self.points, "worker": self.worker}

    @staticmethod
    def from_trial(cell: Cell, trial) -> "Outcome":
        a = trial.user_attrs
        num = lambda v: None if v is None else float(v)  # noqa: E731  ("inf" strings back to floats)
        return Outcome(cell=cell, status=a.get("status", "done"), val_loss=num(a.get("val_loss")),
                       val_accuracy=num(a.get("val_accuracy")), train_loss=num(a.get("train_loss")),
                       best_val_loss=num(a.get("best_val_loss")), steps=int(a.get("steps", 0)),
                       points=list(a.get("points", [])), trial=trial.number, worker=a.get("worker"))


@dataclass
class Plan:
    per_epoch: int
    total: int
    evals: list[int]

    def epochs(self, steps: int) -> float:
        return steps / self.per_epoch


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    require_val(ctx, "grid")
    epochs, steps = int(s["epochs"]), s["steps"]
    if epochs < 1 or int(s["min_evals"]) < 1 or s["pruner"] not in ("median", "halving"):
        raise UserError(f"grid needs epochs >= 1, min_evals >= 1 and pruner median|halving, got epochs={epochs}, "
                        f"min_evals={s['min_evals']}, pruner={s['pruner']!r}")
    rewind = Rewind(ctx.loader("train"))  # before anything reads the loader: handed back as found
    given = number_list(s["lrs"], "--lrs", positive=True)
    wds = number_list(s["weight_decays"], "--weight-decays", positive=False) or list(s["default_weight_decays"])
    if given and ctx.lr_override is None and ctx.target.lr is None:  # no lr-find run for a grid given in full
        centre, source = math.exp(sum(map(math.log, given)) / len(given)), "--lrs"
    else:
        centre, source = _centre(ctx)
    lrs = sorted({float(f"{v:.4g}") for v in (given or [centre * f for f in s["lr_factors"]])})
    wds = sorted(set(wds), reverse=True)
    per_epoch = steps_per_epoch(ctx)
    rewind()
    total = int(steps) if steps else epochs * per_epoch
    plan = Plan(per_epoch, total, eval_points(total, per_epoch, int(s["min_evals"]), bool(steps)))
    cells = _order([Cell(lr, wd) for lr in lrs for wd in wds], centre)
    ctx.result.metrics.update({"centre_lr": rounded(centre), "centre_from": source, "lrs": [rounded(v) for v in lrs],
                               "weight_decays": wds, "steps_per_trial": total,
                               "epochs_per_trial": rounded(plan.epochs(total), 4), "prune": bool(s["prune"])})
    try:
        outcomes, initial, refs, run_here = _search(ctx, cells, plan, {"lrs": lrs, "wds": wds}, rewind)
    finally:
        rewind()  # the user's loader gives the order it would have given
    _report(ctx, cells, outcomes, initial, refs, plan, centre, source, run_here)
    return ctx.result


def _centre(ctx: Context) -> tuple[float, str]:
    """The LR the grid is centred on, and where it comes from."""
    if ctx.lr_override is not None:
        return ctx.lr, "--lr"
    if ctx.target.lr is not None:
        return ctx.lr, "the target's lr"
    from dlcheck.checks import lr_find

    sub = Context("lr-find", ctx.target, ctx.device, ctx.seed, dict(lr_find.SETTINGS), amp=ctx.amp,
                  quiet=ctx.quiet, input_key=ctx.input_key, target_key=ctx.target_key, state=ctx.state)
    sub.deadline = ctx.deadline
    seed_everything(ctx.seed)
    lr_find.run(sub)
    suggested = sub.result.metrics.get("suggested_lr")
    if isinstance(suggested, float) and math.isfinite(suggested) and suggested > 0:
        return suggested, "lr-find's suggestion"
    return ctx.lr, f"the default lr (lr-find found no suggestion: {sub.result.summary})"


def _order(cells: list[Cell], centre: float) -> list[Cell]:
    """Cells nearest the centre LR first (the likely best, which the pruner then measures others
    against), higher LRs before lower at the same distance, weight decays in the order given."""
    return sorted(cells, key=lambda c: (round(abs(math.log(c.lr / centre)), 6), -c.lr))


# -- the study --------------------------------------------------------------------------------
@contextmanager
def _quiet_optuna():
    import warnings

    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
            # ask/tell with heartbeats is what a shared grid needs; Optuna only expects it in optimize()
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
            yield optuna
    finally:
        optuna.logging.set_verbosity(level)


def _storage(optuna, url: str | None, s):
    if not url:
        return optuna.storages.InMemoryStorage()
    kwargs = {"engine_kwargs": {"connect_args": {"timeout": 60}}} if url.startswith("sqlite") else {}
    for attempt in range(6):  # workers started together race to create the schema: the losers retry
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=max(1, int(s["heartbeat"])),
                                              grace_period=max(2, int(s["grace"])), **kwargs)
        except Exception as exc:
            racing = any(w in str(exc) for w in ("IntegrityError", "already exists", "locked"))
            if attempt == 5 or not racing:
                first = str(exc).splitlines()[0] if str(exc) else ""
                raise UserError(f"--storage {url} could not be opened: {type(exc).__name__}: {first}") from exc
            time.sleep(0.2 * (attempt + 1))


def _config(ctx: Context, axes: dict, plan: Plan) -> dict:
    """What makes two runs the same grid (a study in a storage is only resumed by the same one)."""
    s = ctx.settings
    return {"target": os.path.basename(str(ctx.target.source)), "lrs": axes["lrs"], "weight_decays": axes["wds"],
            "steps": plan.total, "evals": plan.evals, "seed": ctx.seed, "val_batches": s["val_batches"],
            "pruner": s["pruner"] if s["prune"] else "none"}


def _study(optuna, ctx: Context, axes: dict, plan: Plan):
    s = ctx.settings
    config = _config(ctx, axes, plan)
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    name = s["study"] or f"dlcheck-grid-{digest}"
    if not s["prune"]:
        pruner = optuna.pruners.NopPruner()
    elif s["pruner"] == "halving":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=plan.evals[0])
    else:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=int(s["startup_trials"]), n_warmup_steps=0)
    storage = _storage(optuna, s["storage"], s)
    sampler = _grid_sampler(optuna)({"lr": axes["lrs"], "weight_decay": axes["wds"]}, seed=ctx.seed)
    for attempt in range(6):  # two workers creating the same study: the loser loads it
        try:
            study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                        direction="minimize", load_if_exists=True)
            break
        except Exception as exc:
            if attempt < 5:
                time.sleep(0.2 * (attempt + 1))
                continue
            raise UserError(f"--storage {s['storage']}: the study '{name}' could not be created or loaded: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    known = study.user_attrs.get("dlcheck")
    if known is None:
        study.set_user_attr("dlcheck", config)
    elif known != config:
        changed = sorted(k for k in set(known) | set(config) if known.get(k) != config.get(k))
        raise UserError(f"--storage {s['storage']}: study '{name}' holds a grid with other settings "
                        f"({', '.join(changed)}); run the same command to resume it, or pass --study NEW_NAME")
    return study


def _grid_sampler(optuna):
    """Optuna's GridSampler over the cells, without its stop-the-study bookkeeping after each trial:
    here workers create each cell's trial themselves (see _claim) and the study is never run by
    optimize(), so there is nothing for it to stop (and its bookkeeping assumes trials it assigned
    itself). It stays the study's sampler, so the study reads as the grid it is in Optuna's tools."""

    class QueuedGrid(optuna.samplers.GridSampler):
        def after_trial(self, study, trial, state, values) -> None:
            return None

    return QueuedGrid


class _Heartbeat:
    """Heartbeats of the running trial from a background thread, so that another worker can tell
    a running trial from a dead worker's (storage only)."""

    def __init__(self, study, trial, interval: float):
        self.storage, self.trial_id, self.interval = study._storage, trial._trial_id, interval
        self.stop = threading.Event()
        self.thread = None
        if hasattr(self.storage, "record_heartbeat") and self.storage.get_heartbeat_interval() is not None:
            self.storage.record_heartbeat(self.trial_id)
            self.thread = threading.Thread(target=self._beat, daemon=True, name="dlcheck-grid-heartbeat")
            self.thread.start()

    def _beat(self):
        while not self.stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a busy database: the next beat tries again
                pass

    def close(self):
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def _trials_by_cell(study, cells: list[Cell]) -> dict:
    from optuna.trial import TrialState

    keys = {c.key: c for c in cells}
    out: dict[str, list] = {}
    for t in study.get_trials(deepcopy=False):
        key = t.user_attrs.get("cell")
        if key in keys and (t.state == TrialState.RUNNING or t.state.is_finished()) and t.state != TrialState.FAIL:
            out.setdefault(key, []).append(t)
    return out


def _claim(optuna, study, cells: list[Cell]):
    """Claim the next cell nobody ran or runs: (trial, cell); ``None`` when every cell is done;
    ``"wait"`` when the rest are running elsewhere.

    A claim is a new RUNNING trial created with its cell (parameters and user attribute) in one
    insert, so no other worker can take that trial; two workers claiming one cell at once both
    insert, and the one with the lower trial id wins (an insert becomes visible in id order on
    SQLite, so of two claims at least the later one sees the earlier): the loser's trial is
    marked failed before it trains anything."""
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    distributions = {"lr": CategoricalDistribution(sorted({c.lr for c in cells})),
                     "weight_decay": CategoricalDistribution(sorted({c.wd for c in cells}, reverse=True))}
    while True:
        try:
            optuna.storages.fail_stale_trials(study)  # a dead worker's trials: failed, to be run again
        except Exception:  # a busy database: the next claim looks again
            pass
        taken = _trials_by_cell(study, cells)
        free = [c for c in cells if c.key not in taken]
        if not free:
            done = all(any(t.state.is_finished() for t in taken[c.key]) for c in cells)
            return None if done else "wait"
        cell = free[0]
        params = {"lr": cell.lr, "weight_decay": cell.wd}
        template = optuna.trial.create_trial(state=TrialState.RUNNING, params=params, distributions=distributions,
                                             user_attrs={"cell": cell.key}, system_attrs={"fixed_params": params})
        trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
        trial = optuna.trial.Trial(study, trial_id)
        rivals = [t for t in _trials_by_cell(study, cells).get(cell.key, [])
                  if t._trial_id != trial_id and (t.state.is_finished() or t._trial_id < trial_id)]
        if rivals:  # another worker holds this cell: yield it
            trial.set_user_attr("claim", "lost")
            study.tell(trial, state=TrialState.FAIL)
            continue
        return trial, cell


def _search(ctx: Context, cells: list[Cell], plan: Plan, axes: dict, rewind: Rewind):
    """Run the cells this worker can claim; return every cell's outcome as the storage has it,
    the initial val evaluation, the task's references on val, and the cells run here."""
    from optuna.trial import TrialState

    s = ctx.settings
    worker = f"{socket.gethostname()}:{os.getpid()}"
    run_here: list[str] = []
    local: dict[str, Outcome] = {}
    with _quiet_optuna() as optuna:
        study = _study(optuna, ctx, axes, plan)
        with ctx.model() as model:
            model.train()
            initial_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            start = evaluate(ctx, model, batches=s["val_batches"], refs=True)
            trainer_ctx = _TrialRunner(ctx, model, initial_state, rewind, plan, start)
            waited = None
            with progress(ctx, len(cells) * plan.total, "grid") as update:
                while not ctx.out_of_time():
                    claim = _claim(optuna, study, cells)
                    if claim is None:
                        break
                    if claim == "wait":
                        waited = waited or time.monotonic()
                        if time.monotonic() - waited > float(s["wait"]):
                            break
                        time.sleep(float(s["poll"]))
                        continue
                    waited = None
                    trial, cell = claim
                    beat = _Heartbeat(study, trial, max(1, int(s["heartbeat"])))
                    try:
                        number = len(run_here) + 1
                        outcome = trainer_ctx.train(trial, cell, update, f"grid: trial {number} of "
                                                    f"{len(cells)} (lr {cell.lr:.2g}, wd {cell.wd:g})")
                    except BaseException:
                        beat.close()
                        study.tell(trial, state=TrialState.FAIL)  # a restart runs this cell again
                        raise
                    beat.close()
                    outcome.worker, outcome.trial = worker, trial.number
                    local[cell.key] = outcome
                    run_here.append(cell.key)
                    for key, value in outcome.attrs().items():
                        trial.set_user_attr(key, value)
                    if outcome.status == "cut":
                        study.tell(trial, state=TrialState.FAIL)  # unfinished: a resume runs it again
                    elif outcome.status == "pruned":
                        study.tell(trial, state=TrialState.PRUNED)
                    else:
                        study.tell(trial, outcome.val_loss if outcome.status == "done" else math.inf)
        taken = _trials_by_cell(study, cells)
    outcomes = {}
    for cell in cells:
        finished = [t for t in taken.get(cell.key, []) if t.state.is_finished()]
        if finished:
            outcomes[cell.key] = Outcome.from_trial(cell, min(finished, key=lambda t: t.number))
        elif cell.key in local:  # cut by the budget
            outcomes[cell.key] = local[cell.key]
        else:
            running = bool(taken.get(cell.key))
            outcomes[cell.key] = Outcome(cell=cell, status="running elsewhere" if running else "not run")
    return outcomes, start, start.refs, run_here


class _TrialRunner:
    """One trial: the same init, the same batch order, the user's optimizer at the cell's LR and WD."""

    def __init__(self, ctx: Context, model, initial_state: dict, rewind: Rewind, plan: Plan, start: Evaluation):
        self.ctx, self.model, self.initial_state, self.rewind = ctx, model, initial_state, rewind
        self.plan, self.start = plan, start

    def train(self, trial, cell: Cell, update, description: str) -> Outcome:
        ctx, model, plan, s = self.ctx, self.model, self.plan, self.ctx.settings
        model.load_state_dict(self.initial_state)
        model.train()
        seed_everything(ctx.seed)  # the same dropout draws, and the same order from a globally seeded shuffle
        self.rewind()
        optimizer = ctx.optimizer(model.parameters(), lr=cell.lr)
        set_weight_decay(optimizer, cell.wd)
        trainer = Trainer(ctx, model, optimizer)
        floor = self.start.refs.floor
        limit = (floor or 0.0) + float(s["diverge_factor"]) * max(self.start.loss - (floor or 0.0), 1e-12)
        chunk, evals = max(1, int(s["chunk"])), set(plan.evals)
        out = Outcome(cell=cell, status="done")
        pending, since, done = [], [], 0
        update(0, description)
        for index, batch in ctx.stream(plan.total):
            pending.append(trainer.step(batch, index).loss.float())
            done += 1
            update(1)
            if done % chunk and done not in evals:
                continue
            ok, _ = all_finite(pending)
            since += pending
            pending = []
            if not ok:
                out.status = "diverged"
                break
            if done in evals:
                ev = evaluate(ctx, model, batches=s["val_batches"])
                train_loss = float(torch.stack(since).mean())
                since = []
                epoch = plan.epochs(done)
                out.points.append({"step": done, "epoch": rounded(epoch, 4), "val_loss": rounded(ev.loss),
                                   "val_accuracy": rounded(ev.accuracy), "train_loss": rounded(train_loss)})
                out.val_loss, out.val_accuracy, out.train_loss = ev.loss, ev.accuracy, train_loss
                out.best_val_loss = ev.loss if out.best_val_loss is None else min(out.best_val_loss, ev.loss)
                if not math.isfinite(ev.loss) or ev.loss > limit:
                    out.status = "diverged"
                    break
                trial.report(ev.loss, done)
                if done < plan.total and trial.should_prune():
                    out.status = "pruned"
                    break
            if ctx.out_of_time() and done < plan.total:
                out.status = "cut"
                break
        out.steps = done
        if done < plan.total:
            update(plan.total - done)
        return out


# -- the report -------------------------------------------------------------------------------
def _row(o: Outcome, plan: Plan) -> dict:
    return {"lr": rounded(o.cell.lr, 4), "weight_decay": o.cell.wd, "val_loss": rounded(o.val_loss, 4),
            "val_accuracy": rounded(o.val_accuracy, 4), "train_loss": rounded(o.train_loss, 4),
            "epochs": rounded(plan.epochs(o.steps), 3), "status": o.status, "trial": o.trial}


def _report(ctx: Context, cells: list[Cell], outcomes: dict, start: Evaluation, refs: References, plan: Plan,
            centre: float, source: str, run_here: list[str]) -> None:
    s, result = ctx.settings, ctx.result
    rows_order = sorted(cells, key=lambda c: (c.lr, -c.wd))
    all_out = [outcomes[c.key] for c in rows_order]
    result.details["trials"] = [_row(o, plan) for o in all_out]
    result.details["evaluations"] = {o.cell.key: o.points for o in all_out}  # JSON only: every trial's curve
    done = [o for o in all_out if o.status == "done" and o.val_loss is not None]
    finished = [o for o in all_out if o.status in ("done", "pruned", "diverged")]
    diverged = [o for o in all_out if o.status == "diverged"]
    pruned = [o for o in all_out if o.status == "pruned"]
    m = result.metrics
    m.update({"trials": len(cells), "finished": len(finished), "pruned": len(pruned), "diverged": len(diverged),
              "run_here": len(run_here), "steps_trained": sum(o.steps for o in all_out),
              "steps_trained_here": sum(outcomes[k].steps for k in run_here),
              "initial_val_loss": rounded(start.loss), "floor": rounded(refs.floor),
              "initial_val_accuracy": rounded(start.accuracy)})
    _write(ctx, cells, all_out, plan)
    incomplete = [o for o in all_out if o.status not in ("done", "pruned", "diverged")]
    if incomplete:
        result.add("DLC906", f"{len(incomplete)} of {len(cells)} cells have no finished trial "
                             f"({listing(_cell_words(o.cell) + ': ' + o.status for o in incomplete)})",
                   advice="Run the same command again (with the same --storage it resumes the grid), or raise --budget."
                   if ctx.settings["storage"] else "Raise --budget, or use --storage to resume the grid later.")
    if finished and len(diverged) == len(finished):
        result.summary = f"every trial diverged (lr {listing(sorted({_g(o.cell.lr) for o in diverged}))})"
        result.add("DLC902", f"all {len(diverged)} trials diverged within {_epochs(plan.epochs(plan.total))}, "
                             f"at every lr from {_g(min(c.lr for c in cells))} to {_g(max(c.lr for c in cells))}",
                   advice=f"Lower the learning rate: run dlcheck lr-find and centre the grid on its suggestion "
                          f"(--lr, or --lrs below {_g(min(c.lr for c in cells))}).")
        return
    if not done:
        if not result.summary:
            result.summary = "no trial finished" if not finished else "every trial that finished was pruned or diverged"
        return
    best = min(done, key=lambda o: (o.val_loss, o.cell.lr, -o.cell.wd))
    falls = {o.cell.key: fall(start.loss, o.best_val_loss, refs.floor) for o in finished if o.best_val_loss is not None}
    m.update({"best_lr": rounded(best.cell.lr), "best_weight_decay": best.cell.wd,
              "best_val_loss": rounded(best.val_loss),
              "best_val_accuracy": rounded(best.val_accuracy), "best_fall": rounded(falls.get(best.cell.key), 4)})
    acc = f", val accuracy {best.val_accuracy:.1%}" if best.val_accuracy is not None else ""
    notes = ", ".join(f"{n} {w}" for n, w in ((len(pruned), "pruned"), (len(diverged), "diverged")) if n)
    result.summary = (f"best lr {_g(best.cell.lr)}, weight decay {best.cell.wd:g}: val loss {best.val_loss:.4g}{acc} "
                      f"after {_epochs(plan.epochs(plan.total))} ({len(cells)} cells"
                      f"{', ' + notes if notes else ''})")
    if max(falls.values(), default=-math.inf) < float(s["min_fall"]):
        to = f" (floor {refs.floor:.3g})" if refs.floor is not None else ""
        result.add("DLC903", f"no trial brought the val loss down: {start.loss:.4g} at init, at best "
                             f"{min(o.best_val_loss for o in finished if o.best_val_loss is not None):.4g}{to}, under "
                             f"{float(s['min_fall']):.0%} of the way to the floor, at every lr from "
                             f"{_g(min(c.lr for c in cells))} to {_g(max(c.lr for c in cells))}",
                   advice="Run dlcheck lr-find for an LR that trains (and dlcheck overfit-small: can the model learn "
                          "at all?), then centre the grid there.")
        return
    if diverged:
        result.add("DLC907", f"{len(diverged)} trial(s) diverged: {listing(_cell_words(o.cell) for o in diverged)}")
    no_effect = _wd_no_effect(ctx, cells, outcomes, best, refs)
    _edges(ctx, cells, outcomes, best, no_effect)
    _far(ctx, cells, outcomes, best, source, no_effect)


def _epochs(n: float) -> str:
    return f"{n:.3g} epoch" + ("" if n == 1 else "s")


def _g(v: float) -> str:
    return f"{v:.2g}"


def _cell_words(c: Cell) -> str:
    return f"lr {_g(c.lr)} wd {c.wd:g}"


def _excess(loss: float, refs: References) -> float:
    return max(loss - (refs.floor or 0.0), 1e-12)


def _row_best(cells: list[Cell], outcomes: dict, lr: float) -> float:
    values = [outcomes[c.key].val_loss for c in cells if c.lr == lr and outcomes[c.key].status == "done"]
    return min(values, default=math.inf)


def _wd_no_effect(ctx: Context, cells, outcomes, best: Outcome, refs: References) -> bool:
    """DLC904 (info): at the best LR, every weight decay gives about the same val loss."""
    row = [outcomes[c.key] for c in cells if c.lr == best.cell.lr]
    if len(row) < 2 or any(o.status != "done" for o in row):
        return False
    spread = max(o.val_loss for o in row) - min(o.val_loss for o in row)
    share = spread / _excess(best.val_loss, refs)
    ctx.result.metrics["wd_spread"] = rounded(share, 4)
    if share >= float(ctx.settings["wd_tolerance"]):
        return False
    ctx.result.add("DLC904", f"weight decay makes no difference at this budget: at lr {_g(best.cell.lr)} the val "
                             f"loss spans {spread:.3g} ({share:.1%}) over weight decays "
                             f"{', '.join(f'{o.cell.wd:g}' for o in row)}")
    return True


def _edges(ctx: Context, cells, outcomes, best: Outcome, no_effect: bool) -> None:
    """DLC901: the best cell on the grid's edge (Deep Learning Tuning Playbook: widen the range)."""
    lrs = sorted({c.lr for c in cells})
    margin = float(ctx.settings["edge_margin"])
    said = []
    if len(lrs) >= 2 and best.cell.lr in (lrs[0], lrs[-1]):
        low = best.cell.lr == lrs[0]
        next_lr = lrs[1] if low else lrs[-2]
        neighbour = _row_best(cells, outcomes, next_lr)
        if best.val_loss < neighbour * (1 - margin):
            step = lrs[1] / lrs[0] if low else lrs[-1] / lrs[-2]
            new = [best.cell.lr / step, best.cell.lr, best.cell.lr * step]
            direction = "lower" if low else "higher"
            said.append(direction)
            there = (f"{neighbour:.4g} at the next lr {_g(next_lr)}" if math.isfinite(neighbour)
                     else f"no finished trial at the next lr {_g(next_lr)}")
            ctx.result.add("DLC901", f"the best lr {_g(best.cell.lr)} is the {'lowest' if low else 'highest'} of the "
                                     f"grid (val loss {best.val_loss:.4g}; {there}): the optimum may lie {direction}, "
                                     f"outside the grid",
                           advice=f"Widen the grid toward {direction} learning rates: --lrs "
                                  f"{','.join(_g(v) for v in new)}.")
    wds = sorted({c.wd for c in cells})
    if not no_effect and len(wds) >= 2:
        same_lr = {c.wd: outcomes[c.key] for c in cells if c.lr == best.cell.lr}
        top, bottom = wds[-1], wds[0]
        if best.cell.wd == top and top > 0:
            nxt = same_lr.get(wds[-2])
            if nxt is None or nxt.status != "done" or best.val_loss < nxt.val_loss * (1 - margin):
                ctx.result.add("DLC901", f"the best weight decay {top:g} is the largest of the grid: more decay may "
                                         f"help", advice=f"Widen the grid toward stronger weight decay: "
                                                         f"--weight-decays {top * 10:g},{top:g},{top / 10:g}.")
        elif best.cell.wd == bottom and bottom > 0:
            ctx.result.add("DLC901", f"the best weight decay {bottom:g} is the smallest of the grid, and above 0",
                           advice=f"Widen the grid toward weaker weight decay: --weight-decays "
                                  f"{bottom:g},{bottom / 10:g},0.")
    if said:
        ctx.result.metrics["widen"] = said[0]


def _far(ctx: Context, cells, outcomes, best: Outcome, source: str, no_effect: bool) -> None:
    """DLC905: the best cell far from the LR / WD the target is configured with, and better than
    the configured value's own cells by a margin (where the grid holds them)."""
    factor = float(ctx.settings["far_factor"]) * (1 + 1e-6)
    margin = 1 + float(ctx.settings["far_margin"])

    def close_enough(values) -> bool:  # the configured value's cells came within the margin of the best
        return bool(values) and min(values) <= best.val_loss * margin

    if source in ("--lr", "the target's lr"):
        lr = ctx.effective_lr
        ratio = max(best.cell.lr / lr, lr / best.cell.lr)
        own = [outcomes[c.key].val_loss for c in cells if math.isclose(c.lr, lr, rel_tol=1e-3)
               and outcomes[c.key].status == "done"]
        if ratio > factor and not close_enough(own):
            ctx.result.add("DLC905", f"the best lr {_g(best.cell.lr)} is {ratio:.0f}x "
                                     f"{'above' if best.cell.lr > lr else 'below'} the lr you train with ({_g(lr)}, "
                                     f"{source})", advice=f"Train at about {_g(best.cell.lr)}, or check it with "
                                                          f"dlcheck curves --lr {_g(best.cell.lr)}.")
    if no_effect:
        return
    wd = configured_weight_decay(ctx)
    b = best.cell.wd
    far = (wd == 0) != (b == 0) or (wd > 0 and b > 0 and max(wd / b, b / wd) > factor)
    own = [outcomes[c.key].val_loss for c in cells if c.lr == best.cell.lr and math.isclose(c.wd, wd, abs_tol=1e-12)
           and outcomes[c.key].status == "done"]
    if far and not close_enough(own):
        ctx.result.add("DLC905", f"the best weight decay {b:g} is far from the one your optimizer sets ({wd:g})"
                                 + (f", which gave {min(own):.4g} against {best.val_loss:.4g}" if own else ""),
                       advice=f"Set weight_decay={b:g} in the optimizer factory, or check it with dlcheck curves "
                              f"--weight-decay {b:g}.")


def _write(ctx: Context, cells: list[Cell], outcomes: list[Outcome], plan: Plan) -> None:
    rows = [_row(o, plan) for o in outcomes]
    ctx.result.table("trials.csv", rows)
    title = f"grid: val loss after {_epochs(plan.epochs(plan.total))} (best framed)"
    ctx.result.figure("heatmap", title, file="heatmap.png", rows=rows, title=title)
