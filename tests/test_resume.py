"""resume on digits MLPs with dropout written the way a practitioner writes a train_setup.py
(tests/modern/resume_*): the healthy set-ups (dlcheck's default checkpointing, and the target's
own save_checkpoint/load_checkpoint with a scheduler) resume exactly on the CPU and pass every
check of `dlcheck run` on seeds 0-2; each planted resume bug is caught by its code."""

from __future__ import annotations

import functools
import glob
import os
import tempfile
from pathlib import Path

import pytest
import torch

import dlcheck
from helpers import unhealthy

MODERN = Path(__file__).resolve().parent / "modern"
CHECK = "resume"
HEALTHY = ["resume_default", "resume_own"]
#: planted bug -> its code (and the severity it must carry)
CAUGHT = {
    "resume_bug_no_optimizer": ("DLC963", "fail"),
    "resume_bug_rng": ("DLC965", "fail"),
    "resume_bug_plain_attribute": ("DLC962", "fail"),
    "resume_bug_nonpersistent": ("DLC962", "fail"),
    "resume_bug_scheduler": ("DLC964", "fail"),
    "resume_bug_constant_seed": ("DLC968", "warn"),
}


def path(setup: str) -> str:
    return str(MODERN / f"{setup}.py")


@functools.lru_cache(maxsize=None)
def full_run(setup: str, seed: int):
    return dlcheck.run(path(setup), device="cpu", seed=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("setup", HEALTHY)
def test_healthy_setup_passes_every_check(setup, seed):
    report = full_run(setup, seed)
    bad = unhealthy(report)
    assert not bad, bad
    resume = next(c for c in report.checks if c.name == CHECK)
    assert not resume.skipped and resume.metrics["first_divergence"] is None
    assert resume.metrics["compared"] == "exactly" and resume.metrics["at_epoch_end"] is True
    assert "exactly" in resume.summary


def test_the_default_checkpoint_says_the_own_was_not_exercised():
    resume = next(c for c in full_run("resume_default", 0).checks if c.name == CHECK)
    assert resume.metrics["checkpoint"] == "default"
    assert "your own checkpointing was not exercised" in resume.summary
    own = next(c for c in full_run("resume_own", 0).checks if c.name == CHECK)
    assert own.metrics["checkpoint"] == "own" and "not exercised" not in own.summary


@pytest.mark.parametrize("setup", list(CAUGHT))
def test_planted_bug_is_caught(setup):
    code, severity = CAUGHT[setup]
    result = dlcheck.check(CHECK, path(setup), device="cpu")
    found = {f.code: f for f in result.findings}
    assert code in found, f"missed {code}: {result.status} {result.summary} {sorted(found)}"
    assert found[code].severity == severity and found[code].advice
    assert result.status == severity
    assert [f.code for f in result.findings if f.severity in ("warn", "fail")] == [code]


def test_a_mid_epoch_resume_of_a_plain_loader_says_what_to_do_and_the_state_passes():
    result = dlcheck.check(CHECK, path("resume_mid_epoch"), device="cpu")
    assert result.status == "pass" and result.metrics["at_epoch_end"] is False
    assert result.metrics["first_divergence"] is None
    found = {f.code: f for f in result.findings}
    assert found["DLC967"].severity == "info"  # default checkpointing: dlcheck cannot know that the user resumes
    assert "StatefulDataLoader" in found["DLC967"].advice and "Hugging Face Trainer" in found["DLC967"].advice


def test_the_checkpoint_is_removed_and_a_model_object_handed_back():
    import sys

    sys.path.insert(0, str(MODERN))
    from _resume_data import mlp, train_loader

    torch.manual_seed(0)
    model = mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    left = set(glob.glob(os.path.join(tempfile.gettempdir(), "dlcheck-resume-*")))
    result = dlcheck.check(CHECK, model=model, train_loader=train_loader, device="cpu")
    assert result.status == "pass", (result.summary, result.findings)
    assert result.metrics["fresh_model"] == "copy" and "not freshly built" in result.summary
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "dlcheck-resume-*"))) == left
