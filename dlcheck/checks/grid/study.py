"""grid's Optuna study and the claim protocol: a study with a grid sampler over the cells in an
optional storage (resumable, shared by several workers), heartbeats of the running trial, and the
claim that makes sure no cell runs twice (see the package's docstring)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import threading
import time
from contextlib import contextmanager

from dlcheck.checks.grid.trials import Cell, Outcome, Plan, TrialRunner
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.training import Rewind, evaluate, progress


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


def search(ctx: Context, cells: list[Cell], plan: Plan, axes: dict, rewind: Rewind):
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
            trainer_ctx = TrialRunner(ctx, model, initial_state, rewind, plan, start)
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
    return _outcomes(cells, taken, local), start, start.refs, run_here


def _outcomes(cells: list[Cell], taken: dict, local: dict) -> dict:
    """Every cell's outcome: its first finished trial in the storage, else this worker's trial cut
    by the budget, else running elsewhere or not run."""
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
    return outcomes
