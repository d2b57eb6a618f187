"""One adapter from a framework's live objects to a dlcheck Target, for the Lightning and Hugging
Face callbacks and their CLI entry points (``--lightning``, ``--hf-trainer``): the optimizer the
framework built becomes an optimizer factory, and one call runs the checks and reports."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from dlcheck.errors import UserError

#: param-group keys that describe a group's state, not a constructor argument
_STATE_KEYS = ("params", "initial_lr", "lr")


def base_lr(group: dict) -> float:
    """A param group's LR before any scheduler scaled it (a warm-up starts it at 0)."""
    value = group.get("initial_lr", group["lr"])
    return float(value.item() if hasattr(value, "item") else value)


def optimizer_factory(opt, module) -> tuple[Callable, float]:
    """``(factory(params, lr), lr)`` building the same optimizer as ``opt`` (class, hyper-parameters,
    param groups with their LR ratios when ``params`` are ``module``'s in order), at ``lr``."""
    opt = getattr(opt, "optimizer", opt)  # accelerate's AcceleratedOptimizer, Lightning's wrapper
    cls, lr0 = type(opt), max(base_lr(g) for g in opt.param_groups)
    defaults = {k: v for k, v in opt.defaults.items() if k not in _STATE_KEYS}
    order = {id(p): i for i, p in enumerate(module.parameters())}
    groups = [([order.get(id(p)) for p in g["params"]], base_lr(g) / lr0,
               {k: v for k, v in g.items() if k not in _STATE_KEYS}) for g in opt.param_groups]
    accepted = set(inspect.signature(cls.__init__).parameters)
    keep = (lambda kw: {k: v for k, v in kw.items() if k in accepted}) if "kwargs" not in accepted else dict

    def factory(params, lr):
        params = list(params)
        if len(params) == len(order) and all(i is not None for idx, _, _ in groups for i in idx):
            return cls([{**keep(kw), "params": [params[i] for i in idx], "lr": lr * ratio}
                        for idx, ratio, kw in groups], **keep({**defaults, "lr": lr}))
        return cls(params, **keep({**defaults, "lr": lr}))

    factory.__qualname__ = f"{cls.__name__} (as configured)"
    return factory, lr0


def build_target(model, train_loader, *, val_loader=None, optimizer=None, module=None,
                 training_step: Callable | None = None, source: str, origin: dict[str, str],
                 framework: dict | None = None):
    """The Target for live objects: ``optimizer`` an Optimizer built on ``module``'s parameters (or
    None: dlcheck's Adam), ``model`` an nn.Module or a factory. ``framework``: whose checkpointing
    ``dlcheck resume`` exercises ({"kind": "lightning"}, or {"kind": "hf", "trainer": factory of a
    fresh Trainer}), kept as ``target.framework``."""
    from dlcheck.target import Target, check_target

    lr = None
    if optimizer is not None:
        optimizer, lr = optimizer_factory(optimizer, module if module is not None else model)
    if train_loader is None:
        raise UserError(f"{source} has no train dataloader for dlcheck to read")
    target = check_target(Target(model=model, train_loader=train_loader, val_loader=val_loader,
                                 optimizer=optimizer, lr=lr, training_step=training_step, source=source,
                                 origin=origin))
    target.framework = framework
    return target


def run_and_report(target, *, checks, device: str, seed: int, out: str | None, html: str | None,
                   quiet: bool):
    """Run ``checks`` on ``target`` (the caller's RNG and model handed back as found) and print
    the report; the HTML report written when asked. Returns the Report."""
    import dlcheck
    from dlcheck.render import console
    from dlcheck.render._write import write_reports

    report = dlcheck.run(target, checks=checks, device=device, seed=seed, out=out)
    if html:
        write_reports(report, html=html)
    if not quiet:
        console.print_report(report)
    return report


def failed(report) -> bool:
    """A check failed or could not run (exit code 1 or 2): what ``stop_on_fail`` stops on."""
    return report.exit_code(False) != 0


def first_loader(loaders: Any):
    """A loader, or the first of a list/tuple/dict of them (Lightning's several val loaders)."""
    if isinstance(loaders, dict):
        loaders = list(loaders.values())
    if isinstance(loaders, (list, tuple)):
        return loaders[0] if loaders else None
    return loaders


def policy_of(policy: str) -> str:
    if policy not in ("warn", "stop_on_fail"):
        raise ValueError(f"policy must be 'warn' or 'stop_on_fail', not {policy!r}")
    return policy
