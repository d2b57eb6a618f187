"""preflight's rules on hand-built numbers: one case per code, and healthy numbers near each
threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import math

import pytest

from dlcheck.checks import preflight
from dlcheck.checks.preflight import loader, precision
from dlcheck.checks.preflight.loader import Trial
from dlcheck.checks.preflight.precision import Layer, Run
from rulecase import Case, Quiet

S = preflight.SETTINGS


def fed(**kw) -> loader.Measured:
    fields = dict(device="cpu", batch_size=16, step_s=0.016, wait_s=0.058, idle=0.76, workers=0)
    fields.update(kw)
    return loader.Measured(**fields)


def sweep(*idles) -> list[Trial]:
    return [Trial(w, False, 0.016 / max(1e-3, 1 - i) if w else 0.058, 0.1 * w, i) for w, i in zip((0, 2, 4), idles)]


def ranged(*layers, runs=(), fp32=(2.3, 2.2, 2.1)) -> precision.Measured:
    return precision.Measured(device="cpu", layers=list(layers), fp32=list(fp32), runs=list(runs))


def layer(name, act=3.0, grad=1e-3, under=0.0, kind="Linear") -> Layer:
    return Layer(name, kind, [act, act], [grad, grad], [under, under])


CASES = [
    Case("DLC981", loader.loader_bound, fed(trials=sweep(0.78, 0.42, 0.14)), None, S, name="fixed",
         says=("58 ms", "idle 76%", "num_workers=4", "1,000 samples/s"), advises=("num_workers=4",)),
    Case("DLC981", loader.loader_bound, fed(trials=sweep(0.78, 0.7, 0.6)), None, S, name="not-enough",
         says=("num_workers=4",), advises=("make __getitem__ cheaper",)),
    Case("DLC981", loader.loader_bound, fed(workers=None, not_swept="the loader is a list, not a DataLoader"),
         None, S, name="not-swept", says=("not a DataLoader",)),
    Case("DLC982", precision.fp16_overflow,
         ranged(layer("body.0"), layer("scale", act=4.6e5, kind="ScaleBy"),
                runs=[Run("bfloat16", [2.3e5, 1.3e5, 9.9e4], 0.004), Run("float16", [math.nan] * 3, math.inf, "scale")],
                fp32=[2.3e5, 1.3e5, 9.9e4]),
         None, S, name="scaled", says=("'scale'", "65504", "bfloat16 holds"), advises=("bfloat16", "'scale'")),
    Case("DLC982", precision.fp16_overflow,
         ranged(layer("a"), runs=[Run("float16", [math.inf], math.inf, "a.exp")]), None, S, name="autocast-only",
         says=("non-finite output is 'a.exp'",)),
    Case("DLC983", precision.gradient_underflow, ranged(layer("emb", grad=1e-8, under=0.9), layer("head")), None, S,
         says=("'emb'", "90%", "loss scale of 65536")),
    Case("DLC984", precision.loss_gap,
         ranged(layer("a"), runs=[Run("float16", [2.3, 2.3, 2.3], 0.4)], fp32=[2.3, 1.9, 1.6]), None, S,
         says=("float16", "40%")),
]

QUIET = [
    Quiet(loader.loader_bound, fed(idle=0.49, wait_s=0.015), None, S, name="idle-below"),
    Quiet(loader.loader_bound, fed(idle=0.9, wait_s=0.0049), None, S, name="short-wait"),
    Quiet(loader.loader_bound, fed(skipped="too few batches"), None, S, name="skipped"),
    Quiet(precision.fp16_overflow, ranged(layer("a", act=65000.0),
                                          runs=[Run("float16", [2.3, 2.2, 2.1], 0.001)]), None, S, name="below-65504"),
    Quiet(precision.gradient_underflow, ranged(layer("a", under=0.5)), None, S, name="half"),
    Quiet(precision.loss_gap, ranged(layer("a"), runs=[Run("bfloat16", [2.3, 2.2, 2.1], 0.1)]), None, S,
          name="gap-at-limit"),
    Quiet(precision.loss_gap, ranged(layer("a"), runs=[Run("float16", [math.nan], math.inf, "a")]), None, S,
          name="non-finite-is-overflow"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_case(case):
    case.check()


@pytest.mark.parametrize("case", QUIET, ids=str)
def test_quiet(case):
    case.check()


def test_parts_are_chosen_by_name():
    assert preflight.chosen("all") == preflight.chosen(None) == [p for p in preflight.PARTS
                                                                 if p in preflight.available()]
    assert preflight.chosen("precision,loader") == ["loader", "precision"]
    with pytest.raises(Exception, match="no part 'gpu'"):
        preflight.chosen("loader,gpu")
