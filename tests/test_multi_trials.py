"""dlcheck tried as a new user would on set-up kinds it was not written for (tests/modern/
trymulti_*.py), healthy models, random weights, scikit-learn's bundled sets: a two-head
multi-task model (digit class + mean ink intensity, training_step = CE + 0.5 MSE), a tabular
model with one nn.Embedding per quantile-binned breast-cancer column (dict batches
{"cat", "num", "y"}, forward(cat, num)), a 2-layer graph convolution over a k-NN graph of digits
(the whole graph one batch, transductive node classification, mixes_samples = True), and
digits under label smoothing 0.1 with mixup (soft targets, a floor above 0).

Found by these trials and fixed in dlcheck: data-check hashed the GCN's whole batch as inputs
although its forward() takes the batch apart its own way (inputs unknown, as its own DLC710 said)
and failed DLC715 '1797 of 1797 validation samples identical to a training sample': train and val
batches are the same graph under two masks by design. batch-independence failed DLC801 on the GCN
(with a forward returning every node's logits, mixes_samples not set) and blamed 'a view/reshape/
flatten' without saying how to declare the mixing: now a batch carrying an (n, n) input (the
adjacency) makes it a warning naming that input, and every DLC801 says how to set mixes_samples.

By hand (4-11 s a run): `dlcheck run tests/modern/trymulti_<name>.py --device cpu --seed S`, S in 0-2:
every check passes on each set-up and seed."""

from __future__ import annotations

import functools
import sys

import pytest

import dlcheck
from helpers import MODERN, modern, unhealthy

sys.path.insert(0, str(MODERN))

HEALTHY = ["trymulti_multitask_digits", "trymulti_multitask_loss_digits", "trymulti_tabular_cancer",
           "trymulti_gcn_digits", "trymulti_smooth_mixup_digits"]


@functools.lru_cache(maxsize=None)
def report(setup: str, seed: int = 0):
    return dlcheck.run(modern(setup), device="cpu", seed=seed)


@pytest.mark.parametrize("setup", HEALTHY)
def test_a_healthy_multi_setup_passes_every_check(setup):
    bad = unhealthy(report(setup), loud=True)
    assert not bad, bad


def test_the_graph_batches_train_val_overlap_is_not_guessed_when_the_forward_hides_the_inputs():
    data = next(c for c in report("trymulti_gcn_digits").checks if c.name == "data-check")
    assert not [f for f in data.findings if f.code == "DLC715"]
    notes = [f.message for f in data.findings if f.code == "DLC710"]
    assert any("overlap not measured" in n and "cannot tell which part are the inputs" in n for n in notes), notes


def _full_graph(model, batch):
    """The GCN's outputs for every node (the mask left to the loss): per-sample outputs to trace."""
    x, adj, y, _ = batch
    return model(x, adj), y


@pytest.mark.parametrize("mixes", [False, True])
def test_the_graph_models_mixing_warns_with_the_way_to_declare_it_and_is_not_judged_once_declared(mixes):
    result = dlcheck.check("batch-independence", modern("trymulti_gcn_digits"), device="cpu", seed=0,
                           forward=_full_graph, mixes_samples=mixes)
    codes = {f.code: f for f in result.findings}
    if mixes:
        assert result.status == "pass" and codes["DLC802"].severity == "info", result.findings
    else:  # a healthy GCN never fails: its batch carries the (n, n) adjacency the mixing runs through
        mixed = codes["DLC801"]
        assert result.status == "warn" and mixed.severity == "warn", result.findings
        assert "1797x1797 input relating its samples" in mixed.message, mixed.message
        assert "set mixes_samples = True in the target" in mixed.advice, mixed.advice


def test_a_training_step_alone_is_named_as_what_hides_the_outputs():
    """The model returns two heads' outputs; the training_step, not the model, returns the loss alone."""
    for name in ("batch-independence", "causality"):
        summary = next(c for c in report("trymulti_multitask_digits").checks if c.name == name).summary
        assert summary.startswith("the target's training_step returns the loss alone"), summary
        assert "forward + loss_fn" in summary, summary
