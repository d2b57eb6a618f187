"""Recipe step 7: look at the data before blaming the model.

The first N batches are streamed (one on the device at a time; every statistic is reduced there,
batch by batch): per-channel (images, (N, C, ...)) or per-feature (tables, (N, F)) mean, std and
range (raw 0-255 pixels, uncentred or unscaled inputs, constant features), NaN/Inf with the batch
and sample that hold them, duplicated samples, and the targets for their task: class labels
against the number of classes, class balance and batches dominated by one class (no shuffling);
per-position labels (tokens, pixels) counted as positions, their natural skew only a note;
regression targets' scale; multi-label prevalence. Integer inputs (token ids) get no mean/std.
Then the pairing control (pairing.py, judged in verdict.py) on the few batches kept: a short fit
of the same initial model with the true and with permuted labels.

Reading (reader.py, parts.py; under torchrun reduce.py) fills one plain dataclass of measured
numbers (measure.py); each finding is a small pure rule reading it, the task and the settings
(rules.py, verdict.py); metrics, details and summary are functions of it (report.py).
"""

from __future__ import annotations

from dlcheck.checks.data_check import leakage, pairing, reader
from dlcheck.checks.data_check.measure import InputSummary, LabelSummary, Measured, complete
from dlcheck.checks.data_check.report import details, metrics, summary
from dlcheck.checks.data_check.rules import DATA_RULES, RULES, obstacle
from dlcheck.checks.data_check.stream_rules import INPUT_RULES
from dlcheck.checks.data_check.verdict import PAIRING_RULES, curves, pairing_metrics
from dlcheck.context import Context
from dlcheck.results import CheckResult
from dlcheck.rules import judge

NAME = "data-check"
SETTINGS = {
    "batches": 20,  # batches of the train loader inspected (streamed: one on the device at a time)
    "raw_max": 25.0,  # image inputs in [0, 255] whose maximum exceeds this are raw pixels (DLC701)
    "centre_tolerance": 0.3,  # |mean| above this (and above centre_share x std): not zero-centred (DLC702)
    "centre_share": 0.5,  # ... a mean within this share of the std is spread, not an offset
    "std_low": 0.1,  # std below this: not unit-scale (DLC702)
    "std_high": 10.0,  # std above this: not unit-scale (DLC702; one such table feature is enough)
    "uncentred_share": 0.25,  # tables: share of features off-centre or too small that warns
    "pixel_levels": 256,  # a table of pixel_row_min+ features whose first batch holds at most this many distinct
    "pixel_row_min": 16,  # values shares one grid (pixels flattened to a row): judged as one channel
    "constant_share": 0.25,  # constant features/channels: a warning above this share, else a note
    "imbalance_ratio": 10.0,  # largest / smallest class count that warns (DLC706)
    "max_classes": 100_000,  # labels beyond this with no num_classes known: counting skipped
    "entropy_ratio": 0.5,  # per-batch label entropy / that of shuffled batches, below: sorted (DLC707)
    "duplicate_share": 0.05,  # share of duplicated samples that warns (DLC708), else a note
    "target_scale": 10.0,  # regression: a target column whose RMS (sqrt(mean^2 + std^2)) exceeds this
    #                        is not standardised (DLC711): outputs start near 0, far from it
    "target_std_low": 1e-3,  # regression: a varying target column with a std below this (DLC711)
    "prevalence_low": 0.01,  # multi-label: a label positive in fewer (or more than 1 - this) of the
    #                          samples is a note; one never (or always) positive warns (DLC712)
    "prevalence_min_samples": 50,  # ... judged only over at least this many samples
    "dominant_share": 0.9,  # one class value this share of the targets, counted by the loss: DLC713 ...
    "pad_share": 0.25,  # ... a padding-like value (pad_edge_share, pad_input_share) already at this share
    "pad_edge_share": 0.9,  # padding-like: this share of the value's sequence positions fill a row's start or end
    "pad_input_share": 0.8,  # ... and of those, this share where token-id inputs run at the row's edge too
    "dominant_min_targets": 100,  # DLC713 judged over at least this many labels
    "soft_sum_tolerance": 0.01,  # soft targets of cross-entropy: a row summing above 1 + this is not a
    #                              distribution (multi-hot labels: DLC714)
    "multihot_share": 0.05,  # ... a warning when this share of the rows does, else a note
    "copy_min_samples": 32,  # each sample's target found verbatim in its own inputs (DLC716) is said
    #                          over at least this many samples whose targets vary
    "pairing": True,  # run the pairing control (DLC709)
    "pair_batches": 4,  # batches in the pairing subset (spread over the batches read)
    "pair_holdout": 6,  # further batches (at most a third of those read), not trained on, on which both
    #                     runs are judged afterwards
    "pair_steps": 40,  # optimizer steps per run (true labels, permuted labels)
    "pair_max_steps": 160,  # without evidence of pairing after pair_steps, both runs again this long
    #                         before a verdict (0: never) ...
    "pair_max_batches": 12,  # ... on this many batches (pair_batches among them): random labels take a
    #                          wider subset longer to memorise, true ones generalise within it
    "pair_margin": 0.1,  # paired when the true labels learn this much more on the subset (share of
    #                      initial loss - floor) ...
    "pair_ratio": 1.5,  # ... and this many times as much as the permuted ones
    "pair_apart_gap": 0.05,  # DLC709 needs the two runs alike: the true labels at most this much ahead
    #                          (share of initial - floor) and ending no pair_ratio x lower; in between
    #                          (ahead, but not by the margin) the control is inconclusive
    "pair_holdout_margin": 0.05,  # paired when the held-out loss falls this much more (share of
    #                               initial - floor) after training on true than on permuted labels
    "pair_holdout_accuracy": 0.1,  # paired, too, when the held-out accuracy after the true labels is this much
    "pair_holdout_z": 3.0,  # ... above that after the permuted ones, and this many standard errors apart
    "pair_hint_z": 2.0,  # runs that learned too little of the subset to judge (pair_memorised), with a held-out
    #                      accuracy lead of pair_holdout_accuracy and this many standard errors: inconclusive, and
    #                      a narrower subset's DLC709 does not stand
    "pair_memorised": 0.12,  # DLC709 needs one run to end this far below the best constant output
    #                          (share of constant - floor): the model can fit the subset in the steps
    #                          given; below it the control is inconclusive
    "pair_memorised_all": 0.8,  # both runs this far below the constant: the subset has no room left to show a
    #                             lead, and a held-out accuracy lead of pair_holdout_accuracy short of
    #                             pair_holdout_z is inconclusive, not DLC709
    "pair_init_ratio": 10.0,  # a loss at step 1 above this many times that of outputs at zero: the
    #                           init dominates, an alike pair of runs is inconclusive, not DLC709
    "leak_samples": 20_000,  # samples read from each of train and val loader to find val samples in train
    #                          (DLC715; a digest of 16 bytes each is kept)
    "leak_fail_share": 0.05,  # a share of validation samples found in training that fails (else warns)
    "leak_duplicate_factor": 2.0,  # overlap up to this x the train set's own repeat share is what a random
    #                                split of data with identical records gives: a note, not a leak
    "leak_chance_count": 1,  # this many validation samples in training, no more: a note (a pair split apart)
    "leak_examples": 3,  # overlapping samples named in the message
}

def run(ctx: Context) -> CheckResult:
    s, result, task = ctx.settings, ctx.result, ctx.task
    read = reader.read(ctx)
    if read.slot is not None and read.measured.target_kind not in ("none", "parts") \
            and not obstacle(read.measured, task, s):  # labels out of range, NaN: no loss to compare
        read.measured.labels_used, read.measured.labels_read = pairing.labels_used(ctx, read.first, read.slot)
    m = complete(ctx, read.measured)
    m.leakage = leakage.measure(ctx, m.inputs_known)
    result.metrics.update({**metrics(m, s), **leakage.metrics(m.leakage)})
    result.details.update({**details(m, s), **leakage.details(m.leakage)})
    result.findings += judge(DATA_RULES, m, task, s)
    if s["pairing"]:
        m.pairing = pairing.measure(ctx, read.kept, read.slot, skip=obstacle(m, task, s))
        for true, perm in m.pairing.judged:
            _keep_curves(result, *curves(true, perm))
        result.metrics.update(pairing_metrics(m.pairing, s))
        result.findings += judge(PAIRING_RULES, m, task, s)
    result.summary = summary(m, s) + leakage.summary(m.leakage)
    return result


def _keep_curves(result: CheckResult, true_curve: list[float], perm_curve: list[float]) -> None:
    rows = [{"step": i + 1, "true_labels": t, "permuted_labels": p}
            for i, (t, p) in enumerate(zip(true_curve, perm_curve))]
    result.table("pairing.csv", rows)
    result.figure("data_pairing_curves", "pairing control", file="pairing.png", true_losses=true_curve,
                  permuted_losses=perm_curve)


__all__ = ["NAME", "SETTINGS", "run", "Measured", "InputSummary", "LabelSummary", "RULES", "INPUT_RULES"]

from .fixes import FIXES  # noqa: E402,F401  (the fixes --verify-fixes tries; dlcheck.fixes)
