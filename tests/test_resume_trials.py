"""resume tried as a new user would (tests/modern/tryres_*): other authors' architectures and set-ups
the resume tests were not written for -- torchvision's resnet18 with SGD+momentum+StepLR, a BatchNorm
CNN with OneCycleLR and gradient clipping, a tiny GPT-2 and a tiny BERT computing their own loss, random
v2 augmentation read by num_workers=2, an IterableDataset, a model given as an object, a
LightningModule with a per-step scheduler, ReduceLROnPlateau, a hand-written transformer keeping its
last attention map in a plain attribute. Each resumes exactly on the CPU; a scheduler left out of the
GPT-2's checkpoint and the RNG left out of the augmented CNN's are caught; checkpoint functions whose
scheduler parameter has another name are called right, and a signature dlcheck cannot call is bad
input (exit 2), not a resume finding.

By hand (minutes each): `dlcheck.run(path, device="cpu", seed=s)` for s in 0-2 passes every check on
tryres_resnet_steplr, tryres_gpt2, tryres_aug_workers and tryres_bert_iterable too."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
from torch.utils.data import DataLoader, IterableDataset

import dlcheck
from dlcheck.checks.resume import checkpoint as ck
from dlcheck.checks.resume.measure import epoch_length
from dlcheck.errors import UserError
from helpers import unhealthy

MODERN = Path(__file__).resolve().parent / "modern"
sys.path.insert(0, str(MODERN))
CHECK = "resume"
#: healthy set-ups, cheap enough for every CI run (resume alone, seed 0)
QUICK = ["tryres_onecycle_clip", "tryres_object_model", "tryres_named_lr_scheduler", "tryres_bert_iterable",
         "tryres_own_long_epoch", "tryres_attn_cache", "tryres_plateau", "tryres_param_groups"]
#: heavier ones (torchvision's resnet18, a GPT-2, two loader workers)
HEAVY = ["tryres_resnet_steplr", "tryres_gpt2", "tryres_aug_workers"]


def path(setup: str) -> str:
    return str(MODERN / f"{setup}.py")


@functools.lru_cache(maxsize=None)
def resume(setup: str, seed: int = 0, fresh: bool = False):
    settings = {"resume": {"fresh_process": True}} if fresh else None
    return dlcheck.check(CHECK, path(setup), device="cpu", seed=seed, settings=settings)


def assert_exact(result):
    loud = [(f.code, f.message) for f in result.findings if f.severity != "info"]
    assert result.status == "pass" and not loud and not result.skipped, (result.summary, loud)
    assert result.metrics["first_divergence"] is None and result.metrics["tensors_not_restored"] == 0
    assert result.metrics["compared"] == "exactly" and "exactly" in result.summary


@pytest.mark.parametrize("setup", QUICK + [pytest.param(s, marks=pytest.mark.slow) for s in HEAVY])
def test_a_healthy_trial_resumes_exactly(setup):
    assert_exact(resume(setup))


#: every check of `dlcheck run` on seeds 0-2 (the heavier trials and tryres_bert_iterable pass too, but
#: take minutes: run by hand, see the module's docstring)
FULL = [s for s in QUICK if s != "tryres_bert_iterable"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("setup", FULL)
def test_a_healthy_trial_passes_every_check(setup, seed):
    report = dlcheck.run(path(setup), device="cpu", seed=seed)
    bad = unhealthy(report)
    assert not bad, bad
    assert_exact(next(c for c in report.checks if c.name == CHECK))


@pytest.mark.slow
def test_a_healthy_trial_resumes_exactly_in_a_fresh_process():
    result = resume("tryres_named_lr_scheduler", 1, fresh=True)
    assert_exact(result)
    assert result.metrics["fresh_process"] is True


def test_an_iterable_dataset_resumes_mid_epoch_of_unknown_length():
    result = resume("tryres_bert_iterable")
    assert result.metrics["epoch_batches"] is None and result.metrics["at_epoch_end"] is False
    found = {f.code: f for f in result.findings}
    assert found["DLC967"].severity == "info" and "unknown length" in found["DLC967"].message


def test_a_cache_each_forward_overwrites_is_not_state_missing_from_the_checkpoint():
    result = resume("tryres_attn_cache")  # attn.last_attn: a plain attribute, rewritten by every forward
    assert result.metrics["tensors_rewritten"] == 1 and not result.findings


def test_own_checkpointing_resumed_mid_epoch_is_a_note_not_a_warning():
    result = resume("tryres_own_long_epoch")
    assert result.metrics["checkpoint"] == "own" and result.metrics["at_epoch_end"] is False
    found = {f.code: f for f in result.findings}
    assert found["DLC967"].severity == "info" and "cannot see whether" in found["DLC967"].message
    assert "StatefulDataLoader" in found["DLC967"].advice


class _Stream(IterableDataset):
    def __iter__(self):
        return iter(range(10))


def test_epoch_length_of_a_loader_over_an_iterable_dataset_is_unknown():
    assert epoch_length(DataLoader(_Stream(), batch_size=2)) is None
    assert epoch_length(DataLoader(list(range(10)), batch_size=3)) == 4
    assert epoch_length(iter([1, 2])) is None


def test_a_lightning_module_with_a_per_step_scheduler_resumes_exactly():
    pytest.importorskip("lightning.pytorch")
    from dlcheck.integrations.lightning import target_of_specs

    report = dlcheck.run(target_of_specs("tryres_lightning:LitCNN"), checks=[CHECK], device="cpu", seed=0)
    result = next(c for c in report.checks if c.name == CHECK)
    assert_exact(result)
    assert result.metrics["framework"] == "lightning"


@pytest.mark.parametrize("setup, code, words", [
    ("tryres_bug_gpt2_scheduler", "DLC964", "the LR is"),
    ("tryres_bug_aug_rng", "DLC965", "did not restore the RNG"),
    ("tryres_bug_plateau", "DLC964", "the LR is"),
])
def test_a_planted_bug_in_a_trial_is_caught(setup, code, words):
    result = resume(setup)
    assert result.status == "fail", result.summary
    assert [f.code for f in result.findings if f.severity in ("warn", "fail")] == [code]
    assert words in result.findings[0].message and result.findings[0].advice


def test_a_scheduler_parameter_of_another_name_is_passed_by_position():
    calls = []

    def save(path, model, optimizer, lr_scheduler):
        calls.append(lr_scheduler)

    def load(path, model, optimizer, scheduler=None):
        calls.append(scheduler)

    assert ck.bound_args(save, "'save'", "p", "m", "o", "s") == (("p", "m", "o", "s"), {})
    assert ck.bound_args(load, "'load'", "p", "m", "o", "s") == (("p", "m", "o"), {"scheduler": "s"})
    assert ck.bound_args(load, "'load'", "p", "m", "o", None) == (("p", "m", "o"), {})


def test_a_checkpoint_function_dlcheck_cannot_call_is_bad_input():
    def load(model, path):
        pass

    with pytest.raises(UserError, match=r"has the signature load\(model, path\), but dlcheck calls "
                                        r"load\(path, model, optimizer\)"):
        ck.bound_args(load, "'load' in x.py", "p", "m", "o", None)
    result = resume("tryres_bad_load_signature")
    assert result.status == "error" and "load_checkpoint(path, model, optimizer)" in result.summary


def test_a_save_checkpoint_that_raises_is_named_with_what_it_raised():
    result = resume("tryres_bad_save_raises")
    assert result.status == "fail" and [f.code for f in result.findings] == ["DLC961"]
    assert "'save_checkpoint' in" in result.findings[0].message and "does not exist" in result.findings[0].message
