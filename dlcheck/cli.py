"""The command line: parse, dispatch, render, exit. No torch at import time (`--help` stays fast).

Every check command shares the options of DESIGN §3; check-specific flags come from the check's
spec in the registry (``dlcheck.checks.SPECS``) and land in that check's settings (where a recipe
can set them too). Commands are built from the specs, so a new check needs no code here.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Annotated, Any, Optional

import typer

from dlcheck import __version__
from dlcheck import registry
from dlcheck.registry import Flag
from dlcheck.errors import UserError

app = typer.Typer(
    name="dlcheck",
    help="Sanity checks for PyTorch training set-ups: point it at your model and data before you "
         "burn a GPU-day. Exit codes: 0 pass/warn, 1 fail, 2 error or bad input.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _common_params(trains: bool) -> list[inspect.Parameter]:
    """The options every check command takes (DESIGN §3), as inspect Parameters for Typer."""
    def opt(name, annotation, default, *decls, help):
        annotation, metavar = _as_text(annotation)
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=Annotated[annotation, typer.Option(*decls, help=help, metavar=metavar)])

    params = [
        inspect.Parameter("target", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            Optional[str], typer.Argument(help="target file (train_setup.py), module (pkg.setup) or "
                                               "YAML recipe", show_default=False)]),
        opt("config", Optional[str], None, "--config", "-c", help="YAML recipe with target, options and thresholds"),
        opt("model", Optional[str], None, "--model", help="model as file.py:name or pkg.module:name"),
        opt("data", Optional[str], None, "--data", help="train loader as file.py:name or pkg.module:name"),
        opt("val_data", Optional[str], None, "--val-data", help="validation loader spec"),
        opt("loss", Optional[str], None, "--loss", help="loss function spec"),
        opt("device", Optional[str], None, "--device", help="auto | cpu | cuda | cuda:N (default: auto)"),
        opt("seed", Optional[int], None, "--seed", help="seed for torch, numpy and random (default: 0)"),
        opt("json", Optional[str], None, "--json", help="write the JSON report here ('-' or /dev/stdout: stdout)"),
        opt("junit", Optional[str], None, "--junit", help="write a JUnit XML report here"),
        opt("markdown", Optional[str], None, "--markdown", help="write a Markdown summary here"),
        opt("html", Optional[str], None, "--html", help="write one self-contained HTML report here"),
        opt("sarif", Optional[str], None, "--sarif", help="write a SARIF 2.1.0 report here (GitHub code scanning)"),
        opt("out", Optional[str], None, "--out", help="folder for artifacts (plots, grids, CSV)"),
        opt("tensorboard", Optional[str], None, "--tensorboard",
            help="folder for a TensorBoard event file: curves, plots, tables, verdicts"),
        opt("strict", Optional[bool], None, "--strict", help="warnings fail (exit 1)", ),
        opt("quiet", Optional[bool], None, "--quiet", "-q", help="no report on the console, no progress bars"),
        opt("ignore", Optional[list[str]], None, "--ignore", help="drop findings with this code (repeatable)"),
        opt("input_key", Optional[str], None, "--input-key", help="key of the inputs in dict batches"),
        opt("target_key", Optional[str], None, "--target-key", help="key of the targets in dict batches"),
        opt("budget", Optional[float], None, "--budget", help="seconds each check may take"),
        opt("verify_fixes", Optional[bool], None, "--verify-fixes",
            help="try each finding's catalogued fix on a copy of the set-up and re-run its check"),
        opt("debug", bool, False, "--debug", help="show tracebacks"),
    ]
    if trains:
        params += [
            opt("lr", Optional[float], None, "--lr", help="learning rate (default: the target's lr, else 1e-3)"),
            opt("amp", Optional[bool], None, "--amp", help="mixed precision on CUDA (bf16, or fp16 with a GradScaler)"),
        ]
    return params


def _as_text(annotation) -> tuple[Any, str | None]:
    """A number option is taken as text and judged by ``config`` before any work (``--seed abc``:
    dlcheck's one sentence naming the option, not Click's usage box); --help still shows its kind."""
    kinds = {Optional[int]: "<int>", Optional[float]: "<float>"}
    return (Optional[str], kinds[annotation]) if annotation in kinds else (annotation, None)


def _integration_params() -> list[inspect.Parameter]:
    """``run``'s --lightning/--datamodule/--hf-trainer: a target built from a framework's objects."""
    helps = {"lightning": ("--lightning", "LightningModule class or factory as pkg.module:name (no target file)"),
             "datamodule": ("--datamodule", "LightningDataModule class or factory for --lightning"),
             "hf_trainer": ("--hf-trainer", "factory returning a transformers Trainer, as pkg.module:name")}
    return [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Optional[str], typer.Option(option, help=text, show_default=False)]) for key, (option, text) in helps.items()]


def _flag_params(flags: tuple[Flag, ...]) -> list[inspect.Parameter]:
    params = []
    for flag in flags:
        decl = flag.option if flag.type is not bool else f"{flag.option}/--no-{flag.option[2:]}"
        annotation, metavar = _as_text(Optional[flag.type])
        params.append(inspect.Parameter(
            "check_" + flag.key, inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[annotation, typer.Option(decl, help=flag.help, show_default=False,
                                                          metavar=metavar)]))
    return params


def _make_command(name: str | None):
    """A Typer command for check ``name`` (or for `run` when None) with the right signature."""
    trains = name is None or registry.spec(name).trains
    flags = registry.spec(name).flags if name else ()
    params = _common_params(trains) + _flag_params(flags)
    if name is None:
        params.insert(1, inspect.Parameter("checks", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            Optional[str], typer.Option("--checks", help="comma-separated checks to run (default: the "
                                                          "recipe's, else all)")]))
        params.append(inspect.Parameter("nproc", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            Optional[str], typer.Option("--nproc", metavar="<int>", help="run as N processes on this machine under torchrun "
                                                        "(torch.distributed.run); gloo on the CPU, NCCL on CUDA",
                                        show_default=False)]))
        params += _integration_params()

    def command(**kwargs):
        _dispatch(name, kwargs, flags)

    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


def _dispatch(name: str | None, kwargs: dict[str, Any], flags: tuple[Flag, ...]) -> None:
    """Settings from recipe and flags -> run the checks -> render -> exit with DESIGN §4's code.
    Under torchrun: the same on every rank, then every rank exits with the largest code of all."""
    from dlcheck import distributed

    nproc = kwargs.pop("nproc", None)
    if nproc is not None and not distributed.launched():
        from dlcheck.distributed.launch import launch

        raise typer.Exit(launch(nproc, sys.argv[1:]))
    session = distributed.start()
    if session is None:
        from dlcheck.errors import handle_signals, restore_signals

        previous = handle_signals()
        try:
            _dispatch_here(name, kwargs, flags)
        finally:
            restore_signals(previous)
        return
    code = 0
    session.render = _render  # rank 0 renders what finished when a dead rank cuts the run short
    try:
        _dispatch_here(name, kwargs, flags)
    except typer.Exit as exc:
        code = exc.exit_code
    try:
        code = session.exit_code(code)
    finally:
        distributed.stop()
    if code:  # torchrun stops the other ranks once one exits non-zero: all leave at once, same code
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


def _dispatch_here(name: str | None, kwargs: dict[str, Any], flags: tuple[Flag, ...]) -> None:
    """The run in this process (one rank under torchrun)."""
    from dlcheck import config

    debug = kwargs.pop("debug", False)
    check_flags = {flag.key: kwargs.pop("check_" + flag.key) for flag in flags}
    checks = kwargs.pop("checks", None)
    target = kwargs.pop("target")
    recipe_path = kwargs.pop("config")
    frameworks = {key: kwargs.pop(key, None) for key in ("lightning", "datamodule", "hf_trainer")}
    try:
        if target and target.lower().endswith((".yaml", ".yml")):
            if recipe_path:
                raise UserError(f"two recipes given: '{target}' and --config {recipe_path}")
            recipe_path, target = target, None
        recipe = config.load_recipe(recipe_path) if recipe_path else None
        if any(frameworks.values()):
            from dlcheck.integrations.cli import framework_target

            target = framework_target(target, **frameworks)  # a Target object
        if target:
            kwargs["target"] = target
        if checks:
            kwargs["checks"] = [c.strip() for c in checks.split(",") if c.strip()]
        for key in ("target", "model", "data", "val_data", "loss"):
            if recipe and isinstance(kwargs.get(key), str):  # paths typed here are relative to here, not to the recipe
                kwargs[key] = config.absolute_ref(kwargs[key])
        settings = config.merge(recipe, kwargs, {name: check_flags} if name else {})
        settings.debug = debug
        names = [name] if name else (settings.checks or registry.run_by_default())
        from dlcheck import runner

        report = runner.execute(settings, names)
    except UserError as exc:
        _fail_with(exc, debug)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, or user code raising it: what finished is reported
        _interrupted(exc, settings)
    code = _render(report, settings)
    raise typer.Exit(code)


def _interrupted(exc: KeyboardInterrupt, settings) -> None:
    """The end of an interrupted run: the report of the checks that finished, one sentence, exit
    130 (Ctrl-C) or 143 (SIGTERM); later signals are ignored while the process exits."""
    import signal

    from dlcheck import errors

    code = 143 if isinstance(exc, errors.Terminated) or errors.received[:1] == [signal.SIGTERM] else 130
    try:
        if not errors.received:  # user code raised it: a real Ctrl-C from now on ends quietly
            signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    except ValueError:  # not the main thread
        pass
    if getattr(exc, "report", None) is not None:
        _render(exc.report, settings, interrupted=code)
    message = getattr(exc, "message", None) or "interrupted before any check ran; nothing was written"
    if code == 143 and not message.startswith("interrupted by SIGTERM"):
        message = message.replace("interrupted", "interrupted by SIGTERM", 1)
    typer.echo(f"dlcheck: {message}", err=True)
    try:  # a signal now would kill the exiting process by signal: its code is decided
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
    except ValueError:
        pass
    raise typer.Exit(code) from None


def _fail_with(exc: UserError, debug: bool):
    from dlcheck import distributed

    if distributed.is_main():  # under torchrun rank 0 speaks for every rank
        if debug:
            import traceback

            traceback.print_exception(exc)
        typer.secho(f"dlcheck: error: {exc.message}", fg="red", err=True)
    raise typer.Exit(2) from None


def _render(report, settings, interrupted: int | None = None, say: bool = True) -> int:
    """Write every report the settings ask for; print errors (unless ``say`` is False: under
    ``--nproc`` the launcher says a dead rank's error); return the exit code (``interrupted``: the
    run's exit code, 130 or 143, when a signal cut it short)."""
    from dlcheck import distributed
    from dlcheck.render import console
    from dlcheck.render._write import write_reports

    if not distributed.is_main():  # under torchrun only rank 0 writes and prints (DESIGN §4)
        return report.exit_code(settings.strict)
    to_stdout = "-" in (settings.json, settings.junit, settings.markdown, settings.html, settings.sarif)
    try:  # all of them or none (the paths were proved writable before any check ran)
        write_reports(report, json=settings.json, junit=settings.junit, markdown=settings.markdown,
                      html=settings.html, tensorboard=settings.tensorboard, sarif=settings.sarif)
    except UserError as exc:
        _fail_with(exc, settings.debug)
    if not settings.quiet:
        console.print_report(report, stderr=to_stdout, strict=settings.strict, interrupted=interrupted)
    for check in report.checks if say else ():
        if check.status == "error":
            if settings.debug and check.traceback:
                sys.stderr.write(check.traceback)
            typer.secho(f"dlcheck: error: {check.name}: {check.summary}", fg="red", err=True)
    return report.exit_code(settings.strict)


for _spec in registry.specs():
    app.command(_spec.name, help=_spec.help)(_make_command(_spec.name))

app.command("run", help="Run every check (or those the recipe / --checks names) as one CI gate.")(
    _make_command(None))


@app.command("list")
def list_checks():
    """List the checks and every finding code."""
    from dlcheck.codes import codes_for
    from dlcheck.render.console import print_catalogue

    print_catalogue([(s.name, s.title, codes_for(s.name)) for s in registry.specs()])


@app.command("explain")
def explain(code: Annotated[str, typer.Argument(help="a finding code (DLC101) or its name")]):
    """What a finding code means, why it matters, and how to fix it."""
    from dlcheck.codes import lookup
    from dlcheck.render.console import print_code

    found = lookup(code)
    if found is None:
        typer.secho(f"dlcheck: error: unknown finding code '{code}' (see `dlcheck list`)", fg="red", err=True)
        raise typer.Exit(2)
    print_code(found)


def _version(value: bool):
    if value:
        typer.echo(f"dlcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                          help="print the version and exit")] = None):
    pass


def main():
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
