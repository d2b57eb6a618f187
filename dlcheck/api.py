"""The Python API, for test suites and notebooks: the same checks on objects in memory.

    import dlcheck
    result = dlcheck.check("overfit-small", model=make_model, train_loader=loader)
    assert result.ok, result.summary

    report = dlcheck.run(model=make_model, train_loader=loader, checks=["init-loss", "lr-find"])
    assert report.ok

Bad input raises :class:`dlcheck.errors.UserError` (one sentence naming what is wrong). The
caller's global RNG state (Python, NumPy, torch) is the same after a call as before it, also when
the call imports a target file. Ctrl-C raises :class:`dlcheck.errors.Interrupted` (a
KeyboardInterrupt) whose ``report`` holds the checks that finished; a ``SystemExit`` (the caller's
SIGTERM handler calling ``sys.exit``) is re-raised as it came. Either comes after the model object
was handed back as found.
"""

from __future__ import annotations

from typing import Any, Iterable

from dlcheck.config import Settings
from dlcheck.results import CheckResult, Report
from dlcheck.target import TARGET_NAMES


def _settings(target, parts: dict[str, Any], *, device: str, seed: int, out: str | None,
              settings: dict[str, dict[str, Any]] | None, ignore: Iterable[str], lr: float | None,
              amp: bool, budget: float | None, checks: list[str] | None, verify_fixes: bool = False) -> Settings:
    from dlcheck.target import Target, load_target

    from dlcheck.state import preserve_rng

    given = {k: v for k, v in parts.items() if v is not None}
    if target is not None and not isinstance(target, Target):
        with preserve_rng():  # importing the target may seed or draw: the caller's RNG stays put
            loaded = load_target(str(target))
        for name, value in given.items():
            setattr(loaded, name, value)
            loaded.origin[name] = f"'{name}' (passed to dlcheck)"
        target = loaded
    elif target is None:
        target = Target(model=given.pop("model", None), train_loader=given.pop("train_loader", None),
                        source="<objects>", origin={}, **given)
    missing = [n for n, required in TARGET_NAMES.items() if required and getattr(target, n) is None]
    if missing:
        from dlcheck.errors import UserError

        raise UserError(f"no '{missing[0]}' given: pass {missing[0]}=... or a target file")
    check_settings = {k: dict(v) for k, v in (settings or {}).items()}
    origins = {"seed": "seed=", "lr": "lr=", "budget": "budget="}
    origins.update({f"{check}.{key}": f"settings['{check}']['{key}']"
                    for check, values in check_settings.items() for key in values})
    return Settings(target=target, device=device, seed=seed, out=out, ignore=list(ignore), lr=lr,
                    amp=amp, budget=budget, checks=checks, quiet=True, check_settings=check_settings,
                    origins=origins, raise_exits=True, verify_fixes=verify_fixes)


def run(target=None, *, checks: list[str] | None = None, model=None, train_loader=None, val_loader=None,
        loss_fn=None, optimizer=None, lr: float | None = None, num_classes: int | None = None,
        forward=None, train_transform=None, task: str | None = None, mixes_samples: bool | None = None,
        causal: bool | None = None, device: str = "auto", seed: int = 0, out: str | None = None,
        settings: dict[str, dict[str, Any]] | None = None, ignore: Iterable[str] = (),
        amp: bool = False, budget: float | None = None, verify_fixes: bool = False, scheduler=None,
        save_checkpoint=None, load_checkpoint=None) -> Report:
    """Run ``checks`` (default: all) and return the Report. ``target`` may be a target file or
    module; keyword parts (``model=``, ``train_loader=`` ...) add to or replace its names.
    ``settings`` maps a check name to its thresholds, as in a recipe. ``verify_fixes``: try each
    warn/fail finding's catalogued fix on a copy of the set-up and re-run its check
    (``finding.fix``, dlcheck.fixes). ``scheduler`` (``scheduler(optimizer)``), ``save_checkpoint``
    and ``load_checkpoint`` (``fn(path, model, optimizer[, scheduler=...])``) are the target names
    resume reads; ``settings={"resume": {"fresh_process": True}}`` resumes in a new process."""
    from dlcheck import registry
    from dlcheck.runner import execute

    parts = dict(model=model, train_loader=train_loader, val_loader=val_loader, loss_fn=loss_fn,
                 optimizer=optimizer, num_classes=num_classes, forward=forward,
                 train_transform=train_transform, lr=lr, task=task, mixes_samples=mixes_samples, causal=causal,
                 scheduler=scheduler, save_checkpoint=save_checkpoint, load_checkpoint=load_checkpoint)
    s = _settings(target, parts, device=device, seed=seed, out=out, settings=settings, ignore=ignore,
                  lr=None, amp=amp, budget=budget, checks=checks, verify_fixes=verify_fixes)
    return execute(s, checks or registry.run_by_default())


def check(name: str, target=None, **kwargs) -> CheckResult:
    """Run one check and return its CheckResult (``result.ok``, ``result.summary``, ...)."""
    return run(target, checks=[name], **kwargs).checks[0]
