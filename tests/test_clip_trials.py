"""dlcheck tried as a new user would on a set-up it was not written for (tests/modern/tryclip_*.py):
a tiny CLIP-style dual encoder on scikit-learn's digits, each image paired with a short caption of
word tokens ("a handwritten seven"); an MLP image tower and an embedding-bag text tower project to
32-d L2-normalised embeddings, a learnable logit scale starts at log(1 / 0.07), and the
training_step is CLIP's symmetric InfoNCE with in-batch negatives. No class-label targets, a loss
that mixes the batch by design (the towers are per-sample), a floor above 0.

Found by these trials and fixed in dlcheck: curves raised AttributeError ('NoneType' object has no
attribute 'float') on any training_step target: its evaluation took the references on the logits,
and a model computing its own loss shows none. Now the references are skipped there, as
init-loss does.

By hand (~6 s a run): `dlcheck run tests/modern/tryclip_digits.py --device cpu --seed S`, S in 0-2:
every check passes (infos only). `dlcheck curves` warns DLC952, truly: the val loss is lowest at
epoch 4 and rises after (a plain AdamW loop shows the same). The planted bug
(tryclip_bug_texts_shuffled: captions shuffled apart from their images) is caught by no check of
`run`; curves warns DLC952 (overfitting) with the val loss near ln(64), which no rule can read as
chance without a reference for the target's own loss."""

from __future__ import annotations

import pytest

import dlcheck
from helpers import assert_run_passes, modern


def test_curves_evaluates_a_training_step_target_without_logits():
    result = dlcheck.check("curves", modern("tryclip_digits"), device="cpu", seed=0,
                           settings={"curves": {"epochs": 1, "val_batches": 2}})
    assert result.status != "error", (result.summary, getattr(result, "traceback", None))
    assert result.metrics, result.summary


def test_the_healthy_dual_encoder_passes_every_check():
    assert_run_passes("tryclip_digits")


def test_lr_find_reads_no_minimum_where_the_sweep_never_turned_up():
    """The normalised embeddings and the clamped logit scale keep the loss bounded at any LR: the
    sweep never diverges and is lowest at lr 10, its last. minimum/10 (lr 1) blended in suggested
    0.08 and 0.14 on seeds 0-1, where 100 AdamW steps end at 3.1-3.8 against 1.9 at 1e-3; steepest
    descent alone suggests 5e-4 and 3e-3."""
    result = dlcheck.check("lr-find", modern("tryclip_digits"), device="cpu", seed=0)
    m = result.metrics
    assert m["diverge_lr"] is None and m["min_loss_lr"] == 10.0, m
    assert m["suggested_lr"] == pytest.approx(m["steepest_lr"]) and m["suggested_lr"] < 0.01, m
    assert m["minimum/10_lr"] == 1.0, m
    assert "minimum/10 not blended" in result.summary

