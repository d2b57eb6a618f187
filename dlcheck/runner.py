"""Run checks: load the target once, give each check a fresh context, turn crashes into
``error`` results so the other checks still run, and collect one Report."""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from dlcheck import registry
from dlcheck.config import Settings, check_settings_for, take_target_keys, validate
from dlcheck import errors
from dlcheck.errors import Interrupted, SetupFailure, Terminated, UserError, describe_exception
from dlcheck.results import CheckResult, Report
from dlcheck.runstate import preflight


REPORT_OPTIONS = (("--json", "json"), ("--junit", "junit"), ("--markdown", "markdown"), ("--html", "html"),
                  ("--sarif", "sarif"))


def validate_outputs(settings: Settings) -> None:
    """Fail before any work (before the target's import) when an output cannot be written, naming
    the option and the user's path: a report on an input file (the target, the recipe, a --model
    file) or on another report's path is refused; each report's temporary file is created beside
    it for real (and removed), and --out's deepest existing folder takes a file (nothing is
    created for it yet). /dev/stdout is '-' (standard output) from here on."""
    from dlcheck.render._write import STDOUT_PATHS, probe, probe_folder, refuse_clashes

    reports = []
    for option, key in REPORT_OPTIONS:
        value = getattr(settings, key, None)
        if value in STDOUT_PATHS:
            setattr(settings, key, value := "-")
        if value:
            reports.append((option, value))
    refuse_clashes(reports, input_files(settings))
    for option, value in reports:
        probe(value, option)
    if settings.out:
        probe_folder(settings.out)
    if getattr(settings, "tensorboard", None):
        from dlcheck.render import tensorboard

        if not tensorboard.available():
            raise UserError(tensorboard.MISSING)
        probe_folder(settings.tensorboard, "--tensorboard")


def input_files(settings: Settings) -> list[tuple[str, str]]:
    """``(label, path)`` of every file the run reads, found without importing anything: the
    recipe, the target and the --model/--data/--val-data/--loss files (a module name: its file
    under the working or recipe folder, when there is one)."""
    files = [("the recipe", settings.config)] if settings.config else []
    refs = [("the target", settings.target)] if isinstance(settings.target, str) else []
    for option, key in (("--model", "model"), ("--data", "data"), ("--val-data", "val_data"), ("--loss", "loss")):
        spec = getattr(settings, key, None)
        if isinstance(spec, str) and ":" in spec:
            refs.append((f"the {option} file", spec.rpartition(":")[0]))
    for label, ref in refs:
        files += [(label, str(path)) for path in _ref_files(ref, settings.base_dir)]
    return files


def _ref_files(ref: str, base_dir: str | None) -> list[Path]:
    """The files a target reference may name: ``x.py`` (against the recipe's folder), or a
    module ``pkg.setup`` as ``pkg/setup.py`` / ``pkg/setup/__init__.py`` here or there."""
    if ref.endswith(".py") or "/" in ref or os.sep in ref:
        path = Path(ref)
        return [Path(base_dir) / path if base_dir and not path.is_absolute() else path]
    folders = [Path.cwd()] + ([Path(base_dir)] if base_dir else [])
    stem = Path(*ref.split(".")) if ref.replace(".", "").replace("_", "").isalnum() else None
    if stem is None:
        return []
    return [f / p for f in folders for p in (stem.with_suffix(".py"), stem / "__init__.py")]


def prepare(settings: Settings, names: list[str], loaded=None):
    """Everything that can fail on bad input, before any check runs (after execute() has judged
    the numbers and the outputs): device, target, check modules and their settings, and the
    pre-flight, whose findings go into the run's state (``RunState``)."""

    from dlcheck.device import resolve_device
    from dlcheck.target import Target, check_target, load_target

    modules = {}  # every check's settings (counts, thresholds) judged before the target is imported
    for name in names:
        module = registry.load(name)
        modules[name] = (module, check_settings_for(settings, name, module.SETTINGS))
    device = resolve_device(settings.device)
    try:
        if isinstance(settings.target, Target):  # the Python API hands objects over directly
            target = check_target(settings.target)
        else:
            target = load_target(settings.target, model=settings.model, data=settings.data,
                                 val_data=settings.val_data, loss=settings.loss, base_dir=settings.base_dir)
        take_target_keys(settings, target)  # input_key/target_key: the flag or recipe key wins
        if loaded is not None:  # under torchrun: the process group, once the target is imported
            loaded(device)
        state = preflight(target, device, settings)
    except SystemExit as exc:  # the user's code called sys.exit() while dlcheck read the set-up
        if settings.raise_exits:  # the Python API: the caller's process is ending; let it
            raise
        raise UserError(f"{_exit_call(exc)} while dlcheck read the set-up (the model factory, the "
                        f"first batch or the target's import); no check ran") from None
    return device, target, modules, state


def _exit_call(exc: SystemExit) -> str:
    """``sys.exit(7) was called in forward (setup.py line 12)``: where the user's code exited."""
    tb, frame = exc.__traceback__, None
    while tb is not None:
        frame, tb = tb, tb.tb_next
    where = ""
    if frame is not None:
        code = frame.tb_frame.f_code
        where = f" in {code.co_name} ({Path(code.co_filename).name} line {frame.tb_lineno})"
    return f"sys.exit({exc.code!r}) was called{where}"


class _Stopped(Exception):
    """From run_check to execute: the check ended the run (SystemExit or Ctrl-C from inside it);
    ``result`` is its error result, ``cause`` the exception."""

    def __init__(self, result: CheckResult, cause: BaseException, removed: int = 0):
        super().__init__(result.summary)
        self.result, self.cause, self.removed = result, cause, removed


def run_check(name, module, check_settings, target, device, settings: Settings, state=None) -> CheckResult:
    """Run one check in isolation: seeded, RNG state restored, crash -> ``error`` result.
    SystemExit and KeyboardInterrupt (user code calling sys.exit, Ctrl-C) raise _Stopped, after
    the model and RNG are handed back and the check's artifacts removed."""
    from dlcheck.context import Context
    from dlcheck.device import seed_everything, synchronize
    from dlcheck.state import preserve_rng

    from dlcheck import artifacts, distributed

    main = distributed.is_main()  # under torchrun only rank 0 draws progress and writes artifacts
    ctx = Context(name, target, device, settings.seed, check_settings,
                  out_dir=settings.out if main else None, lr=settings.lr, amp=settings.amp,
                  quiet=settings.quiet or not main, budget=settings.budget,
                  input_key=settings.input_key, target_key=settings.target_key, state=state)
    start = time.perf_counter()
    stopped = None
    try:
        with preserve_rng():
            seed_everything(settings.seed)
            try:
                result = module.run(ctx)
                synchronize(device)
                artifacts.write(result, ctx.out_dir)  # the plots and tables it kept, under --out
            except SetupFailure as exc:  # a broken set-up is the check's verdict, not bad input
                result = ctx.result
                result.summary = exc.message
                result.add(exc.code, exc.message, getattr(exc, "advice", ""))
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
    except (SystemExit, KeyboardInterrupt) as exc:  # the model and RNG are back: end the run here
        stopped = exc
        result = ctx.result
        result.traceback = traceback.format_exc()
    result.seconds = time.perf_counter() - start
    if stopped is not None:
        removed = _remove_artifacts(result)
        result.status = "error"
        if isinstance(stopped, SystemExit):
            result.summary = f"{_exit_call(stopped)}; dlcheck stopped the run there"
        elif isinstance(stopped, Terminated):
            result.summary = f"interrupted by SIGTERM after {result.seconds:.1f} s"
        else:
            result.summary = f"interrupted (KeyboardInterrupt) after {result.seconds:.1f} s"
        result.findings.append(_error_finding("DLC002", result.summary))
        raise _Stopped(result, stopped, removed) from None
    if ctx.deadline is not None and ctx.out_of_time() and result.status != "error":
        result.add("DLC003", f"{name} ran past its {settings.budget:g} s budget and stopped early")
    return result.settle(frozenset(c.upper() for c in settings.ignore))


def _remove_artifacts(result: CheckResult) -> int:
    """An interrupted check's artifacts are removed (a CSV without its plot is no result); how
    many files there were."""
    removed = 0
    for path in result.artifacts:
        try:
            if Path(path).is_file():
                Path(path).unlink()
                removed += 1
        except OSError:
            pass
    result.artifacts = []
    return removed


def _error_finding(code: str, message: str):
    from dlcheck.codes import CODES
    from dlcheck.results import Finding

    return Finding(code=code, severity="error", message=message, advice=CODES[code].fix)


def execute(settings: Settings, names: list[str]) -> Report:
    """Run ``names`` in recipe order and return the Report. Raises UserError before any check
    runs when the set-up itself is unusable."""
    validate(settings)  # numbers and outputs first: a bad flag costs no torch import
    validate_outputs(settings)
    import torch  # noqa: F401  (imported here, never at CLI start-up)

    for name in names:
        if name not in registry.REGISTRY:
            raise UserError(f"unknown check '{name}' (known: {', '.join(registry.REGISTRY)})")
    ordered = [n for n in registry.REGISTRY if n in names]
    from dlcheck import distributed

    session = distributed.session()
    if session is not None:  # under torchrun: every rank prepares, then they agree (or all stop)
        device, target, modules, state = _prepare_ranks(session, settings, ordered)
    else:
        device, target, modules, state = prepare(settings, ordered)
    source = target.source
    if settings.config and source not in ("<objects>", "<options>"):
        source = os.path.relpath(source) if os.path.isabs(source) else source
    report = Report(target=source, device=str(device), seed=settings.seed,
                    task=state.task.to_dict() if state.task is not None else None)
    if session is not None:  # what finished, for a run a dead rank cuts short (distributed.liveness)
        session.report = (report, settings)
    for index, name in enumerate(ordered):
        module, check_settings = modules[name]
        if session is not None:
            session.doing = name
        try:
            result = run_check(name, module, check_settings, target, device, settings, state)
            if session is not None:
                _agree_check(session, name, result)
            report.checks.append(result)
        except _Stopped as stop:
            if session is not None:
                _agree_check(session, name, stop.result)
            left = ordered[index + 1:]
            if isinstance(stop.cause, SystemExit) and settings.raise_exits:
                raise stop.cause from None  # the API: the caller's exit, after the model came back
            if isinstance(stop.cause, SystemExit):  # an error of this check; the rest do not run
                if left:
                    stop.result.summary += f" (not run: {', '.join(left)})"
                report.checks.append(stop.result)
                break
            raise Interrupted(_interrupted_message(name, report, target, left, stop.removed),
                              _settled(report, settings)) from None
        if errors.received:  # the check caught the signal itself (curves): the run ends all the same
            raise Interrupted(_interrupted_message(name, report, target, ordered[index + 1:], 0, after=True),
                              _settled(report, settings))
    if settings.verify_fixes:  # dlcheck.fixes: each finding's fix tried on a copy (on every rank under torchrun)
        from dlcheck import fixes

        fixes.verify(report, settings, target, device, modules, state)
    return _settled(report, settings)


def _prepare_ranks(session, settings: Settings, ordered: list[str]):
    """prepare() on every rank (reports' paths probed on rank 0 only), then the process group,
    then one agreement: a set-up that fails on any rank stops every rank with that rank's error."""
    from dlcheck import distributed
    from dlcheck.device import resolve_device

    settings.device = session.device_spec(settings.device)
    error, prepared = None, None
    try:
        if distributed.is_main():
            validate_outputs(settings)
        prepared = prepare(settings, ordered, loaded=session.init_group)
    except UserError as exc:
        error = exc.message
    if not session.ready:  # this rank failed before the group was made: join it, to say so
        try:
            device = resolve_device(settings.device)
        except UserError:
            from torch import device as torch_device

            device = torch_device("cpu")
        session.init_group(device)
    failed = session.agree("set-up", error)
    if failed:
        own = dict(failed).get(session.rank)
        first, message = failed[0]
        raise UserError(own if own and first == session.rank and len(failed) == session.world
                        else f"rank {first}: {message}")
    return prepared


def _agree_check(session, name: str, result: CheckResult) -> None:
    """After each check, the ranks compare notes through the store: a check that errored on any
    rank is an error on every rank, naming the rank (DLC010)."""
    error = result.summary if result.status == "error" else None
    failed = session.agree(name, error)
    others = [(r, m) for r, m in failed if r != session.rank]
    if others and result.status != "error":
        r, message = others[0]
        result.status = "error"
        result.summary = f"rank {r}: {message}"
        result.findings.append(_error_finding("DLC010", result.summary))


def _interrupted_message(name: str, report: Report, target, left: list[str], removed: int,
                         after: bool = False) -> str:
    """Where a Ctrl-C (or SIGTERM) stopped the run and what was handed back, in one sentence."""
    from torch import nn

    done = [c.name for c in report.checks]
    parts = [f"the report holds the {len(done)} check{'s' if len(done) != 1 else ''} that finished"
             + (f" ({', '.join(done)})" if done else "")]
    if isinstance(target.model, nn.Module):
        parts.append("your model object was handed back as found")
    if removed:
        parts.append(f"{name}'s {removed} half-made artifact{'s' if removed != 1 else ''} removed")
    if left:
        parts.append(f"not run: {', '.join(left)}")
    import signal

    how = " by SIGTERM" if errors.received[:1] == [signal.SIGTERM] else ""
    return f"interrupted{how} {'after' if after else 'during'} {name}; " + "; ".join(parts)


def _settled(report: Report, settings: Settings) -> Report:
    matched = {code for c in report.checks for code in c.ignored}
    report.ignored_unmatched = sorted({c.upper() for c in settings.ignore} - matched)
    return report
