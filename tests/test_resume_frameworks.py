"""resume under the frameworks' own checkpointing (issue 26, item 2): a set-up from the Lightning
integration is resumed with Lightning's Trainer checkpoint and fit(ckpt_path=...), one from
--hf-trainer with the HF Trainer's resume_from_checkpoint, and the report says which. A healthy
LightningModule (its RNG saved in on_save_checkpoint) and the README's tiny BERT Trainer resume
exactly on the CPU; a learned tensor kept as a plain attribute (DLC962) and an on_load_checkpoint
that reseeds torch (DLC965) are caught; the README's LitDigits, whose checkpoint holds no RNG
state, is warned that a resumed process repeats the first epoch's shuffle (DLC968)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning.pytorch")

import dlcheck  # noqa: E402
from dlcheck.integrations.lightning import target_of_specs  # noqa: E402

HERE = Path(__file__).resolve().parent
for folder in (HERE / "modern", HERE.parent / "docs" / "examples"):
    sys.path.insert(0, str(folder))

LIT = "Lightning's Trainer checkpoint"


def resume(target, seed=0, checks=("resume",)):
    report = dlcheck.run(target, checks=list(checks), device="cpu", seed=seed)
    return report, next(c for c in report.checks if c.name == "resume")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_healthy_lightning_module_resumes_exactly(seed):
    report, check = resume(target_of_specs("resumefw_lit_ok:LitDigits"), seed, checks=())
    assert report.status == "pass", [(c.name, c.status, [f.code for f in c.findings]) for c in report.checks]
    assert not check.findings and not check.skipped
    assert check.metrics["framework"] == "lightning" and check.metrics["checkpoint"] == "own"
    assert check.metrics["first_divergence"] is None and check.metrics["compared"] == "exactly"
    assert check.metrics["data_continues"] is True and LIT in check.summary


@pytest.mark.parametrize("name, code", [("resumefw_lit_bug_plain_attribute", "DLC962"),
                                        ("resumefw_lit_bug_reseed", "DLC965")])
def test_a_planted_lightning_resume_bug_is_caught(name, code):
    _, check = resume(target_of_specs(f"{name}:LitDigits"))
    assert check.status == "fail" and [f.code for f in check.findings] == [code]
    assert LIT in check.findings[0].message
    if code == "DLC962":
        assert "mean (plain attribute)" in check.findings[0].message


def test_lightnings_checkpoint_without_rng_repeats_the_first_epochs_shuffle():
    _, check = resume(target_of_specs("lightning_digits:LitDigits", "lightning_digits:DigitsData"))
    assert check.status == "warn" and [f.code for f in check.findings] == ["DLC968"]
    assert "on_load_checkpoint" in check.findings[0].advice
    assert check.metrics["first_divergence"] is None  # the state part, on A's batches, is exact


def test_a_healthy_hf_trainer_resumes_exactly():
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from dlcheck.integrations.transformers import target_of_factory

    _, check = resume(target_of_factory("hf_trainer_tokens:make_trainer"))
    assert check.status == "pass" and not check.findings and not check.skipped
    assert check.metrics["framework"] == "hf" and check.metrics["first_divergence"] is None
    assert check.metrics["compared"] == "exactly" and check.metrics["data_continues"] is True
    assert "HF Trainer resume_from_checkpoint" in check.summary
