"""The contract every registered check keeps (a registry drives it, as in timm's model tests):
it passes the healthy demo recipe, its result serialises to JSON, the same seed gives the same
metrics, and a model object handed in comes back bit-identical (weights, buffers, modes, flags,
hooks) with the global RNG state untouched."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

import dlcheck
from dlcheck import registry as checks
from dlcheck.render import json as json_render
from conftest import RECIPES
from helpers import assert_same, snapshot

TARGET = str(RECIPES / "digits_setup.py")


def _bn_model() -> nn.Module:
    """A model object with every kind of state: BN buffers, dropout, frozen part, eval part, a hook,
    a parametrised weight (spectral_norm: computed on every access, and in training mode each access
    moves its power-iteration buffers _u and _v)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.1),
                          nn.utils.parametrizations.spectral_norm(nn.Linear(128, 128)), nn.ReLU(), nn.Linear(128, 10))
    model[1].eval()
    model[0].bias.requires_grad_(False)
    model[6].register_forward_hook(lambda *args: None)
    return model


def test_every_spec_names_a_check_module_that_fits_it():
    """The spec (torch-free) and the module agree: name, flags that are settings of the right type,
    and a block of finding codes of its own."""
    from dlcheck.codes import codes_for

    assert checks.available() == [s.name for s in checks.SPECS]  # every spec is built
    for spec in checks.SPECS:
        module = checks.load(spec.name)
        assert module.NAME == spec.name
        for flag in spec.flags:
            assert flag.key in module.SETTINGS, f"{spec.name} {flag.option}"
            default = module.SETTINGS[flag.key]  # None: off unless given
            assert default is None or isinstance(default, flag.type) or flag.type is float, f"{spec.name} {flag.option}"
            assert flag.help and flag.help[0].islower(), f"{spec.name} {flag.option}: a help text, lower-case"
        assert [c for c in codes_for(spec.name) if c.check == spec.name], f"{spec.name} has no finding codes"


@pytest.mark.parametrize("name", checks.available())
def test_healthy_demo_passes_and_repeats(name, tmp_path, monkeypatch):
    from dlcheck.context import Context

    built = []
    optimizer = Context.optimizer
    monkeypatch.setattr(Context, "optimizer", lambda self, *a, **k: built.append(1) or optimizer(self, *a, **k))
    first = dlcheck.check(name, TARGET, out=str(tmp_path / "a"))
    assert first.status == "pass", (first.summary, [f.message for f in first.findings])
    assert bool(built) == checks.spec(name).trains, "the spec's `trains` says whether the check builds an optimizer"
    second = dlcheck.check(name, TARGET, out=str(tmp_path / "b"))
    assert json.dumps(first.metrics, sort_keys=True) == json.dumps(second.metrics, sort_keys=True)
    assert [f.code for f in first.findings] == [f.code for f in second.findings]


@pytest.mark.parametrize("name", checks.available())
def test_model_object_and_rng_are_handed_back(name):
    model = _bn_model()
    before = snapshot(model)
    torch.manual_seed(1234)
    random.seed(1234)
    np.random.seed(1234)
    rng = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    result = dlcheck.check(name, TARGET, model=model)
    assert result.status != "error", result.summary
    assert_same(before, model)
    assert torch.equal(torch.get_rng_state(), rng[0])
    assert random.getstate() == rng[1]
    assert np.array_equal(np.random.get_state()[1], rng[2])
    report = dlcheck.run(TARGET, model=model, checks=[name])
    json.loads(json_render.dumps(report))  # valid JSON, no NaN


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(m._backward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("name", checks.available())
@pytest.mark.parametrize("fail_after", [None, 3])
def test_every_hook_a_check_adds_is_removed_by_the_check_itself(name, fail_after):
    """A factory handing out one held model bypasses the snapshot-and-restore of model objects, so
    only the check's own clean-up (in ``finally``) can take its hooks off, also when the model raises."""

    class Held(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _bn_model()
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if fail_after is not None and self.calls > fail_after:
                raise RuntimeError("boom in the user's forward")
            return self.net(x)

    held = Held()
    result = dlcheck.check(name, TARGET, model=lambda: held)
    assert _hook_count(held) == 1  # only the user's own hook on the last layer
    if fail_after is None:
        assert result.status != "error", result.summary


def test_the_preflight_model_is_reused_and_changes_nothing():
    """The pre-flight builds the factory's model once to fail early; the first check takes that
    model (and the RNG state after it) instead of building again, and gets what its own build gives."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("digits_setup_counted", TARGET)
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    builds = []

    def counted():  # dropout and a loader shuffled by the global RNG: both read the RNG after the build
        builds.append(1)
        return nn.Sequential(nn.Dropout(0.2), setup.model())

    from torch.utils.data import DataLoader, TensorDataset

    data = DataLoader(TensorDataset(setup.X_TRAIN, setup.Y_TRAIN), batch_size=64, shuffle=True)
    alone = dlcheck.check("lr-find", model=counted, train_loader=data)
    assert len(builds) == 1  # not two
    second = dlcheck.run(model=counted, train_loader=data, checks=["init-loss", "lr-find"]).checks[1]
    assert json.dumps(alone.metrics, sort_keys=True) == json.dumps(second.metrics, sort_keys=True)
    other_seed = dlcheck.check("lr-find", model=counted, train_loader=data, seed=1)
    assert other_seed.metrics != alone.metrics


def test_a_check_that_meets_bad_input_is_an_error_with_dlc001_and_a_crash_is_dlc002():
    """The runner turns a check's UserError into an ``error`` result carrying DLC001 (its message
    the summary), and any other exception into DLC002; the model and RNG come back either way."""
    import types

    from dlcheck.config import Settings
    from dlcheck.device import resolve_device
    from dlcheck.errors import UserError
    from dlcheck.runner import run_check
    from dlcheck.target import load_target

    target = load_target(TARGET)
    settings = Settings(target=TARGET)

    def raises(exc):
        def run(ctx):
            with ctx.model():
                raise exc
        return types.SimpleNamespace(run=run)

    before = torch.random.get_rng_state()
    bad = run_check("init-loss", raises(UserError("batch 3 of 'train_loader' is a str")), {}, target,
                    resolve_device("cpu"), settings)
    assert (bad.status, [f.code for f in bad.findings]) == ("error", ["DLC001"])
    assert bad.summary == "batch 3 of 'train_loader' is a str"
    crash = run_check("init-loss", raises(ZeroDivisionError("x")), {}, target, resolve_device("cpu"), settings)
    assert (crash.status, [f.code for f in crash.findings]) == ("error", ["DLC002"])
    assert torch.equal(torch.random.get_rng_state(), before)
