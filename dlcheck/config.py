"""Settings for one invocation: defaults < YAML recipe < command-line flags. Torch-free.

A recipe is a YAML mapping:

    target: digits_setup.py        # relative to the recipe's folder
    device: auto
    seed: 0
    checks: [init-loss, overfit-small]
    ignore: [DLC109]
    init-loss:                     # per-check settings and thresholds (see `dlcheck list`)
      far_above_ratio: 2.0

Unknown keys are rejected with the key's name; per-check keys are checked against the check's
SETTINGS when the check is loaded.

Every number a run takes — flags, recipe keys, per-check settings, the API's arguments and the
target's ``lr`` / ``num_classes`` — is judged here, by :func:`integer` and :func:`real`, and an
error names the setting as the user wrote it (``--seed``, ``recipe 'r.yaml': 'lr'``,
``'overfit-small.batches'``). Recipes accept scientific notation (``lr: 1e-3``), which YAML 1.1
reads as a string, and error messages show a value by a short repr, never the whole of it.
"""

from __future__ import annotations

import math
import re
import reprlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dlcheck.registry import REGISTRY
from dlcheck.errors import UserError


@dataclass
class Settings:
    target: str | None = None
    model: str | None = None
    data: str | None = None
    val_data: str | None = None
    loss: str | None = None
    device: str = "auto"
    seed: int = 0
    json: str | None = None
    junit: str | None = None
    markdown: str | None = None
    html: str | None = None  # --html PATH: one self-contained HTML report
    sarif: str | None = None  # --sarif PATH: SARIF 2.1.0 for code scanning
    out: str | None = None
    tensorboard: str | None = None  # --tensorboard DIR: one new TensorBoard event file there
    strict: bool = False
    quiet: bool = False
    debug: bool = False
    ignore: list[str] = field(default_factory=list)
    lr: float | None = None
    amp: bool = False
    checks: list[str] | None = None
    input_key: str | None = None
    target_key: str | None = None
    budget: float | None = None  # seconds per check
    task: str | None = None  # the task when inference cannot tell (wins over the target's)
    verify_fixes: bool = False  # try each finding's catalogued fix on a copy and re-run its check
    #: per-check settings: {"init-loss": {"far_above_ratio": 2.0}}
    check_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the recipe's folder: relative paths in the recipe resolve against it
    base_dir: str | None = None
    config: str | None = None
    #: how each setting was given, for messages: {"seed": "--seed", "lr": "recipe 'r.yaml': 'lr'",
    #: "overfit-small.batches": "--batches"}; a setting missing here is named by its key
    origins: dict[str, str] = field(default_factory=dict, repr=False)
    #: the Python API: a SystemExit from the caller's process (its own SIGTERM handler, sys.exit in
    #: its code) is re-raised once the model is handed back, not turned into an ``error`` result
    raise_exits: bool = False

    def name_of(self, key: str) -> str:
        """How a message names setting ``key`` (``seed``, ``overfit-small.batches``)."""
        return self.origins.get(key, f"'{key}'")


_OPTION_KEYS = {f.name for f in fields(Settings)} - {"check_settings", "base_dir", "config", "debug", "origins",
                                                     "raise_exits"}
_TYPES = {"seed": int, "lr": float, "budget": float, "strict": bool, "quiet": bool, "amp": bool, "verify_fixes": bool}

#: torch.manual_seed takes a 64-bit seed, signed or unsigned; anything else overflows inside it
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1

#: per-check integer settings that count something (batches, steps, samples): at least 1.
#: Other integer settings (thresholds such as ``warmup_batches`` or ``tiny_batch``) may be 0.
COUNTS = frozenset({"batches", "batch_size", "steps", "max_steps", "probe_steps", "pair_steps",
                    "pair_batches", "count", "measure", "draws", "samples", "chunk", "cell_px",
                    "max_rows", "noise_steps", "max_batch_size"})
#: step and epoch counts above MAX_STEPS need --budget (``--steps 1e9`` would train for days)
STEP_COUNTS, MAX_STEPS = frozenset({"steps", "max_steps", "probe_steps", "pair_steps", "pair_max_steps"}), 100_000

_short_repr = reprlib.Repr()
_short_repr.maxstring = _short_repr.maxother = 40
_short_repr.maxlist = _short_repr.maxtuple = _short_repr.maxdict = _short_repr.maxset = 4
_short_repr.maxlevel = 2


def short(value: Any) -> str:
    """A repr of ``value`` bounded in size (a recipe's aliases can nest a list a billion items deep)."""
    return _short_repr.repr(value)


def _key(key: Any) -> str:
    """A recipe key as a message shows it: as written, or by a short repr when it is odd."""
    return key if isinstance(key, str) and len(key) <= 60 and key.isprintable() else short(key)


# -- numbers --------------------------------------------------------------------------------------
_NUMBER = re.compile(r"[-+]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][-+]?\d+)?|[-+]?(nan|inf|infinity)", re.I)


def _number(value: Any) -> int | float | None:
    """``value`` as a number, or None: ints and floats as they are (bools are not numbers), strings
    in decimal or scientific notation (``'1e-3'``, as YAML 1.1 and environment variables hand them
    over) parsed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and len(value) < 64 and _NUMBER.fullmatch(value.strip()):
        text = value.strip().replace("_", "")
        try:
            return int(text)
        except ValueError:
            return float(text)
    return None


def integer(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int, or a UserError naming ``name``: a float only when it is whole (``1e3``),
    never rounded (``1.9`` is an error, not 1)."""
    number = _number(value)
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        number = int(number)
    if minimum is not None and maximum is not None:
        wanted = f"an integer from {minimum} to {maximum}"
    elif minimum is not None:
        wanted = f"an integer of at least {minimum}"
    else:
        wanted = "an integer"
    if not isinstance(number, int) or (minimum is not None and number < minimum) or \
            (maximum is not None and number > maximum):
        raise UserError(f"{name} must be {wanted}, not {_shown(value)}")
    return number


def real(value: Any, name: str, *, positive: bool = False, minimum: float | None = None) -> float:
    """``value`` as a finite float, or a UserError naming ``name`` (NaN and Inf are never settings);
    ``positive``: above 0; ``minimum``: at least that."""
    number = _number(value)
    ok = number is not None and math.isfinite(number) and (not positive or number > 0) and \
        (minimum is None or number >= minimum)
    if not ok:
        wanted = "a finite number" + (" above 0" if positive else f" of at least {minimum:g}"
                                      if minimum is not None else "")
        raise UserError(f"{name} must be {wanted}, not {_shown(value)}")
    return float(number)


def _shown(value: Any) -> str:
    """A value in a message: a number typed as text (``--batches 0``) as written, else a short repr."""
    return value.strip() if isinstance(value, str) and _number(value) is not None else short(value)


def validate(settings: Settings) -> Settings:
    """Judge the run's numbers once, before any work, each error naming the setting as it was
    given (flag, recipe key or API argument). Normalises them in place: seed an int, lr and budget
    floats."""
    settings.seed = integer(settings.seed, settings.name_of("seed"), minimum=SEED_MIN, maximum=SEED_MAX)
    if settings.lr is not None:
        settings.lr = real(settings.lr, settings.name_of("lr"), positive=True)
    if settings.budget is not None:
        settings.budget = real(settings.budget, settings.name_of("budget"), positive=True)
    return settings


def _norm(key: str) -> str:
    return str(key).strip().replace("-", "_")


def load_recipe(path: str) -> Settings:
    """Read a YAML recipe into Settings; any problem is one UserError naming file and key."""
    from dlcheck import recipe_yaml

    file = Path(path)
    if not file.is_file():
        raise UserError(f"recipe '{path}' does not exist")
    data = recipe_yaml.read(file, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"recipe '{path}' must be a mapping of keys to values, not a {type(data).__name__}")
    settings = Settings(base_dir=str(file.resolve().parent), config=str(path))
    check_names = {n.replace("-", "_"): n for n in REGISTRY}
    for raw_key, value in data.items():
        key = _norm(raw_key)
        if key in check_names:
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise UserError(f"recipe '{path}': '{_key(raw_key)}' must be a mapping of settings")
            check = check_names[key]
            settings.check_settings[check] = {_norm(k): v for k, v in value.items()}
            for k in value:
                settings.origins[f"{check}.{_norm(k)}"] = f"recipe '{path}': '{_key(raw_key)}.{_key(k)}'"
        elif key in _OPTION_KEYS:
            settings.origins[key] = f"recipe '{path}': '{_key(raw_key)}'"
            setattr(settings, key, _coerce(key, value, path, raw_key))
        else:
            known = sorted(k.replace("_", "-") for k in _OPTION_KEYS) + sorted(REGISTRY)
            raise UserError(f"recipe '{path}': unknown key '{_key(raw_key)}' (known: {', '.join(known)})")
    return settings


def _coerce(key: str, value: Any, path: str, raw_key: str):
    if key in ("checks", "ignore"):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"recipe '{path}': '{_key(raw_key)}' must be a list of names, not {short(value)}")
        if key == "checks":
            for name in value:
                if name not in REGISTRY:
                    raise UserError(f"recipe '{path}': unknown check '{_key(name)}' in 'checks' "
                                    f"(known: {', '.join(REGISTRY)})")
        return value
    expected = _TYPES.get(key)
    if expected is bool and not isinstance(value, bool):
        raise UserError(f"recipe '{path}': '{_key(raw_key)}' must be true or false, not {short(value)}")
    if expected in (int, float):
        if _number(value) is None:
            raise UserError(f"recipe '{path}': '{_key(raw_key)}' must be a number, not {short(value)}")
        return value  # judged (range, finite, whole) by validate(), with the flags
    if expected is None and value is not None and not isinstance(value, (str, int, float)):
        raise UserError(f"recipe '{path}': '{_key(raw_key)}' must be a single value, not {short(value)}")
    return value if expected or value is None else str(value)


def merge(recipe: Settings | None, flags: dict[str, Any], check_flags: dict[str, dict[str, Any]]) -> Settings:
    """Command-line flags (values that are not None) win over the recipe."""
    settings = recipe or Settings()
    for key, value in flags.items():
        if value is None:
            continue
        if key == "ignore":
            settings.ignore = list(dict.fromkeys([*settings.ignore, *value]))
        else:
            setattr(settings, key, value)
            settings.origins[key] = "--" + key.replace("_", "-")
    for check, values in check_flags.items():
        given = {k: v for k, v in values.items() if v is not None}
        settings.check_settings.setdefault(check, {}).update(given)
        for key in given:
            settings.origins[f"{check}.{key}"] = "--" + key.replace("_", "-")
    return settings


def absolute_ref(ref: str) -> str:
    """A file path (``x.py`` or ``x.py:name``) made absolute against the working folder, so that
    it no longer resolves against a recipe's folder; module names are left as they are."""
    import os

    file, sep, name = ref.rpartition(":") if ":" in ref else (ref, "", "")
    if sep and (not file or len(file) == 1):  # 'C:' style drive or a bare ':name'
        return ref
    looks_like_file = file.endswith(".py") or "/" in file or os.sep in file
    return os.path.abspath(file) + sep + name if looks_like_file else ref


def take_target_keys(settings: Settings, target) -> None:
    """The target file's ``input_key`` / ``target_key`` where no flag or recipe key set one."""
    for key in ("input_key", "target_key"):
        if getattr(settings, key) is None:
            setattr(settings, key, getattr(target, key, None))


def check_settings_for(settings: Settings, name: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """A check's defaults overlaid with the recipe/flags; unknown keys are an error naming the key."""
    given = settings.check_settings.get(name, {})
    unknown = [k for k in given if k not in defaults]
    if unknown:
        source = f"recipe '{settings.config}'" if settings.config else "settings"
        raise UserError(f"{source}: unknown key '{name}.{_key(unknown[0])}' "
                        f"(known: {', '.join(sorted(defaults))})")
    merged = dict(defaults)
    for key, value in given.items():
        merged[key] = check_value(name, key, value, defaults[key], settings.name_of(f"{name}.{key}"))
        if (key in STEP_COUNTS or key == "epochs") and (merged[key] or 0) > MAX_STEPS and settings.budget is None:
            raise UserError(f"{settings.name_of(f'{name}.{key}')} is {merged[key]}, above {MAX_STEPS}, the most dlcheck "
                            f"runs without a time bound: lower it, or add --budget SECONDS to bound the check")
    return merged


def _flag_type(check: str, key: str) -> type | None:
    """The type of the check's command-line flag for ``key`` (for settings whose default is None)."""
    from dlcheck import registry

    try:
        return next((f.type for f in registry.spec(check).flags if f.key == key), None)
    except UserError:
        return None


def check_value(check: str, key: str, value: Any, default: Any, name: str) -> Any:
    """One per-check setting judged against its default's type: true/false for a bool; a whole
    number (at least 1 for a count, else at least 0) for an int; a finite number (above 0 for a
    learning rate, else at least 0) for a float; each item of a list of LRs likewise."""
    kind = type(default) if default is not None else _flag_type(check, key)
    if value is None and default is None:
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise UserError(f"{name} must be true or false, not {short(value)}")
        return value
    is_lr = key == "lr" or key.endswith("_lr")
    if kind is int:
        return integer(value, name, minimum=1 if key in COUNTS else 0)
    if kind is float:
        return real(value, name, positive=is_lr, minimum=None if is_lr else 0.0)
    if isinstance(default, list) and default and all(_number(v) is not None for v in default):
        if not isinstance(value, (list, tuple)) or not value:
            raise UserError(f"{name} must be a list of numbers, not {short(value)}")
        positive = key.endswith("lrs")
        return [real(v, f"{name}[{i}]", positive=positive, minimum=None if positive else 0.0)
                for i, v in enumerate(value)]
    if default is None and _number(value) is not None:  # an optional number: finite, not negative
        return real(value, name, minimum=0.0)
    return value
