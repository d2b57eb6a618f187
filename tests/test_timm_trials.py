"""dlcheck tried as a new user would on timm architectures (tests/modern/trytimm_*.py), random
weights (pretrained=False), real data: a shrunk convnext_atto (LayerNorm2d), a tiny ViT (img_size 32,
4x4 patches, depth 2), efficientnet_b0 and mobilenetv3_small_050 (timm's BatchNormAct2d, squeeze-
excitation), resnet10t and resnet18, on scikit-learn's digits upsampled to 3x32x32 or 32x32 crops of
its two sample photos. The healthy set-ups pass the checks that judge the model at init on seed 0,
or warn with a true reason (WARNS); a classifier head multiplied by 50 is caught at init (DLC101).
Found by these trials and fixed in dlcheck: squeeze-excitation channels dead after global pooling
warned DLC404; a BN layer at 1x1 maps failed DLC507 on its batch statistics' noise; a model that
memorises permuted labels as fast failed DLC709 although its held-out accuracy showed the pairing.

By hand (15 s to minutes a run): `dlcheck run tests/modern/trytimm_<name>.py --device cpu --seed S`
for S in 0-2: see the module-level WARNS for what warns and why; trytimm_vit_digits's lr-find also
warns DLC306 (true: at its lr 5e-4 without warmup the ViT's loss stays near ln(10) for over 100
steps, where 1e-4 falls)."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("timm", reason="timm is not installed (pip install timm): the timm trials need it")

from helpers import MODERN, assert_passes_or_warns, check, loud  # noqa: E402

sys.path.insert(0, str(MODERN))

HEALTHY = ["trytimm_convnext_digits", "trytimm_vit_digits", "trytimm_efficientnet_photos",
           "trytimm_mobilenetv3_digits", "trytimm_resnet10t_photos", "trytimm_resnet18_digits"]
#: the checks that judge the model and its init, each a second or two on these set-ups
CHEAP = ["init-loss", "init-stats", "optimizer", "bn-gap", "batch-independence"]
#: true warnings, each with its reason: efficientnet_b0's head is initialised for ImageNet's 1000
#: classes (timm's uniform +-1/sqrt(num_classes): +-0.71 for 2, logits std ~8); a BN layer reached as
#: 1x1 maps at batch 16 normalises 16 values per channel, whose statistics are that noisy
WARNS = {("trytimm_efficientnet_photos", "init-loss"): ("DLC101", "ln(2)"),
         ("trytimm_efficientnet_photos", "bn-gap"): ("DLC507", "values per channel"),
         ("trytimm_resnet18_digits", "bn-gap"): ("DLC507", "only 16 values per channel in training (batch 16, maps "
                                                           "of 1x1)")}


@pytest.mark.parametrize("name", CHEAP)
@pytest.mark.parametrize("setup", HEALTHY)
def test_a_healthy_timm_model_passes_at_init_or_warns_with_its_reason(setup, name):
    assert_passes_or_warns(check(name, setup), WARNS.get((setup, name)))


@pytest.mark.parametrize("setup", ["trytimm_convnext_digits", "trytimm_mobilenetv3_digits"])
def test_a_healthy_timm_model_memorises_a_tiny_subset(setup):
    result = check("overfit-small", setup)
    assert result.status == "pass" and not loud(result), (result.summary, loud(result))
    assert result.metrics["final_accuracy"] == 1.0


def test_squeeze_excitation_channels_dead_after_pooling_are_not_dead_units():
    """mobilenetv3_small_050's first SE ReLU sees one pooled value per sample: 2 of its 8 channels
    are zero for all 128 samples at any healthy init. Counted in the table, not a DLC404 warning."""
    result = check("init-stats", "trytimm_mobilenetv3_digits")
    se = next(r for r in result.details["layers"] if r["layer"] == "blocks.0.0.se.act1")
    assert se["dead"] == "2/8"
    assert "DLC404" not in [f.code for f in result.findings]


def test_timm_batchnormact_layers_are_compared_through_their_own_forward():
    """efficientnet_b0's 49 BatchNormAct2d (BN with SiLU inside) each get their own gap."""
    result = check("bn-gap", "trytimm_efficientnet_photos")
    rows = result.details["bn_layers"]
    assert len(rows) == 49 and {r["kind"] for r in rows} == {"BatchNormAct2d"} and all(r["gap"] is not None for r in rows)


@pytest.mark.slow
def test_memorising_digits_as_fast_with_permuted_labels_is_not_unpaired_data():
    """mobilenetv3_small_050 memorises 4 batches of digits with permuted labels as fast as with the
    true ones (seed 1) and its overconfident held-out loss ends above the constant output's after
    both; its held-out accuracy (well above chance after the true labels only) shows the pairing."""
    result = check("data-check", "trytimm_mobilenetv3_digits", 1)
    assert result.status == "pass" and not loud(result), loud(result)
    m = result.metrics
    assert m["pair_heldout_accuracy_true"] > m["pair_heldout_accuracy_permuted"] + 0.2


def test_a_classifier_head_scaled_x50_is_caught_at_init():
    result = check("init-loss", "trytimm_bug_convnext_head_x50")
    assert result.status == "fail" and "DLC101" in [f.code for f in result.findings], result.summary
    assert result.metrics["loss"] > 5 * result.metrics["expected"]
