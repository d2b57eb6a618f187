"""preflight's memory rules on hand-built numbers: one case per code, and healthy numbers near each
threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import pytest

from dlcheck.checks.preflight import memory as mem
from rulecase import Case, Quiet

S = mem.SETTINGS
MIB = 2 ** 20


def measured(**kw) -> mem.Measured:
    """A batch of 64 on a simulated 100 MiB: 10 MiB of weights and gradients, 20 of Adam's state,
    30 of activations: a peak of 70 MiB, the largest batch within the 10 % margin 85."""
    fields = dict(device="cuda:0", method="allocator", batch_size=64, steps=3, margin=0.1, weights=10 * MIB,
                  gradients=10 * MIB, optimizer=20 * MIB, activations=30 * MIB, peak=70 * MIB, modelled=70 * MIB,
                  mode="measured", budget=100 * MIB, source="NVIDIA H100 (100.0 MiB usable)", fits=True,
                  largest=85, effective=64, fit=[(16, 8 * MIB), (32, 15.5 * MIB), (64, 30 * MIB)],
                  fixed=0.5 * MIB, per_sample=0.46 * MIB, fit_error=0.01)
    fields.update(kw)
    return mem.Measured(**fields)


CASES = [
    Case("DLC986", mem.does_not_fit, measured(batch_size=256, fits=False, failed_step=2, largest=96, effective=256,
                                              micro=64, accumulate=4), None, S, severity="fail", name="step-2",
         says=("a batch of 256 runs out of memory on NVIDIA H100", "in step 2, after the first optimizer step",
               "largest batch that leaves 10% free is 96"),
         advises=("micro-batches of 64", "over 4 steps", "(256 samples per optimizer step)")),
    Case("DLC986", mem.does_not_fit, measured(fits=False, failed_step=1, largest=None), None, S, severity="fail",
         name="own-step", says=("in step 1", "optimizer state 20.0 MiB")),
    Case("DLC986", mem.does_not_fit, measured(mode="predicted", batch_size=256, fits=False, peak=160 * MIB,
                                              source="A100-80GB", largest=60, micro=32, accumulate=8, effective=256),
         None, S, severity="warn", name="predicted", says=("needs about 160.0 MiB", "more than the 100.0 MiB of A100-80GB")),
    Case("DLC987", mem.near_limit, measured(peak=92 * MIB, largest=62, micro=32, accumulate=2), None, S,
         says=("fits NVIDIA H100", "is 92% of it", "less than the 10% margin"), advises=("micro-batches of 32",)),
    Case("DLC988", mem.not_linear, measured(mode="predicted", fit_error=0.2, largest=None, source="H100"), None, S,
         says=("not linear in the batch size", "by 20%", "for H100 is not predicted")),
    Case("DLC989", mem.model_does_not_fit, measured(fits=False, largest=0, failed_step=1), None, S,
         says=("not even a batch of 1", "take 40.0 MiB before any activation")),
]

QUIET = [
    Quiet(mem.does_not_fit, measured(), None, S, name="fits"),
    Quiet(mem.does_not_fit, measured(mode=None, fits=True, budget=None, largest=None), None, S, name="cpu-only"),
    Quiet(mem.does_not_fit, measured(fits=False, largest=0), None, S, name="nothing-fits-is-989"),
    Quiet(mem.near_limit, measured(peak=90 * MIB, largest=64), None, S, name="at-the-margin"),
    Quiet(mem.near_limit, measured(mode=None, budget=None, largest=None), None, S, name="no-device"),
    Quiet(mem.not_linear, measured(mode="predicted", fit_error=S["linear_tolerance"]), None, S, name="at-tolerance"),
    Quiet(mem.not_linear, measured(fit_error=0.5), None, S, name="measured-needs-no-line"),
    Quiet(mem.model_does_not_fit, measured(largest=1), None, S, name="one-fits"),
    Quiet(mem.model_does_not_fit, measured(largest=None), None, S, name="unknown"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_case(case):
    case.check()


@pytest.mark.parametrize("case", QUIET, ids=str)
def test_quiet(case):
    case.check()


def test_summary_and_metrics_say_the_split_and_the_largest_batch():
    m = measured(batch_size=256, fits=False, failed_step=2, largest=96, capped=False, micro=64, accumulate=4)
    text = mem.summary(m)
    assert "peak 70.0 MiB at a batch of 256" in text and "largest batch 96 on NVIDIA H100" in text
    assert "micro-batch 64 x 4 accumulation steps" in text
    metrics = mem.metrics(m)
    assert metrics["memory_optimizer_state_mib"] == 20 and metrics["memory_largest_batch"] == 96
    assert metrics["memory_accumulation_steps"] == 4 and metrics["memory_prediction_ratio"] is None
    assert all(k.startswith("memory_") for k in metrics)  # a part of preflight: its keys are prefixed
