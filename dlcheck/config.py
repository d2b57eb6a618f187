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
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dlcheck.checks import REGISTRY
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
    out: str | None = None
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
    #: per-check settings: {"init-loss": {"far_above_ratio": 2.0}}
    check_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the recipe's folder: relative paths in the recipe resolve against it
    base_dir: str | None = None
    config: str | None = None


_OPTION_KEYS = {f.name for f in fields(Settings)} - {"check_settings", "base_dir", "config", "debug"}
_TYPES = {"seed": int, "lr": float, "budget": float, "strict": bool, "quiet": bool, "amp": bool}


def _norm(key: str) -> str:
    return str(key).strip().replace("-", "_")


def load_recipe(path: str) -> Settings:
    """Read a YAML recipe into Settings; any problem is one UserError naming file and key."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise UserError(f"recipe '{path}' does not exist")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"recipe '{path}' is not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"recipe '{path}' cannot be read: {exc}") from None
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
                raise UserError(f"recipe '{path}': '{raw_key}' must be a mapping of settings")
            settings.check_settings[check_names[key]] = {_norm(k): v for k, v in value.items()}
        elif key in _OPTION_KEYS:
            setattr(settings, key, _coerce(key, value, path, raw_key))
        else:
            known = sorted(k.replace("_", "-") for k in _OPTION_KEYS) + sorted(REGISTRY)
            raise UserError(f"recipe '{path}': unknown key '{raw_key}' (known: {', '.join(known)})")
    return settings


def _coerce(key: str, value: Any, path: str, raw_key: str):
    if key in ("checks", "ignore"):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"recipe '{path}': '{raw_key}' must be a list of names")
        if key == "checks":
            for name in value:
                if name not in REGISTRY:
                    raise UserError(f"recipe '{path}': unknown check '{name}' in 'checks' "
                                    f"(known: {', '.join(REGISTRY)})")
        return value
    expected = _TYPES.get(key)
    if expected is bool and not isinstance(value, bool):
        raise UserError(f"recipe '{path}': '{raw_key}' must be true or false")
    if expected in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"recipe '{path}': '{raw_key}' must be a number")
        return expected(value)
    if expected is None and value is not None and not isinstance(value, (str, int, float)):
        raise UserError(f"recipe '{path}': '{raw_key}' must be a single value")
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
    for check, values in check_flags.items():
        given = {k: v for k, v in values.items() if v is not None}
        settings.check_settings.setdefault(check, {}).update(given)
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


def check_settings_for(settings: Settings, name: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """A check's defaults overlaid with the recipe/flags; unknown keys are an error naming the key."""
    given = settings.check_settings.get(name, {})
    unknown = [k for k in given if k not in defaults]
    if unknown:
        source = f"recipe '{settings.config}'" if settings.config else "settings"
        raise UserError(f"{source}: unknown key '{name}.{unknown[0]}' "
                        f"(known: {', '.join(sorted(defaults))})")
    merged = dict(defaults)
    for key, value in given.items():
        default = defaults[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise UserError(f"'{name}.{key}' must be true or false, not {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UserError(f"'{name}.{key}' must be a number, not {value!r}")
            if isinstance(default, float):
                value = float(value)
        merged[key] = value
    return merged
