"""Targets the loss reads wrongly (issue 20, items 2 and 4), in data-check: a value that dominates
the targets and that the loss counts (padding in a language model: DLC713), and multi-hot labels
under a softmax cross-entropy (DLC714). Set-ups in tests/modern/targets20_*.py, each healthy one
proved to learn by a plain PyTorch loop here; then the planted bug is caught on seeds 0-2 and its
healthy twin comes out of every check of `dlcheck run` clean."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import torch

import dlcheck
from helpers import load_setup

MODERN = Path(__file__).resolve().parent / "modern"
TASKS = Path(__file__).resolve().parent / "tasks"
NEW = {"DLC713", "DLC714"}


def load(name: str):
    return load_setup(MODERN / f"{name}.py")


def train(t, epochs: int):
    """A plain loop over the target's own pieces: the trained model."""
    torch.manual_seed(0)
    model = t.model()
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    forward = getattr(t, "forward", lambda model, batch: (model(batch[0]), batch[1]))
    for _ in range(epochs):
        for batch in t.train_loader():
            loss = t.loss_fn(*forward(model, batch))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def test_the_padded_lm_learns_its_sequences_with_the_padding_ignored():
    t = load("targets20_lm_pad_ignored")
    from _targets20_data import PAD, X_VAL, Y_VAL
    assert 0.7 < float((Y_VAL == PAD).float().mean()) < 0.8  # the padding: 70-80 % of the targets
    model = train(t, 10)
    with torch.no_grad():
        guess = model(X_VAL).argmax(-1)
    counted = (Y_VAL != PAD)
    counted[:, 0] = False  # the step of a held-out sequence is not known from its first token
    acc = float((guess[counted] == Y_VAL[counted]).float().mean())
    assert acc > 0.9, acc  # held-out sequences (no start, step and length seen in training) continued


def test_multihot_digits_learn_under_bce():
    t = load("targets20_multihot_bce")
    from _targets20_data import MH_X_VAL, MH_Y_VAL
    assert set(MH_Y_VAL.sum(1).long().tolist()) == {1, 2, 3, 4}
    model = train(t, 15)
    with torch.no_grad():
        exact = float(((model(MH_X_VAL) > 0).float() == MH_Y_VAL).all(1).float().mean())
    assert exact > 0.85, exact  # every one of the 14 labels right


def test_mixup_digits_learn():
    t = load("targets20_mixup_digits")
    model = train(t, 15)
    with torch.no_grad():
        acc = float((model(t.MH_X_VAL).argmax(1) == t.Y_VAL).float().mean())
    assert acc > 0.9, acc


@functools.lru_cache(maxsize=None)
def data_check(path: str, seed: int):
    return dlcheck.check("data-check", path, device="cpu", seed=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_padding_the_loss_counts_is_named_with_its_share_and_ignore_index(seed):
    c = data_check(str(MODERN / "targets20_bug_lm_pad_counted.py"), seed)
    f = next(f for f in c.findings if f.code == "DLC713")
    assert c.status == "warn" and f.severity == "warn", (c.status, c.summary)
    assert "label 0 is 77% of the" in f.message and "padding" in f.message, f.message
    assert "ignore_index=0" in f.advice, f.advice
    said = {f.code: f.message for f in c.findings}
    assert "DLC709" not in said  # not "inputs and labels have come apart": the pairing says why it skipped
    assert any("pairing control skipped" in f.message and "DLC713" in f.message for f in c.findings), said


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multihot_labels_under_cross_entropy_advise_bce(seed):
    c = data_check(str(MODERN / "targets20_bug_multihot_ce.py"), seed)
    f = next(f for f in c.findings if f.code == "DLC714")
    assert f.severity == "warn" and "multi-hot" in f.message and "BCEWithLogitsLoss" in f.advice, f


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("path", [MODERN / "targets20_mixup_digits.py", TASKS / "ok_smoothed_ce_wine.py",
                                  TASKS / "ok_multilabel_digits.py", TASKS / "ok_segmentation_fcn.py"])
def test_healthy_soft_labels_and_background_stay_quiet(path, seed):
    """Mixup's and label smoothing's soft targets sum to 1; segmentation's background (60-75 %) is
    the nature of the data, not a loss that counts the wrong thing."""
    c = data_check(str(path), seed)
    assert c.status == "pass" and not NEW & {f.code for f in c.findings}, (c.status, c.summary)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("setup", ["targets20_lm_pad_ignored", "targets20_multihot_bce", "targets20_mixup_digits"])
def test_the_healthy_twins_pass_every_check(setup, seed):
    report = dlcheck.run(str(MODERN / f"{setup}.py"), device="cpu", seed=seed)
    for c in report.checks:
        assert c.status == "pass", (c.name, c.status, c.summary, [(f.code, f.message) for f in c.findings])
        assert not c.skipped or c.reason, c.name
        assert not NEW & {f.code for f in c.findings}, c.name


def test_under_torchrun_the_edges_and_row_sums_are_reduced_over_ranks(tmp_path):
    """Two ranks, each reading every other batch: the padding evidence and the row sums are summed
    over ranks (dominance.reduce_ranks, multihot.reduce_ranks), so the verdicts are the global ones."""
    import json
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(Path(dlcheck.__file__).parent.parent), "OMP_NUM_THREADS": "1"}
    for setup, code in (("targets20_bug_lm_pad_counted", "DLC713"), ("targets20_bug_multihot_ce", "DLC714")):
        out = tmp_path / f"{setup}.json"
        subprocess.run([sys.executable, "-m", "dlcheck", "run", str(MODERN / f"{setup}.py"), "--nproc", "2",
                        "--checks", "data-check", "--json", str(out), "-q"], env=env, timeout=180)
        check = json.loads(out.read_text())["checks"][0]
        found = {f["code"]: f for f in check["findings"]}
        assert found[code]["severity"] == "warn", found
        assert ("77%" if code == "DLC713" else "(90%)") in found[code]["message"], found[code]
