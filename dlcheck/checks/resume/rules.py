"""resume's rules (DLC961-968), its summary and metrics: functions of the measured runs alone
(dlcheck/rules.py). The state part's findings are fails (training really changes on a resume);
the data part's are warnings when the target's own checkpointing says it resumes, else info
(dlcheck cannot know whether the user resumes at all)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlcheck.results import Finding, listing
from dlcheck.rules import finding

from .measure import Measured

Settings = Mapping[str, Any]


def _how(m: Measured) -> str:
    if m.framework:
        return m.framework
    return ("the target's save_checkpoint/load_checkpoint" if m.own else
            "dlcheck's default checkpoint (model, optimizer" + (", scheduler" if m.has_scheduler else "")
            + (f", {m.data_state}" if m.data_state else "") + " state_dicts and RNG states)")


def _where(m: Measured) -> str:
    return f"after {m.k} steps, resumed from {_how(m)}" + (" in a fresh process" if m.fresh_process else "")


def _judged(m: Measured) -> bool:
    return m.skipped is None and m.load_error is None


# -- the state part -------------------------------------------------------------------------
def not_loadable(m: Measured, task, s: Settings) -> Finding | None:
    """DLC961: the checkpoint could not be saved, or not loaded into a freshly built model."""
    if m.skipped is None and m.load_error is not None:
        return finding("DLC961", f"the checkpoint {_where(m)} could not be restored: {m.load_error}")


def state_missing(m: Measured, task, s: Settings) -> Finding | None:
    """DLC962: tensors of the model differ right after loading (missing from the state_dict, or not loaded)."""
    if not _judged(m) or not m.not_restored:
        return None
    shown = int(s["names_shown"])
    missing = [f"{n} ({kind})" for n, kind, kept in m.not_restored if not kept]
    skipped = [n for n, _, kept in m.not_restored if kept]
    parts = []
    if missing:
        parts.append(f"{len(missing)} not in model.state_dict(): {listing(missing[:shown])}")
    if skipped:
        parts.append(f"{len(skipped)} in the state_dict but not loaded: {listing(skipped[:shown])}")
    advice = None
    if not missing:
        advice = "load the model's state_dict in load_checkpoint (model.load_state_dict(checkpoint['model']))"
    return finding("DLC962", f"{len(m.not_restored)} tensor(s) of the model differ from the saved run right "
                             f"after loading the checkpoint {_where(m)}: {'; '.join(parts)}", advice=advice or "")


def _cause(m: Measured) -> str | None:
    """The cause of the first divergence, where it can be told apart (None: not told apart)."""
    f = m.first
    if f is None or m.not_restored:
        return None
    if f["loss"] or f["grads"]:
        return "rng" if m.uses_rng and not m.rng_restored else None
    if not f.get("seen", True):  # no LR or gradients recorded (an optimizer without step hooks)
        return None
    if f["lr"]:
        return "lr"
    return "optimizer" if f["params"] else None


def _step_text(m: Measured) -> str:
    f = m.first
    return f"step {f['step']} (resumed step {f['step'] - m.k + 1}; loss {f['loss_a']:.6g} uninterrupted vs " \
           f"{f['loss_b']:.6g} resumed)"


def optimizer_state(m: Measured, task, s: Settings) -> Finding | None:
    """DLC963: the same gradients give a different update: the optimizer's state was not restored."""
    if _judged(m) and _cause(m) == "optimizer":
        return finding("DLC963", f"the resumed run first differs at {_step_text(m)}: the same weights, "
                                 f"gradients and LR give a different update, so the optimizer's state (moments, "
                                 f"step counts) was not restored by {_how(m)}")


def lr_differs(m: Measured, task, s: Settings) -> Finding | None:
    """DLC964: the learning rate differs after resuming: the scheduler's state was not restored."""
    if _judged(m) and _cause(m) == "lr":
        f = m.first
        return finding("DLC964", f"the resumed run first differs at {_step_text(m)}: the LR is {f['lr_b']} "
                                 f"resumed vs {f['lr_a']} uninterrupted, with the same weights and gradients")


def rng_not_restored(m: Measured, task, s: Settings) -> Finding | None:
    """DLC965: the same weights give another loss: the RNG (dropout) was not restored."""
    if _judged(m) and _cause(m) == "rng":
        return finding("DLC965", f"the resumed run first differs at {_step_text(m)}: the same weights on the "
                                 f"same batch give another loss, the training step draws random numbers "
                                 f"(dropout) and {_how(m)} did not restore the RNG states")


def diverges(m: Measured, task, s: Settings) -> Finding | None:
    """DLC966: the resumed run differs, for a cause not told apart."""
    if _judged(m) and m.first is not None and not m.not_restored and _cause(m) is None:
        f = m.first
        what = [name for name in ("loss", "grads", "lr", "params") if f[name]]
        return finding("DLC966", f"the resumed run first differs at {_step_text(m)} ({', '.join(what)} differ), "
                                 f"although every tensor of the model was restored")


# -- the data part ----------------------------------------------------------------------------
def _data_severity(m: Measured) -> str:
    return "warn" if m.own else "info"


def stream_restarts(m: Measured, task, s: Settings) -> Finding | None:
    """DLC967: a mid-epoch resume reads the epoch from its start again. A warning where the resume that
    positions the loader was observed (a framework's own resume, or a loader's or sampler's saved state
    loaded) and still restarts; else a note (a plain loader cannot resume mid-epoch, but dlcheck cannot
    see whether the user checkpoints mid-epoch, nor how the user's own load_checkpoint, which is not
    handed the loader, positions it)."""
    if m.skipped is None and not m.at_epoch_end and not m.continues:
        how = "its first batches again" if m.repeats_start else "a new pass over the whole epoch"
        kept = f", although its {m.data_state}'s state_dict was saved and loaded" if m.data_state else ""
        of = f"of {m.epoch} batches" if m.epoch else "batches of an epoch of unknown length"
        seen = bool(m.data_state or m.framework)
        unseen = "" if seen else " (dlcheck cannot see whether your training checkpoints mid-epoch)"
        return finding("DLC967", f"resumed mid-epoch (after {m.k} {of}), the rebuilt "
                                 f"train_loader reads {how} instead of batch {m.k} on{kept}: from a mid-epoch "
                                 f"checkpoint the {m.k} batches already seen in this epoch come again{unseen}",
                       severity="warn" if seen else "info")


def epoch_repeats(m: Measured, task, s: Settings) -> Finding | None:
    """DLC968: a resumed epoch repeats the first epoch's order (the loader factory seeds its shuffle with a constant)."""
    if m.skipped is None and m.at_epoch_end and not m.continues and m.repeats_start and m.epoch_differs:
        return finding("DLC968", f"resumed at the end of epoch 1 ({m.k} batches), the train_loader rebuilt by "
                                 f"its factory repeats epoch 1's order, where the uninterrupted run reads a new "
                                 f"shuffle: every resumed run starts its epochs over with the same order",
                       severity=_data_severity(m))


#: The rules, in the order their findings are reported.
RULES = (not_loadable, state_missing, optimizer_state, lr_differs, rng_not_restored, diverges, stream_restarts,
         epoch_repeats)


# -- summary and metrics --------------------------------------------------------------------
def metrics(m: Measured) -> dict:
    out = {"steps_before": m.k, "steps_after": m.m, "at_epoch_end": m.at_epoch_end, "epoch_batches": m.epoch,
           "checkpoint": "own" if m.own else "default", "fresh_model": m.fresh,
           "compared": "exactly" if m.exact else f"within rtol {m.rtol:g}", "data_continues": m.continues,
           "fresh_process": m.fresh_process, "data_state": m.data_state}
    if m.framework_kind:
        out["framework"] = m.framework_kind
    if _judged(m):
        out["first_divergence"] = None if m.first is None else m.first["step"]
        out["tensors_not_restored"] = len(m.not_restored)
        out["tensors_rewritten"] = len(m.rewritten)  # differed after loading, rewritten by the first step
    return out


def summary(m: Measured) -> str:
    if m.skipped:
        return f"not judged: {m.skipped}"
    if m.load_error:
        return f"the checkpoint could not be restored ({_how(m)})"
    note = f" with {m.framework}" if m.framework else "" if m.own else \
        "; your own checkpointing was not exercised (define save_checkpoint/load_checkpoint)"
    if m.fresh_process:
        note += "; resumed in a fresh process"
    if m.data_state:
        note += f"; the {m.data_state}'s state was saved and restored"
    if m.fresh == "copy":
        note += "; 'model' is an object, so the resumed model is a copy of it, not freshly built"
    if m.first is None and not m.not_restored:
        same = "exactly" if m.exact else f"within rtol {m.rtol:g}"
        return f"resumed after {m.k} steps, {m.m} steps match the uninterrupted run {same}{note}"
    step = m.k if m.not_restored else m.first["step"]
    return f"the resumed run differs from the uninterrupted one from step {step}{note}"
