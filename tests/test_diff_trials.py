"""dlcheck tried as a new user would on a set-up it was not written for (tests/modern/trydiff_*.py):
a tiny DDPM on scikit-learn's digits (images in [-1, 1], a conv net taking (x_t, t) with a
sinusoidal timestep embedding, training_step = MSE between the predicted and the drawn noise,
T = 100). The targets are made inside the step, the loss is stochastic and its floor is not 0.

Found by these trials and fixed in dlcheck: data-check judged the scale of the batch's images
(DLC702 warn: 'channel 0: mean -0.39, std 0.752') although the model never sees them: the
training_step feeds it x_t = sqrt(abar) x0 + sqrt(1 - abar) noise, and [-1, 1] is DDPM's
convention for x0. Now the model's arguments on the first batch are caught, and a stream no
argument equals is not judged for range and scale (DLC710 says so). init-stats took the model's
own input for an activation when a (x, t) model runs its t branch first (only the first weight
layer of a pass counted as fed by data): the planted bug's clean images in [-1, 1] failed DLC403
'b1.conv (input) with 58% of its values at the limits'. Now a weight layer's input that is one of
the model's own arguments is data too.

By hand (~10 s a run): `dlcheck run tests/modern/trydiff_ddpm_digits.py --device cpu --seed S`,
S in 0-2: every check passes. The planted bug (trydiff_bug_fed_clean_images: the model fed x0,
not x_t) is caught by no check as a failure; overfit-small warns DLC205 (the loss levelled off at
1.0, 13-26% below its start) and data-check DLC702 (the images now do reach the model as they are)."""

from __future__ import annotations

import sys

import dlcheck
from helpers import MODERN, assert_run_passes, modern

sys.path.insert(0, str(MODERN))

QUICK = {"data-check": {"batches": 3, "pairing": False}}


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


def test_data_check_does_not_judge_the_scale_of_images_the_training_step_noises_first():
    result = dlcheck.check("data-check", modern("trydiff_ddpm_digits"), device="cpu", seed=0, settings=QUICK)
    assert result.status == "pass", [(f.code, f.message) for f in result.findings]
    assert "DLC702" not in codes(result)
    notes = [f.message for f in result.findings if f.code == "DLC710"]
    assert any("reach the model only transformed" in n for n in notes), notes


def test_data_check_still_judges_images_a_training_step_feeds_the_model_as_they_are():
    result = dlcheck.check("data-check", modern("trydiff_bug_fed_clean_images"), device="cpu", seed=0,
                           settings=QUICK)
    assert "DLC702" in codes(result)
    assert not any("reach the model only transformed" in f.message for f in result.findings)


def test_init_stats_takes_an_x_t_model_s_own_input_for_data_not_a_saturated_activation():
    result = dlcheck.check("init-stats", modern("trydiff_bug_fed_clean_images"), device="cpu", seed=0)
    assert "DLC403" not in codes(result), [f.message for f in result.findings]
    assert result.status == "pass", [(f.code, f.message) for f in result.findings]


def test_the_healthy_ddpm_passes_every_check():
    assert_run_passes("trydiff_ddpm_digits")
