"""Run checks: load the target once, give each check a fresh context, turn crashes into
``error`` results so the other checks still run, and collect one Report."""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from dlcheck import checks as registry
from dlcheck.config import Settings, check_settings_for
from dlcheck.errors import SetupFailure, UserError, describe_exception
from dlcheck.results import CheckResult, Report, rounded


def validate_outputs(settings: Settings) -> None:
    """Fail before any work when an output path cannot be written (nothing written half-way)."""
    for option, value in (("--json", settings.json), ("--junit", settings.junit),
                          ("--markdown", settings.markdown)):
        if not value or value == "-":
            continue
        path = Path(value)
        if path.is_dir():
            raise UserError(f"{option} {value} is a directory, not a file")
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UserError(f"{option} {value} cannot be written: folder '{parent}' does not exist")
        if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise UserError(f"{option} {value} cannot be written: permission denied")
    if settings.out:
        out = Path(settings.out)
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {settings.out} is a file, not a folder")
        probe = out
        while not probe.exists():
            probe = probe.parent
        if not probe.is_dir() or not os.access(probe, os.W_OK):
            raise UserError(f"--out {settings.out} cannot be written: permission denied at '{probe}'")


def prepare(settings: Settings, names: list[str]):
    """Everything that can fail on bad input, before any check runs: device, outputs, target,
    check modules and their settings."""
    from dlcheck.device import resolve_device
    from dlcheck.target import Target, load_target

    device = resolve_device(settings.device)
    validate_outputs(settings)
    if isinstance(settings.target, Target):  # the Python API hands objects over directly
        target = settings.target
    else:
        target = load_target(settings.target, model=settings.model, data=settings.data,
                             val_data=settings.val_data, loss=settings.loss, base_dir=settings.base_dir)
    modules = {}
    for name in names:
        module = registry.load(name)
        modules[name] = (module, check_settings_for(settings, name, module.SETTINGS))
    preflight(target, device, settings)
    return device, target, modules


def preflight(target, device, settings: Settings) -> None:
    """Build the model once and read the first batch, so that a factory that raises, an empty
    loader or batches of the wrong shape stop the run before anything is written."""
    from dlcheck.context import Context
    from dlcheck.state import preserve_rng, rng_state

    ctx = Context("preflight", target, device, settings.seed, {}, input_key=settings.input_key,
                  target_key=settings.target_key)
    from torch import nn

    with preserve_rng():
        model = target.model
        if not isinstance(target.model, nn.Module):  # a factory (or a class): a model object needs no build
            model = ctx.build_model()  # kept for the first check (never trained)
            target.prebuilt = (settings.seed, model, rng_state())
        batch = ctx.raw_batches(1)[0]  # the structure of each batch is checked by the checks that use it
        target.inferred = infer_task(ctx, model, batch, settings)


def infer_task(ctx, model, batch, settings: Settings):
    """The run's task, from one forward of the first batch in training mode (no gradient; the
    model handed back exactly, its running statistics too). When the forward cannot run, the task
    is 'unknown' and the checks report the error themselves, each with its own context."""
    import torch

    from dlcheck import task as tasks
    from dlcheck.device import to_device
    from dlcheck.state import preserve_model

    target = ctx.target
    given = settings.task if settings.task is not None else target.task
    where = f"recipe '{settings.config}'" if settings.task is not None and settings.config else \
        ("the options" if settings.task is not None else target.where("task"))
    try:
        with preserve_model(model), torch.no_grad():
            model.to(ctx.device).train()
            raw, targets = ctx.forward(model, to_device(batch, ctx.device), 0)
            logits = ctx.logits(raw)
    except UserError as exc:
        if given is not None:
            tasks.infer(target.loss_fn, None, None, given=given, given_where=where)  # validates the name
        return tasks.Task(kind="unknown", loss=tasks.loss_name(target.loss_fn),
                          note=f"the first batch could not be run: {exc.message}")
    except Exception as exc:  # the user's model raised: the checks say so, each in its own words
        return tasks.Task(kind="unknown", loss=tasks.loss_name(target.loss_fn),
                          note=f"the first batch could not be run: {describe_exception(exc)}")
    task = tasks.infer(target.loss_fn, logits, targets, given=given, given_where=where,
                       num_classes=target.num_classes)
    task.logits = tasks.logits_rule(raw)
    task.model_inputs = ctx.model_inputs_note(batch)
    refs = task.reference(ctx.loss_fn, logits, targets)
    task.references = {k: rounded(v) for k, v in vars(refs).items() if v is not None}
    return task


def run_check(name, module, check_settings, target, device, settings: Settings) -> CheckResult:
    """Run one check in isolation: seeded, RNG state restored, crash -> ``error`` result."""
    from dlcheck.context import Context
    from dlcheck.device import seed_everything, synchronize
    from dlcheck.state import preserve_rng

    ctx = Context(name, target, device, settings.seed, check_settings, out_dir=settings.out,
                  lr=settings.lr, amp=settings.amp, quiet=settings.quiet, budget=settings.budget,
                  input_key=settings.input_key, target_key=settings.target_key)
    start = time.perf_counter()
    with preserve_rng():
        seed_everything(settings.seed)
        try:
            result = module.run(ctx)
            synchronize(device)
        except SetupFailure as exc:  # a broken set-up is the check's verdict, not bad input
            result = ctx.result
            result.summary = exc.message
            result.add(exc.code, exc.message)
        except UserError as exc:
            result = ctx.result
            result.status = "error"
            result.summary = exc.message
            if not any(f.severity == "error" for f in result.findings):  # the check named it already
                result.findings.append(_error_finding("DLC001", exc.message))
            result.traceback = traceback.format_exc()
        except Exception as exc:  # a crash in user code or in dlcheck: report it, keep going
            result = ctx.result
            result.status = "error"
            result.summary = f"{name} raised {describe_exception(exc)}"
            result.findings.append(_error_finding("DLC002", result.summary))
            result.traceback = traceback.format_exc()
    result.seconds = time.perf_counter() - start
    if ctx.deadline is not None and ctx.out_of_time() and result.status != "error":
        result.add("DLC003", f"{name} ran past its {settings.budget:g} s budget and stopped early")
    return result.settle(frozenset(c.upper() for c in settings.ignore))


def _error_finding(code: str, message: str):
    from dlcheck.codes import CODES
    from dlcheck.results import Finding

    return Finding(code=code, severity="error", message=message, advice=CODES[code].fix)


def execute(settings: Settings, names: list[str]) -> Report:
    """Run ``names`` in recipe order and return the Report. Raises UserError before any check
    runs when the set-up itself is unusable."""
    import torch  # noqa: F401  (imported here, never at CLI start-up)

    for name in names:
        if name not in registry.REGISTRY:
            raise UserError(f"unknown check '{name}' (known: {', '.join(registry.REGISTRY)})")
    ordered = [n for n in registry.REGISTRY if n in names]
    device, target, modules = prepare(settings, ordered)
    source = target.source
    if settings.config and source not in ("<objects>", "<options>"):
        source = os.path.relpath(source) if os.path.isabs(source) else source
    report = Report(target=source, device=str(device), seed=settings.seed,
                    task=target.inferred.to_dict() if target.inferred is not None else None)
    for name in ordered:
        module, check_settings = modules[name]
        report.checks.append(run_check(name, module, check_settings, target, device, settings))
    matched = {code for c in report.checks for code in c.ignored}
    report.ignored_unmatched = sorted({c.upper() for c in settings.ignore} - matched)
    return report
