"""resume's measuring: run A trains k steps from the seeded init, saves a checkpoint and trains m
more; run B builds a fresh model and optimizer (under another seed, as a new process would), loads
the checkpoint and trains m steps on exactly A's batches (the state part). The data part rebuilds
the loader with the user's factory, positioned as a plain resume positions it (from its start, the
RNG as it was at step k), and compares its batches with A's by hash. Everything lands in
:class:`Measured`; the checkpoint lives in a temporary directory that is removed."""

from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.device import seed_everything
from dlcheck.errors import UserError, describe_exception
from dlcheck.training import Trainer

from . import checkpoint as ck


@dataclass
class Measured:
    """What resume measured; the rules read only this."""

    own: bool = False  # the target's own save_checkpoint/load_checkpoint were exercised
    fresh: str = "factory"  # how B's model was made: "factory" or "copy" (a model object)
    k: int = 0  # steps before the checkpoint
    m: int = 0  # steps compared after it
    epoch: int | None = None  # batches per epoch (None: unknown)
    at_epoch_end: bool = False
    exact: bool = True  # CPU: compared exactly; else within rtol
    rtol: float = 0.0
    load_error: str | None = None
    #: tensors that differ right after loading: (name, kind, in the state_dict)
    not_restored: list[tuple[str, str, bool]] = field(default_factory=list)
    #: tensors that differ right after loading but equal A's after the first resumed step: the step
    #: rewrites them from its inputs (a cache such as the last attention map), so they carry nothing
    rewritten: list[tuple[str, str, bool]] = field(default_factory=list)
    rng_restored: bool = True  # B's torch RNG after loading equals A's at the checkpoint
    uses_rng: bool = False  # A's steps after the checkpoint draw from the torch RNG (dropout)
    losses: tuple[list[float], list[float]] = ((), ())
    lrs: tuple[list, list] = ((), ())
    first: dict | None = None  # the first step that differs: {"step", "loss", "grads", "lr", "params"}
    has_scheduler: bool = False
    fresh_process: bool = False  # run B (and the rebuilt loader) ran in a new Python process
    # the data part
    rebuilt: bool = False  # the loader came from a factory, rebuilt for B
    data_state: str | None = None  # the default checkpoint saved this holder's state: "loader", "sampler"...
    continues: bool = True  # B's batches are A's batches after k
    repeats_start: bool = False  # B's batches are the first batches of A's run
    epoch_differs: bool = False  # A's second epoch is ordered otherwise than its first
    skipped: str | None = None
    framework: str | None = None  # the framework's checkpointing exercised (frameworks.py), e.g. Lightning's
    framework_kind: str | None = None  # "lightning" or "hf"


def measure(ctx) -> Measured:
    s = ctx.settings
    m = Measured(own=ctx.target.save_checkpoint is not None and ctx.target.load_checkpoint is not None,
                 m=int(s["resume_steps"]), has_scheduler=ctx.target.scheduler is not None,
                 exact=ctx.device.type == "cpu", fresh_process=bool(s.get("fresh_process")))
    m.rtol = 0.0 if m.exact else float(s["cuda_rtol"])
    loader = ctx.loader()
    m.epoch = epoch_length(loader)
    m.at_epoch_end = m.epoch is not None and m.epoch <= int(s["epoch_steps"])
    m.k = m.epoch if m.at_epoch_end else int(s["steps"])
    if m.epoch is not None and not m.at_epoch_end:
        m.k = min(m.k, max(m.epoch - 1, 1))
    seed_everything(ctx.seed)
    batches, hashes, rng_k, data = _read(ctx, m.k + m.m, m.k)
    if len(batches) < m.k + m.m:
        m.skipped = f"the loader yields {len(batches)} batches, fewer than the {m.k + m.m} the check trains on"
        return m
    spec = ctx.target.train_loader
    m.rebuilt = callable(spec) and not hasattr(spec, "__iter__")
    m.data_state = None if m.own or data is None else data["holder"]
    with tempfile.TemporaryDirectory(prefix="dlcheck-resume-") as tmp:
        path = os.path.join(tmp, "checkpoint.pt")
        got = _state_part(ctx, m, batches, path, None if m.own else data, rng_k)
        if got is None:  # in this process: the data part reads the loader rebuilt here
            got = data_hashes(ctx, rng_k, m.m, path if m.data_state else None)
    if isinstance(got, str):  # the saved data state could not be restored
        m.load_error = m.load_error or got
    else:
        _judge_data(m, hashes, got)
    return m


def epoch_length(loader) -> int | None:
    """Batches per epoch, None when unknown: no ``len()``, or a DataLoader over an IterableDataset
    (it has ``__len__`` but raises TypeError when its dataset has none)."""
    try:
        return len(loader)
    except TypeError:
        return None


def data_hashes(ctx, rng_k, n: int, checkpoint: str | None) -> list[str] | str:
    """:func:`rebuilt_hashes`, or the message when the saved data state could not be restored."""
    try:
        return rebuilt_hashes(ctx, rng_k, n, checkpoint)
    except ck.CheckpointError as exc:
        return str(exc)


def _read(ctx, n: int, k: int):
    """A's batches (on the device), their hashes, and the RNG and data state after k were read."""
    batches, hashes, rng_k, data = [], [], None, None
    for i, (_, batch) in enumerate(ctx.stream(n)):
        batches.append(batch)
        hashes.append(ck.batch_hash(batch))
        if i == k - 1:
            rng_k, data = ck.rng_state(), ck.data_state(ctx.loader())
    return batches, hashes, rng_k, data


def rebuilt_hashes(ctx, rng_k, n: int, checkpoint: str | None) -> list[str]:
    """The first ``n`` batch hashes of the loader rebuilt as a resume rebuilds it: the RNG restored
    to step k, and the loader's or sampler's state loaded from ``checkpoint`` when it saved one."""
    spec = ctx.target.train_loader
    saved = ck.rng_state()
    got = []
    try:
        ck.set_rng_state(rng_k)
        rebuilt = _rebuild(ctx, spec) if callable(spec) and not hasattr(spec, "__iter__") else ctx.loader()
        data = ck.saved_data(checkpoint) if checkpoint else None
        if data is not None:
            ck.restore_data(rebuilt, data)
        for batch in rebuilt:
            got.append(ck.batch_hash(batch))
            if len(got) == n:
                break
    finally:
        ck.set_rng_state(saved)
    return got


def _judge_data(m: Measured, hashes: list[str], got: list[str]) -> None:
    after = hashes[m.k:m.k + m.m]
    m.continues = got == after
    start = (m.k // m.epoch) * m.epoch if m.at_epoch_end else 0
    m.repeats_start = got == hashes[:m.m] and not m.continues
    m.epoch_differs = m.at_epoch_end and hashes[:m.m] != hashes[start:start + m.m]


def _rebuild(ctx, spec):
    try:
        return spec()
    except Exception as exc:
        raise UserError(f"loader factory {ctx.target.where('train_loader')} raised {describe_exception(exc)}") from exc


def _state_part(ctx, m: Measured, batches: list, path: str, data, rng_read) -> list[str] | None:
    """Run A, the checkpoint, and run B (here, or in a fresh process: then the rebuilt loader's
    hashes come back with it)."""
    with ctx.model() as model:
        fresh = None if not isinstance(ctx.target.model, nn.Module) else copy.deepcopy(model)
        m.fresh = "factory" if fresh is None else "copy"
        opt, sched = _optimizer(ctx, model)
        trainer = Trainer(ctx, model, opt)
        for i in range(m.k):
            _step(trainer, sched, batches[i])
        try:
            ck.save(ctx.target, path, model, opt, sched, data)
        except ck.CheckpointError as exc:
            m.load_error = str(exc)
            return None
        at_k, rng_k = ck.snapshot(model), torch.get_rng_state()
        run_a = _record(trainer, sched, batches[m.k:], m, rng_k)
        if m.fresh_process:
            from .process import resume_elsewhere

            b = resume_elsewhere(ctx, m, path, batches[m.k:], at_k, rng_k, rng_read)
            m.fresh = b["fresh"]
        else:
            b = resumed(ctx, path, batches[m.k:], at_k, rng_k, m.exact, m.rtol, fresh)
    m.load_error = b["load_error"]
    if m.load_error is None:
        m.rng_restored = b["rng_restored"]
        for t in b["not_restored"]:  # a tensor each forward overwrites (a cache) carries nothing across
            (m.rewritten if _rewritten(t[0], run_a, b["run"], m) else m.not_restored).append(tuple(t))
        m.losses = (run_a["loss"], b["run"]["loss"])
        m.lrs = (run_a["lr"], b["run"]["lr"])
        m.first = _first(run_a, b["run"], m)
    return b.get("got")


def resumed(ctx, path: str, batches: list, at_k: dict, rng_k, exact: bool, rtol: float, copied=None) -> dict:
    """Run B: a fresh model and optimizer, the checkpoint loaded, ``batches`` trained; what was
    not restored right after loading, and B's record (``_record``)."""
    model_b = _fresh(ctx, copied)
    opt_b, sched_b = _optimizer(ctx, model_b)
    try:
        ck.load(ctx.target, path, model_b, opt_b, sched_b, ctx.device)
    except ck.CheckpointError as exc:
        return {"load_error": str(exc)}
    kept = set(model_b.state_dict().keys())
    kinds = ck.held_tensors(model_b)
    not_restored = [(n, kinds[n][0], n in kept) for n in ck.differing(at_k, model_b, exact, rtol)]
    rng_restored = torch.equal(torch.get_rng_state(), rng_k)
    run = _record(Trainer(ctx, model_b, opt_b), sched_b, batches, None, None)
    return {"load_error": None, "not_restored": not_restored, "rng_restored": rng_restored, "run": run}


def _optimizer(ctx, model):
    opt = ctx.optimizer(model.parameters())
    if ctx.target.scheduler is None:
        return opt, None
    try:
        return opt, ctx.target.scheduler(opt)
    except Exception as exc:
        raise UserError(f"scheduler factory {ctx.target.where('scheduler')} raised {describe_exception(exc)}") from exc


def _fresh(ctx, copied):
    """B's model: the factory's, built under another seed (as a new process would), or the copy
    of the model object taken at the seeded init."""
    if copied is not None:
        return copied.to(ctx.device)
    seed_everything(ctx.seed + 1)
    model = ctx.target.model()
    if not isinstance(model, nn.Module):
        raise UserError(f"model factory {ctx.target.where('model')} returned a {type(model).__name__}")
    return model.to(ctx.device)


def _step(trainer, sched, batch):
    """One training step, then the scheduler's: a scheduler whose step takes the metric it watches
    (ReduceLROnPlateau) is given the step's training loss."""
    out = trainer.step(batch)
    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        sched.step(float(out.loss))
    elif sched is not None:
        sched.step()
    return out


def _record(trainer, sched, batches, m: Measured | None, rng_k) -> dict:
    """Per step: the loss, the LRs, the gradients' and the parameters' fingerprints."""
    run = {"loss": [], "lr": [], "grads": [], "params": []}
    params = [p for g in trainer.optimizer.param_groups for p in g["params"]]

    def before_step(optimizer, args, kwargs):
        run["lr"].append([g.get("lr") for g in optimizer.param_groups])
        run["grads"].append(ck.fingerprint(p.grad if p.grad is not None else torch.zeros(()) for p in params))

    hook = getattr(trainer.optimizer, "register_step_pre_hook", None)  # not on every custom optimizer
    handle = hook(before_step) if hook is not None else None
    try:
        for i, batch in enumerate(batches):
            out = _step(trainer, sched, batch)
            run["loss"].append(float(out.loss))
            run["params"].append(ck.fingerprint(params))
            if i == 0:
                run["held1"] = {n: ck.fingerprint([t])[0] for n, (_, t) in ck.held_tensors(trainer.model).items()}
            if m is not None and i == 0:
                m.uses_rng = not torch.equal(torch.get_rng_state(), rng_k)
    finally:
        if handle is not None:
            handle.remove()
    return run


def _rewritten(name: str, a: dict, b: dict, m: Measured) -> bool:
    """The tensor ``name`` is the same in A and B after the first resumed step."""
    x, y = a.get("held1", {}).get(name), b.get("held1", {}).get(name)
    return x is not None and y is not None and ck.same_prints([x], [y], m.exact, m.rtol)


def _first(a: dict, b: dict, m: Measured) -> dict | None:
    """The first step after the checkpoint where B differs from A, and what differs there."""
    for i in range(min(len(a["loss"]), len(b["loss"]))):
        seen = i < len(a["lr"]) and i < len(b["lr"])  # the optimizer's pre-step hook ran
        diff = {"loss": not _close(a["loss"][i], b["loss"][i], m),
                "lr": a["lr"][i] != b["lr"][i] if seen else False,
                "grads": not ck.same_prints(a["grads"][i], b["grads"][i], m.exact, m.rtol) if seen else False,
                "params": not ck.same_prints(a["params"][i], b["params"][i], m.exact, m.rtol)}
        if any(diff.values()):
            return {"step": m.k + i, **diff, "seen": seen, "loss_a": a["loss"][i], "loss_b": b["loss"][i],
                    "lr_a": a["lr"][i] if i < len(a["lr"]) else None,
                    "lr_b": b["lr"][i] if i < len(b["lr"]) else None}
    return None


def _close(x: float, y: float, m: Measured) -> bool:
    return x == y if m.exact else abs(x - y) <= m.rtol * max(abs(x), abs(y), 1e-12)
