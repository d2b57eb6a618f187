"""dlcheck tried as a new user would on torchvision architectures it had not met
(tests/modern/trytv_*.py), random weights (weights=None), real data: a small VisionTransformer
(image_size 32, 8x8 patches, 2 layers, zero-initialised head) on scikit-learn's digits upsampled to
3x32x32; squeezenet1_1 (no final linear layer: conv, ReLU, global pooling) on the digits at 64x64;
deeplabv3_mobilenet_v3_large with aux_loss=True ({'out', 'aux'}, the user's loss weighs both) on
64x64 crops of the sample photos with brightness-tertile masks. The checks that judge the model at
init pass on seed 0, or warn with a true reason (WARNS).

By hand: `dlcheck run tests/modern/trytv_<name>.py --device cpu --seed S` for S in 0-2 (vit ~30 s,
squeezenet ~100 s, deeplab ~270 s). Found: squeezenet at Adam's default lr 1e-3 kills its head's
ReLU within 30 steps (every logit 0, loss ln(10) for good): overfit-small fails DLC201, true (the
target trains at 1e-4). At 1e-4 overfit-small still fails DLC205 (stalled at 0.548,
seed 0; 90 % of the head's pre-ReLU logits negative by step 150, so classes can die per sample --
true: by hand, 800 steps at 1e-4 on its 5 batches plateau at 91 % accuracy, loss 0.20); deeplab's data-check failed DLC709 on seeds 0-1 (true labels 51 %
vs permuted 47 % of the way down, held-out 0 % vs 0 % on 2 batches: a custom dict loss, task other,
has no constant reference nor held-out accuracy, and a 4x4-stride-16 output memorises permuted masks
as fast). With up to 6 held-out batches its held-out loss falls 8-12 % with the true masks and rises
with permuted ones: it passes after the 40-step runs (by hand, ~90 s a seed; not pinned here)"""

from __future__ import annotations

import sys

import pytest

from helpers import MODERN, assert_passes_or_warns, check, loud

sys.path.insert(0, str(MODERN))

CHEAP = ["init-loss", "init-stats", "optimizer", "bn-gap", "batch-independence"]
#: true warnings, each with its reason: squeezenet1_1's ReLU layers at 3x3 maps of the upsampled
#: digits are zero for every sample at init in 20-30 % of their channels (kaiming-uniform, zero
#: biases, post-ReLU inputs that share one direction); deeplab trains at batch 8, small for BatchNorm
WARNS = {("trytv_squeezenet_digits", "init-stats"): ("DLC404", "dead units"),
         ("trytv_deeplab_seg", "bn-gap"): ("DLC505", "batch size 8")}
SETUPS = [("trytv_vit_digits", CHEAP), ("trytv_squeezenet_digits", CHEAP),
          ("trytv_deeplab_seg", ["init-loss", "bn-gap", "batch-independence"])]


@pytest.mark.parametrize("setup,name", [(s, n) for s, names in SETUPS for n in names])
def test_a_healthy_torchvision_model_passes_at_init_or_warns_with_its_reason(setup, name):
    assert_passes_or_warns(check(name, setup), WARNS.get((setup, name)))


def test_deeplab_aux_dict_loss_is_reported_without_a_verdict():
    """The user's loss over the dict {'out', 'aux'} is no loss dlcheck knows: DLC108, no verdict."""
    result = check("init-loss", "trytv_deeplab_seg")
    assert [f.code for f in result.findings] == ["DLC108"] and result.status == "pass"


def test_vit_memorises_a_tiny_subset():
    result = check("overfit-small", "trytv_vit_digits")
    assert result.status == "pass" and not loud(result), (result.summary, loud(result))
    assert result.metrics["final_accuracy"] == 1.0
