"""resume's fresh process, its stateful data stream and its API names (tests/modern/resumep_*):
with ``--fresh-process`` the resumed run is a new Python process importing the target anew, so a
resume that works only because of state kept in the process (random features cached at module
level) is caught, while the healthy set-ups resume exactly there too; dlcheck's default checkpoint
saves and restores a resumable sampler's state, so a mid-epoch resume continues the stream; and
``dlcheck.run()`` takes scheduler / save_checkpoint / load_checkpoint as objects."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest

import dlcheck
from helpers import unhealthy

MODERN = Path(__file__).resolve().parent / "modern"
CHECK = "resume"
FRESH = {"resume": {"fresh_process": True}}


def path(setup: str) -> str:
    return str(MODERN / f"{setup}.py")


@functools.lru_cache(maxsize=None)
def full_run(setup: str, seed: int):
    return dlcheck.run(path(setup), device="cpu", seed=seed)


@pytest.mark.parametrize("setup", ["resume_default", "resume_own", "resumep_sampler"])
def test_healthy_setups_resume_exactly_in_a_fresh_process(setup):
    result = dlcheck.check(CHECK, path(setup), device="cpu", settings=FRESH)
    assert result.status == "pass" and not result.findings, (result.summary, result.findings)
    assert result.metrics["fresh_process"] is True and result.metrics["compared"] == "exactly"
    assert result.metrics["first_divergence"] is None and result.metrics["data_continues"] is True
    assert "resumed in a fresh process" in result.summary


def test_state_kept_in_the_process_is_caught_only_in_a_fresh_process(cli):
    here = dlcheck.check(CHECK, path("resumep_bug_cached_features"), device="cpu")
    assert here.status == "pass" and here.metrics["fresh_process"] is False, (here.summary, here.findings)
    out = cli(CHECK, path("resumep_bug_cached_features"), "--device", "cpu", "--fresh-process", "--json", "-")
    result = json.loads(out.stdout)["checks"][0]
    assert out.exit_code == 1 and result["status"] == "fail", out.stdout
    assert [f["code"] for f in result["findings"]] == ["DLC962"]
    assert "projection (non-persistent buffer)" in result["findings"][0]["message"]
    assert "in a fresh process" in result["findings"][0]["message"]


@pytest.mark.parametrize("setup, at_end", [("resumep_sampler", False), ("resumep_sampler_epoch", True)])
def test_a_resumable_sampler_continues_the_stream(setup, at_end):
    result = dlcheck.check(CHECK, path(setup), device="cpu")
    assert result.status == "pass" and not result.findings, (result.summary, result.findings)
    assert result.metrics["at_epoch_end"] is at_end and result.metrics["data_state"] == "sampler"
    assert result.metrics["data_continues"] is True
    assert "the sampler's state was saved and restored" in result.summary


def test_a_plain_loader_mid_epoch_keeps_its_advice():
    result = dlcheck.check(CHECK, path("resume_mid_epoch"), device="cpu")
    assert result.metrics["data_state"] is None and result.metrics["data_continues"] is False
    found = {f.code: f for f in result.findings}
    assert "StatefulDataLoader" in found["DLC967"].advice


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_sampler_setup_passes_every_check(seed):
    report = full_run("resumep_sampler", seed)
    bad = unhealthy(report)
    assert not bad, bad


def _parts(setup: str):
    sys.path.insert(0, str(MODERN))
    try:
        import importlib

        return importlib.import_module(setup)
    finally:
        sys.path.remove(str(MODERN))


def test_the_api_takes_the_checkpointing_names_as_objects():
    own = _parts("resume_own")
    result = dlcheck.check(CHECK, model=own.mlp, train_loader=own.train_loader, num_classes=10, device="cpu",
                           scheduler=own.scheduler, save_checkpoint=own.save_checkpoint,
                           load_checkpoint=own.load_checkpoint)
    assert result.status == "pass" and result.metrics["checkpoint"] == "own", (result.summary, result.findings)
    bug = _parts("resume_bug_no_optimizer")
    result = dlcheck.check(CHECK, path("resume_default"), device="cpu", save_checkpoint=bug.save_checkpoint,
                           load_checkpoint=bug.load_checkpoint)
    assert result.metrics["checkpoint"] == "own"
    assert [f.code for f in result.findings if f.severity == "fail"] == ["DLC963"]
    with pytest.raises(dlcheck.errors.UserError, match="scheduler"):
        dlcheck.check(CHECK, model=own.mlp, train_loader=own.train_loader, device="cpu", scheduler=3)
