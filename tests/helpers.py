"""Helpers tests import: model snapshots for the state-restored promise (DESIGN §5), set-ups loaded
as modules, and the trials' runs of dlcheck on the set-ups in tests/modern."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

import dlcheck

MODERN = Path(__file__).resolve().parent / "modern"


def snapshot(model: torch.nn.Module) -> dict:
    """Everything DESIGN §5 promises to hand back: tensors (bitwise), modes, requires_grad, hooks."""
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()},
        "modes": [m.training for m in model.modules()],
        "flags": [p.requires_grad for p in model.parameters()],
        "ids": [id(p) for p in model.parameters()],
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
                  for m in model.modules()],
    }


def assert_same(before: dict, model: torch.nn.Module) -> None:
    after = snapshot(model)
    assert before["modes"] == after["modes"]
    assert before["flags"] == after["flags"]
    assert before["ids"] == after["ids"]
    assert before["hooks"] == after["hooks"]
    assert before["state"].keys() == after["state"].keys()
    for key, value in before["state"].items():
        assert torch.equal(value, after["state"][key]), f"{key} changed"


def load_setup(path) -> object:
    """A set-up file imported as a module, with its folder on sys.path while it loads (its data
    helpers beside it), as a test's plain-PyTorch loop uses it."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(path)
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


def modern(setup: str) -> str:
    """The path of the set-up tests/modern/<setup>.py."""
    return str(MODERN / f"{setup}.py")


@functools.lru_cache(maxsize=None)
def check(name: str, setup: str, seed: int = 0, **settings):
    """The check ``name`` on tests/modern/<setup>.py on the CPU, run once a session; ``settings``:
    that check's own (``pairing=False``)."""
    return dlcheck.check(name, modern(setup), device="cpu", seed=seed, settings={name: settings} if settings else None)


#: Findings that time this machine: whether the loader keeps up with the training step (DLC981).
#: A busy CI machine can tip them on a set-up near the threshold (floor_simclr_digits' augmenting
#: loader waits 3.8-4.0 ms a step here against the rule's 5 ms, and over 5 ms once under CI load), so
#: the tests of a set-up's health set them aside; tests/test_preflight*.py test them.
MACHINE_TIMED = frozenset({"DLC981"})


def unhealthy(report, loud: bool = False) -> dict:
    """The checks of a run that do not pass (``loud``: or that say anything above info), as
    {name: (status, summary, [(code, message) above info])}, the machine-timed findings set aside:
    a check that warns of those alone counts as passing."""
    bad = {}
    for c in report.checks:
        said = [(f.code, f.message) for f in c.findings if f.severity != "info" and f.code not in MACHINE_TIMED]
        timed_only = c.status == "warn" and not said and any(f.code in MACHINE_TIMED for f in c.findings)
        if (c.status != "pass" and not timed_only) or (loud and said):
            bad[c.name] = (c.status, c.summary, said)
    return bad


def assert_run_passes(setup: str, seed: int = 0) -> None:
    """``dlcheck run`` on tests/modern/<setup>.py: every check passes, nothing above info."""
    bad = unhealthy(dlcheck.run(modern(setup), device="cpu", seed=seed), loud=True)
    assert not bad, bad


def loud(result) -> list[tuple]:
    """(code, severity, message) of a check's findings above info."""
    return [(f.code, f.severity, f.message) for f in result.findings if f.severity != "info"]


def assert_passes_or_warns(result, warning: tuple[str, str] | None) -> None:
    """A healthy set-up's check passes with nothing above info, or, given ``(code, says)``, warns
    with that one code and a message that says it (a true warning, with its reason)."""
    if warning:
        code, says = warning
        assert result.status == "warn" and [f[0] for f in loud(result)] == [code], (result.summary, loud(result))
        assert says in loud(result)[0][2]
    else:
        assert result.status == "pass" and not loud(result), (result.summary, loud(result))
