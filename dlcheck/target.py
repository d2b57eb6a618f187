"""Find the user's model and data: a target file or module, and `file.py:name` specs (DESIGN §2).

No torch import at module level: loading a target imports the user's code, which imports torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dlcheck.errors import UserError, describe_exception

#: Names a target may define, and whether they are required.
TARGET_NAMES = {
    "model": True,
    "train_loader": True,
    "val_loader": False,
    "loss_fn": False,
    "optimizer": False,
    "lr": False,
    "num_classes": False,
    "forward": False,
    "training_step": False,
    "train_transform": False,
    "task": False,
    "mixes_samples": False,
    "causal": False,
    "input_key": False,
    "target_key": False,
    "scheduler": False,
    "save_checkpoint": False,
    "load_checkpoint": False,
}

#: names a target file may mean when it misspells one of TARGET_NAMES beyond what difflib sees
_MEANT = {"loss": "loss_fn", "learning_rate": "lr", "classes": "num_classes"}


@dataclass
class Target:
    """The user's set-up. ``origin`` says where each part came from, for error messages."""

    model: Any
    train_loader: Any
    val_loader: Any = None
    loss_fn: Any = None
    optimizer: Any = None
    lr: float | None = None
    num_classes: int | None = None
    forward: Callable | None = None
    #: ``training_step(model, batch) -> loss`` (or a dict with "loss"), Lightning's meaning: the
    #: scalar loss to backpropagate, for set-ups whose loss is not ``loss_fn(outputs, targets)``
    training_step: Callable | None = None
    train_transform: Any = None
    #: the task when inference cannot tell ("regression", "classification", "multilabel", "other")
    task: str | None = None
    #: True when the model mixes samples across the batch by design (batch-independence)
    mixes_samples: bool = False
    #: True: an output at position t depends on inputs at positions <= t alone; False: not (causality)
    causal: bool | None = None
    #: the keys of the inputs and the targets in dict batches (the CLI flag or recipe key wins)
    input_key: str | None = None
    target_key: str | None = None
    #: ``scheduler(optimizer) -> LR scheduler``, stepped once per optimizer step (resume)
    scheduler: Callable | None = None
    #: the user's own checkpointing: ``save_checkpoint(path, model, optimizer[, scheduler=...])``
    #: and ``load_checkpoint(path, model, optimizer[, scheduler=...])`` (resume exercises them)
    save_checkpoint: Callable | None = None
    load_checkpoint: Callable | None = None
    source: str = "<objects>"
    origin: dict[str, str] = field(default_factory=dict)

    @property
    def own_step(self) -> bool:
        """The target reads its batches itself (``forward`` or ``training_step``): dlcheck does not
        split them into inputs and targets."""
        return self.forward is not None or self.training_step is not None

    def where(self, name: str) -> str:
        """``'model' in recipes/digits_setup.py``: how messages name a part of the target."""
        return self.origin.get(name, f"'{name}'")


@contextmanager
def _path_prepended(directory: str):
    """Put ``directory`` first on sys.path while importing, then put sys.path back as it was."""
    saved = list(sys.path)
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        sys.path[:] = saved


def _import_file(path: Path, label: str):
    if path.is_dir():
        raise UserError(f"{label} '{path}' is a folder, not a Python file: name the .py file that "
                        f"defines model and train_loader (or a module as pkg.module)")
    if not path.is_file():
        raise UserError(f"{label} '{path}' does not exist")
    module_name = "dlcheck_target_" + str(abs(hash(str(path.resolve()))))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{label} '{path}' is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    with _path_prepended(str(path.resolve().parent)):
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # the user's module raised on import
            sys.modules.pop(module_name, None)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise UserError(f"importing {label} '{path}' raised {describe_exception(exc)}"
                            f"{_user_line(exc, path)}") from exc
    return module


def _user_line(exc: BaseException, path: Path) -> str:
    """`` (line 12)`` when the traceback passes through the user's file."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line else ""


def _import_module(name: str, label: str):
    with _path_prepended(os.getcwd()):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                raise UserError(f"{label} '{name}' is neither an existing file nor an importable module") from exc
            raise UserError(f"importing {label} '{name}' raised {describe_exception(exc)}") from exc
        except Exception as exc:
            raise UserError(f"importing {label} '{name}' raised {describe_exception(exc)}") from exc


def import_target(ref: str, base_dir: str | None = None, label: str = "target"):
    """Import a target given as a file path (``x.py``, relative to ``base_dir``) or a module name."""
    looks_like_file = ref.endswith(".py") or os.sep in ref or "/" in ref
    if not looks_like_file and Path(base_dir or ".", ref).is_dir() and not Path(base_dir or ".", ref, "__init__.py").is_file():
        looks_like_file = True  # a folder that is no package: said so, not imported as a namespace
    if looks_like_file:
        path = Path(ref)
        if base_dir and not path.is_absolute():
            path = Path(base_dir) / path
        return _import_file(path, label), str(path)
    return _import_module(ref, label), ref


def resolve_spec(spec: str, option: str, base_dir: str | None = None) -> tuple[Any, str]:
    """``file.py:name`` or ``pkg.module:name`` -> (object, 'file.py:name')."""
    if ":" not in spec:
        raise UserError(f"{option} '{spec}' is not a spec: write file.py:name or pkg.module:name")
    ref, _, name = spec.rpartition(":")
    if not ref or not name.isidentifier():
        raise UserError(f"{option} '{spec}' is not a spec: write file.py:name or pkg.module:name")
    module, shown = import_target(ref, base_dir, label=f"{option} module")
    if not hasattr(module, name):
        raise UserError(f"{option} '{spec}': {shown} defines no '{name}'")
    return getattr(module, name), f"{shown}:{name}"


def load_target(target: str | None, *, model: str | None = None, data: str | None = None,
                val_data: str | None = None, loss: str | None = None,
                base_dir: str | None = None) -> Target:
    """Import the target and apply the ``--model/--data/--val-data/--loss`` overrides."""
    found: dict[str, Any] = {}
    origin: dict[str, str] = {}
    source = "<options>"
    if target:
        module, source = import_target(target, base_dir)
        for name in TARGET_NAMES:
            if hasattr(module, name):
                found[name] = getattr(module, name)
                origin[name] = f"'{name}' in {source}"
        _warn_misspelt(module, source)
    overrides = {"model": (model, "--model"), "train_loader": (data, "--data"),
                 "val_loader": (val_data, "--val-data"), "loss_fn": (loss, "--loss")}
    for name, (spec, option) in overrides.items():
        if spec:
            found[name], where = resolve_spec(spec, option, base_dir)
            origin[name] = f"{option} {where}"
    for name, required in TARGET_NAMES.items():
        if required and found.get(name) is None:
            option = "--model" if name == "model" else "--data"
            if target:
                raise UserError(f"target {source} defines no '{name}' (and no {option} was given)")
            raise UserError(f"no '{name}' given: name a target file, or pass {option} file.py:name")
    return check_target(Target(source=source, origin=origin, **found))


def misspelt(module) -> list[tuple[str, str]]:
    """``(name, meant)`` for each public name of a target module that looks like a misspelt
    dlcheck name (``lossfn``, ``val_loder``, ``num_class``, ``loss``) while the name it looks like
    is not defined: dlcheck would silently ignore it. Modules, classes defined under their own
    name and names holding a dlcheck name whole (``lm_forward``, ``models``) are not values a user
    meant to hand over under a dlcheck name."""
    import difflib
    import inspect

    names = set(TARGET_NAMES)
    out = []
    for name, value in vars(module).items():
        if name.startswith("_") or name in names or inspect.ismodule(value) or \
                (inspect.isclass(value) and value.__name__ == name):
            continue
        meant = _MEANT.get(name.lower()) or next(iter(difflib.get_close_matches(name.lower(), names, 1, 0.8)), None)
        if meant is not None and not hasattr(module, meant) and (name in _MEANT or meant not in name):
            out.append((name, meant))
    return out


def _warn_misspelt(module, source: str) -> None:
    """One warning on stderr naming every misspelt-looking name (on rank 0 only under torchrun)."""
    found = misspelt(module)
    if found and os.environ.get("RANK", "0") == "0":
        listed = ", ".join(f"'{name}' (did you mean '{meant}'?)" for name, meant in found)
        sys.stderr.write(f"dlcheck: warning: {source} defines {listed}: dlcheck ignores names it "
                         f"does not read\n")
        sys.stderr.flush()


def on_meta_device(model) -> str:
    """The parameters and buffers of a model object that live on the meta device, named (first
    three), or '' (a factory, or a model with data)."""
    tensors = getattr(model, "named_parameters", None), getattr(model, "named_buffers", None)
    if not all(callable(t) for t in tensors):
        return ""
    try:
        names = [n for t in tensors for n, v in t() if getattr(v, "is_meta", False)]
    except Exception:  # noqa: BLE001 - not a torch module after all: the checks say what is wrong
        return ""
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def check_target(target: Target) -> Target:
    """Judge the target's plain values (from a file, options or the Python API) before any check
    runs: ``lr`` a finite number above 0, ``num_classes`` a whole number of at least 1, ``task`` a
    string, and loaders that can be read more than once. Normalises ``lr`` and ``num_classes``."""
    import collections.abc

    from dlcheck.config import integer, real, short

    if target.lr is not None:
        if isinstance(target.lr, bool) or not isinstance(target.lr, (int, float)):
            raise UserError(f"{target.where('lr')} must be a number, not {type(target.lr).__name__}")
        target.lr = real(target.lr, target.where("lr"), positive=True)
    if target.num_classes is not None:
        if isinstance(target.num_classes, bool) or not isinstance(target.num_classes, (int, float)):
            raise UserError(f"{target.where('num_classes')} must be a positive int, not {short(target.num_classes)}")
        target.num_classes = integer(target.num_classes, target.where("num_classes"), minimum=1)
    if target.task is not None and not isinstance(target.task, str):
        raise UserError(f"{target.where('task')} must be a string such as 'regression', "
                        f"not {type(target.task).__name__}")
    for name in ("input_key", "target_key"):
        value = getattr(target, name)
        if value is not None and not isinstance(value, str):
            raise UserError(f"{target.where(name)} must be a string (a key of the dict batches), "
                            f"not {type(value).__name__}")
    for name in ("forward", "training_step", "loss_fn", "scheduler", "save_checkpoint", "load_checkpoint"):
        value = getattr(target, name)
        if value is not None and not callable(value):
            raise UserError(f"{target.where(name)} must be a function, not a {type(value).__name__}")
    if target.training_step is not None and (target.loss_fn is not None or target.forward is not None):
        other = "loss_fn" if target.loss_fn is not None else "forward"
        raise UserError(f"{target.where('training_step')} computes the loss itself, so {target.where(other)} "
                        f"would never be used: define training_step alone, or forward/loss_fn without it")
    meta = on_meta_device(target.model)
    if meta:
        raise UserError(f"{target.where('model')} is on the meta device (shapes without data: {meta}): "
                        f"materialise it before handing it over, with model.to_empty(device='cpu') and "
                        f"then its initialisation (e.g. reset_parameters() on each module), or build it "
                        f"on the CPU")
    for name in ("train_loader", "val_loader"):
        loader = getattr(target, name)
        if isinstance(loader, collections.abc.Iterator):  # a generator, iter(...), map(...)
            raise UserError(f"{target.where(name)} is a {type(loader).__name__}, an iterator that the "
                            f"first check would use up (the next would see no batches): hand over a "
                            f"function that returns it, e.g. {name} = lambda: make_batches()")
    return target
