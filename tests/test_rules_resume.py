"""resume's rules on hand-built runs: one case per code, and healthy runs (exact, or a divergence
the cause of which is already named) that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

from dlcheck.checks import resume as rs
from dlcheck.rules import judge
from rulecase import Case, Quiet

S = rs.SETTINGS


def first(step=19, loss=False, grads=False, lr=False, params=False, lr_a=(1e-3,), lr_b=(1e-3,)) -> dict:
    return {"step": step, "loss": loss, "grads": grads, "lr": lr, "params": params, "loss_a": 1.5,
            "loss_b": 1.5 + (0.01 if loss else 0.0), "lr_a": list(lr_a), "lr_b": list(lr_b)}


def measured(**kw) -> rs.Measured:
    base = dict(own=True, k=19, m=3, epoch=19, at_epoch_end=True)
    base.update(kw)
    return rs.Measured(**base)


HEALTHY = measured()
CASES = [
    Case("DLC961", rs.not_loadable, measured(load_error="'load_checkpoint' in t.py raised KeyError: 'optimizer'"),
         None, S, says=("could not be restored", "KeyError")),
    Case("DLC962", rs.state_missing, measured(not_restored=[("scale", "plain attribute", False)]), None, S,
         says=("1 not in model.state_dict(): scale (plain attribute)",), advises=("register_buffer",)),
    Case("DLC962", rs.state_missing, measured(not_restored=[("0.weight", "parameter", True)]), None, S,
         name="not-loaded", says=("in the state_dict but not loaded: 0.weight",), advises=("load_state_dict",)),
    Case("DLC963", rs.optimizer_state, measured(first=first(params=True)), None, S,
         says=("step 19", "optimizer's state")),
    Case("DLC964", rs.lr_differs, measured(first=first(step=20, lr=True, params=True, lr_b=(5e-4,))), None, S,
         says=("step 20", "[0.0005] resumed vs [0.001]")),
    Case("DLC965", rs.rng_not_restored, measured(first=first(loss=True, grads=True, params=True), uses_rng=True,
                                                 rng_restored=False), None, S, says=("dropout",)),
    Case("DLC966", rs.diverges, measured(first=first(loss=True, grads=True, params=True), uses_rng=False), None,
         S, says=("loss, grads, params differ",)),
    Case("DLC967", rs.stream_restarts, measured(own=False, at_epoch_end=False, k=2, epoch=75, continues=False,
                                                data_state="sampler"), None, S,
         severity="warn", says=("after 2 of 75 batches", "a new pass", "sampler's state_dict was saved")),
    # the user's own checkpoint functions are not handed the loader: dlcheck cannot see the data resume
    Case("DLC967", rs.stream_restarts, measured(at_epoch_end=False, k=2, epoch=75, continues=False), None, S,
         severity="info", name="own-plain", says=("after 2 of 75 batches", "cannot see whether")),
    Case("DLC967", rs.stream_restarts, measured(at_epoch_end=False, k=2, epoch=75, continues=False,
                                                framework="Lightning's Trainer checkpoint"), None, S,
         severity="warn", name="framework", says=("after 2 of 75 batches",)),
    Case("DLC967", rs.stream_restarts, measured(own=False, at_epoch_end=False, k=2, epoch=None, continues=False),
         None, S, severity="info", name="unknown-length", says=("of an epoch of unknown length",)),
    Case("DLC967", rs.stream_restarts, measured(own=False, at_epoch_end=False, k=2, epoch=75, continues=False,
                                                repeats_start=True), None, S, severity="info", name="default",
         says=("its first batches again",)),
    Case("DLC968", rs.epoch_repeats, measured(continues=False, repeats_start=True, epoch_differs=True), None, S,
         says=("repeats epoch 1's order",)),
]

QUIET = [
    *[Quiet(rule, HEALTHY, None, S) for rule in rs.RULES],
    # the cause is named by DLC962: the divergence that follows is not said again
    Quiet(rs.diverges, measured(first=first(loss=True), not_restored=[("scale", "buffer", True)]), None, S,
          name="missing-first"),
    # the loss differs, but the step draws no random numbers: not the RNG
    Quiet(rs.rng_not_restored, measured(first=first(loss=True), uses_rng=False, rng_restored=False), None, S,
          name="no-dropout"),
    # an unshuffled loader reads the same order every epoch: a resume that repeats it is right
    Quiet(rs.epoch_repeats, measured(continues=True, repeats_start=False, epoch_differs=False), None, S,
          name="unshuffled"),
    # another random order after an epoch-end resume (RNG not restored) is no repeat
    Quiet(rs.epoch_repeats, measured(continues=False, repeats_start=False, epoch_differs=True), None, S,
          name="new-shuffle"),
    Quiet(rs.stream_restarts, measured(continues=False), None, S, name="epoch-end"),
    Quiet(rs.state_missing, measured(skipped="too few batches", not_restored=[("x", "buffer", True)]), None, S,
          name="skipped"),
]


def test_rules_are_pure_and_in_report_order():
    m = measured(first=first(params=True), at_epoch_end=False, continues=False)
    assert [f.code for f in judge(rs.RULES, m, None, S)] == ["DLC963", "DLC967"]
    assert m.first["params"] is True  # judging changed nothing


def test_summary_and_metrics_are_functions_of_the_numbers():
    assert rs.summary(HEALTHY) == "resumed after 19 steps, 3 steps match the uninterrupted run exactly"
    assert rs.summary(measured(own=False)).endswith("your own checkpointing was not exercised "
                                                    "(define save_checkpoint/load_checkpoint)")
    assert rs.summary(measured(first=first(step=20, lr=True))) == \
        "the resumed run differs from the uninterrupted one from step 20"
    metrics = rs.metrics(HEALTHY)
    assert metrics["first_divergence"] is None and metrics["checkpoint"] == "own"
    assert metrics["compared"] == "exactly"
    assert rs.metrics(measured(exact=False, rtol=1e-4))["compared"] == "within rtol 0.0001"
