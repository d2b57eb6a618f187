"""Verified fixes (``--verify-fixes``): apply a finding's catalogued fix to a fresh copy of the
set-up in memory, re-run the check that raised it, and record before → after.

The catalogue lives next to the rules it answers: a check module may have ``FIXES``, a dict
``{code: fix}`` (registry.py's docstring). A fix is a small named function

    fix(given: Given) -> Applied | None

that returns the fixed set-up — a new :class:`~dlcheck.target.Target` whose model factory or
loader wraps the user's (a model object is deep-copied first; the user's files, objects and
loaders are never changed) — and the line a user pastes, or None when the fix does not apply to
this set-up. ``verify`` runs the check on the fixed set-up and writes the outcome on the finding
(``finding.fix``); a fix that did not remove the finding, that left the check's status no
better while raising a new warn/fail finding, or that made it worse, is reported as tried and not
verified. A fix that removed the finding and made the check's status better is verified even when
the re-run says something new (a different, true finding the old one hid, such as "not converged
yet" once frozen layers train): the new findings are stated with it.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from dlcheck.results import STATUS_ORDER

#: Findings of these severities get their catalogued fix tried.
FIXABLE = ("warn", "fail")


@dataclass
class Given:
    """What a fix works from: the user's set-up, the finding, the check's result before, and a
    Context on the user's set-up (``ctx.model()``, ``ctx.batches``, ``ctx.loss``) to measure with."""

    target: Any
    finding: Any
    result: Any
    ctx: Any


@dataclass
class Applied:
    """A fix made: the fixed set-up (a fresh copy) and the line a user pastes."""

    target: Any
    line: str


def catalogue() -> dict[str, tuple[str, Callable]]:
    """``{code: (check, fix)}`` over every check module that has ``FIXES`` (imports them)."""
    from dlcheck import registry

    out = {}
    for name in registry.available():
        for code, fix in getattr(registry.load(name), "FIXES", {}).items():
            out[code] = (name, fix)
    return out


def describe(fix: Callable) -> str:
    """A fix's name and its first docstring line: ``scale_final_layer: ...``."""
    doc = " ".join((fix.__doc__ or "").strip().split("\n\n")[0].split())
    return fix.__name__ + (f": {doc}" if doc else "")


def fix_for(code: str) -> str:
    """`dlcheck explain`'s words on the fix the catalogue has for ``code`` ('' when none): only the
    check that owns the code is imported, not the whole catalogue."""
    from dlcheck import registry
    from dlcheck.codes import CODES

    check = CODES[code].check if code in CODES else None
    if check not in registry.REGISTRY:  # general codes ("*"): no check, no fix
        return ""
    fix = getattr(registry.load(check), "FIXES", {}).get(code)
    return "" if fix is None else f"\nVerified fix: {describe(fix)} (tried by --verify-fixes)"


def fix_text(fix: dict | None) -> tuple[str, str]:
    """``(text, style)`` of a finding's --verify-fixes outcome for the console ('' without one)."""
    return ("", "") if fix is None else (fix_line(fix), "green" if fix["verified"] else "yellow")


# -- the fixed copies ---------------------------------------------------------------------------
def with_model(target, change: Callable) -> Any:
    """``target`` with its model changed by ``change(model) -> model``: a factory is wrapped (the
    change runs on each fresh build), a model object is deep-copied first."""
    from torch import nn

    spec = target.model
    if isinstance(spec, nn.Module):
        model = change(copy.deepcopy(spec))
    else:
        def model():
            return change(spec())
    return dataclasses.replace(target, model=model, origin=dict(target.origin))


def with_loader(target, change: Callable, name: str = "train_loader") -> Any:
    """``target`` with a loader changed by ``change(loader) -> new loader`` (a factory wrapped)."""
    spec = getattr(target, name)
    if spec is not None and callable(spec) and not hasattr(spec, "__iter__"):
        def loader():
            return change(spec())
    else:
        loader = change(spec)
    return dataclasses.replace(target, origin=dict(target.origin), **{name: loader})


def with_optimizer(target, change: Callable | None = None, lr: float | None = None) -> Any:
    """``target`` with its optimizer changed: each optimizer its factory builds (Adam when it names
    none) passes through ``change(optimizer, lr) -> optimizer`` (``lr``: the one it was handed), and
    the set-up's ``lr`` becomes ``lr`` when given. The user's factory is wrapped, never changed."""
    from dlcheck import optimizers

    factory, where = target.optimizer, target.where("optimizer")

    def optimizer(params, lr):
        opt = optimizers.build(factory, params, lr, where)
        return opt if change is None else change(opt, lr)

    return dataclasses.replace(target, optimizer=optimizer, origin=dict(target.origin),
                               lr=target.lr if lr is None else float(lr))


def rebuild_loader(loader, *, shuffle: bool | None = None, collate: Callable | None = None, seed: int = 0):
    """A new DataLoader over the same dataset with the same batches' settings, shuffled when
    ``shuffle`` and with ``collate(batch)`` applied after its own collate; None when ``loader`` is
    not a map-style DataLoader with plain batching (the fix then does not apply)."""
    import torch
    from torch.utils.data import BatchSampler, DataLoader, IterableDataset, RandomSampler, SequentialSampler
    from torch.utils.data.distributed import DistributedSampler

    if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset) \
            or loader.batch_size is None or type(loader.batch_sampler) is not BatchSampler:
        return None
    kwargs = dict(batch_size=loader.batch_size, drop_last=loader.drop_last, num_workers=loader.num_workers,
                  collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, timeout=loader.timeout,
                  worker_init_fn=loader.worker_init_fn, generator=loader.generator)
    if shuffle and isinstance(loader.sampler, DistributedSampler):  # each rank's shard, now shuffled
        old = loader.sampler
        kwargs["sampler"] = DistributedSampler(loader.dataset, num_replicas=old.num_replicas, rank=old.rank,
                                               shuffle=True, seed=old.seed, drop_last=old.drop_last)
    elif shuffle:
        kwargs.update(shuffle=True, generator=loader.generator or torch.Generator().manual_seed(seed))
    elif type(loader.sampler) in (RandomSampler, SequentialSampler):
        kwargs["shuffle"] = isinstance(loader.sampler, RandomSampler)
    else:
        kwargs["sampler"] = loader.sampler
    if collate is not None:
        kwargs["collate_fn"] = _Then(loader.collate_fn, collate)
    return DataLoader(loader.dataset, **kwargs)


@dataclass
class _Then:
    """``second(first(items))``: a collate function with a step after it (picklable for workers)."""

    first: Callable
    second: Callable

    def __call__(self, items):
        return self.second(self.first(items))


def attribute_path(name: str, root: str = "model") -> str:
    """``model.blocks[2].fc`` for the module name ``blocks.2.fc``."""
    return root + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in name.split(".") if p)


# -- the same choice on every rank (torchrun) ---------------------------------------------------
def summed(values):
    """A fix's measured sums (a 1-d tensor) summed over the ranks under torchrun, in float64 on the
    CPU and exactly the same on every rank; the tensor itself on one process."""
    from dlcheck import distributed

    if not distributed.active():
        return values
    import torch

    flat = values.detach().double().cpu().reshape(-1)
    return torch.tensor(distributed.reduce_floats(flat.tolist(), ["sum"] * flat.numel()), dtype=torch.float64)


def first_rank(value: float | None) -> float | None:
    """Rank 0's ``value`` on every rank under torchrun (the choice is made once); ``value`` itself
    on one process. None stays None."""
    import math

    from dlcheck import distributed

    if not distributed.active():
        return value
    chosen = distributed.gather_floats([math.nan if value is None else float(value)])[0][0]
    return None if math.isnan(chosen) else chosen


# -- verifying ----------------------------------------------------------------------------------
def verify(report, settings, target, device, modules: dict, state) -> None:
    """Try the catalogued fix of every warn/fail finding of ``report`` and record the outcome on
    the finding (``finding.fix``). Nothing is tried for a healthy set-up (no such finding)."""
    for result in report.checks:
        module, check_settings = modules.get(result.name, (None, None))
        fixes = getattr(module, "FIXES", {}) if module is not None else {}
        for finding in result.findings:
            if finding.severity in FIXABLE and finding.code in fixes:
                finding.fix = _try(fixes[finding.code], result, finding, module, check_settings,
                                   settings, target, device, state)


def _try(fix, result, finding, module, check_settings, settings, target, device, state) -> dict:
    """Apply ``fix``, re-run the check on the fixed copy, and say what changed. Under torchrun every
    rank tries the same fix on its own copy and the ranks agree at each step (``_agreed``): the
    fix's choice (its pasteable line) must be the same on every rank, else it is not tried."""
    from dlcheck import distributed
    from dlcheck.context import Context
    from dlcheck.device import seed_everything
    from dlcheck.errors import describe_exception
    from dlcheck.runner import run_check
    from dlcheck.runstate import RunState, preflight
    from dlcheck.state import preserve_rng

    out = {"name": fix.__name__, "code": finding.code, "applied": None, "before": finding.message,
           "after": None, "status_before": result.status, "status_after": None, "new_findings": [],
           "verified": False}
    quiet = dataclasses.replace(settings, out=None, quiet=True)
    ctx = Context(result.name, target, device, settings.seed, check_settings, lr=settings.lr,
                  input_key=settings.input_key, target_key=settings.target_key,
                  state=RunState(task=state.task, keywords=state.keywords, said=set(state.said)))
    ctx.wraps = False  # under torchrun a fix reads the model's own module names, never DDP's
    try:
        with preserve_rng():
            if distributed.active():  # a model object's change draws the same numbers on every rank
                seed_everything(settings.seed)
            applied = fix(Given(target=target, finding=finding, result=result, ctx=ctx))
        mine = ("none", "") if applied is None else ("applied", applied.line)
    except Exception as exc:  # a fix that breaks the set-up is no fix
        mine = ("raised", f"the fixed set-up raised {describe_exception(exc)}")
    trouble = _agreed(mine, "the fix's choice")
    if trouble or mine[0] != "applied":
        out["after"] = trouble or (mine[1] if mine[0] == "raised" else "the fix does not apply to this set-up")
        return out
    out["applied"] = applied.line
    try:
        fixed_state = preflight(applied.target, device, quiet)
        fixed_state.said = set(state.said)  # torchrun's set-up findings are said once per run
        mine = ("ok", "")
    except Exception as exc:
        mine = ("raised", f"the fixed set-up raised {describe_exception(exc)}")
    trouble = _agreed(mine, "the fixed set-up")
    if trouble or mine[0] != "ok":
        out["after"] = trouble or mine[1]
        return out
    after = run_check(result.name, module, check_settings, applied.target, device, quiet, fixed_state)
    session = distributed.session()
    if distributed.active():  # an error on any rank is an error on every rank (DLC010)
        from dlcheck.runner import _agree_check

        _agree_check(session, f"{result.name} after {fix.__name__}", after)
    return _compare(out, result, finding, after)


def _agreed(mine: tuple[str, str], what: str) -> str | None:
    """Under torchrun, every rank's ``(outcome, text)`` of one step of a fix compared: None when
    they are the same on every rank (always, on one process); else the one line that says why
    the fix was not tried, the same on every rank."""
    from dlcheck import distributed

    if not distributed.active():
        return None
    import torch.distributed as dist

    every = [None] * distributed.world_size()
    dist.all_gather_object(every, mine)
    if all(tuple(o) == tuple(mine) for o in every):
        return None
    raised = [(r, o[1]) for r, o in enumerate(every) if o[0] == "raised"]
    if raised:
        return f"rank {raised[0][0]}: {raised[0][1]}"
    shown = "; ".join(f"rank {r}: {o[1] or o[0]}" for r, o in enumerate(every))
    return f"not tried under torchrun: the ranks disagree on {what} ({shown})"


def _compare(out: dict, before, finding, after) -> dict:
    """Fill ``out`` from the check's result after the fix."""
    same = [f for f in after.findings if f.code == finding.code and f.severity in FIXABLE]
    known = {f.code for f in before.findings}
    new = [f for f in after.findings if f.code not in known and f.severity in FIXABLE + ("error",)]
    out["after"] = same[0].message if same else "gone"
    out["status_after"] = after.status
    out["new_findings"] = [f"{f.code} {f.severity}: {f.message}" for f in new]
    change = STATUS_ORDER.index(after.status) - STATUS_ORDER.index(before.status)
    out["verified"] = not same and (change < 0 or (change == 0 and not new))
    return out



def fix_line(fix: dict) -> str:
    """A finding's --verify-fixes outcome in a line or two (dlcheck.fixes)."""
    if fix["applied"] is None:
        return f"\n✗ fix {fix['name']}: {fix['after']}"
    new = f"; new: {'; '.join(fix['new_findings'])}" if fix["new_findings"] else ""
    if fix["verified"]:
        return (f"\n✓ verified fix: {fix['applied']}\n  {fix['status_before']} → {fix['status_after']}: "
                f"the finding is gone{new}")
    after = "the finding is gone" if fix["after"] == "gone" else f"still: {fix['after']}"
    return f"\n✗ tried {fix['applied']}: not a fix ({fix['status_before']} → {fix['status_after']}; {after}{new})"
