"""The optimizer check's rules: one pure function per finding code, judging :class:`Measured`
against the settings; the summary and metrics are functions of it too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlcheck.checks.optimizer_setup.measure import Measured
from dlcheck.results import Finding, listing
from dlcheck.rules import finding

Settings = Mapping[str, Any]


def _names(names: list[str], s: Settings) -> str:
    return listing([f"'{n}'" for n in names], int(s["names_shown"]))


def absent(m: Measured, task, s: Settings) -> Finding | None:
    """DLC971: trainable parameters in no param group never change; fail when the output layer
    is among them or they are most of what should train."""
    if not m.absent:
        return None
    share = m.absent_elements / m.trainable_elements if m.trainable_elements else 0.0
    matters = bool(m.output_absent) or share >= float(s["absent_fail_share"])
    head = f"; the output layer '{m.output_layer}' is among them" if m.output_absent else ""
    foreign = ""
    if m.foreign:
        none = ", none of which gets a gradient" if m.stepped and m.foreign_no_grad == m.foreign else ""
        foreign = (f". The optimizer holds {m.foreign} other tensor(s) that are not the model's{none}: its factory "
                   f"builds it from parameters it took elsewhere, not from the params it is handed (taken "
                   f"before a layer was replaced, or from another instance of the model)")
    return finding("DLC971", f"{len(m.absent)} of {m.trainable} trainable parameters ({share:.0%} of the "
                             f"trainable elements) are in no param group of the {m.optimizer} optimizer, so "
                             f"they never change: {_names(m.absent, s)}{head}{foreign}",
                   severity="fail" if matters else "warn")


def without_gradient(m: Measured, task, s: Settings) -> Finding | None:
    """DLC972: parameters of the model that the optimizer updates and that got no gradient in the
    training step (tensors that are not the model's are DLC971's story)."""
    if not m.no_grad:
        return None
    return finding("DLC972", f"{len(m.no_grad)} of the model's parameters in the optimizer got no gradient "
                             f"(grad None after backward) in one training step: {_names(m.no_grad, s)}. The "
                             f"loss does not depend on them on this batch: a module never called, or one whose "
                             f"output the loss does not use (a BertModel's pooler under a head that reads "
                             f"last_hidden_state), or, in a model that routes (mixture of experts, layer drop), "
                             f"one not chosen for this batch. DistributedDataParallel stops with its unused-parameter "
                             f"error unless find_unused_parameters=True, and they take memory without learning")


def coupled_decay(m: Measured, task, s: Settings) -> Finding | None:
    """DLC973: weight_decay in Adam (Adamax, NAdam, RAdam) is an L2 term, not decoupled decay."""
    if not m.coupled:
        return None
    values = sorted({wd for _, wd in m.coupled})
    shown = ", ".join(f"{v:g}" for v in values)
    groups = "" if len(m.groups) == 1 else f" (param group {listing([g for g, _ in m.coupled])})"
    return finding("DLC973", f"{m.optimizer} with weight_decay={shown}{groups} adds an L2 term to the gradient, "
                             f"which the adaptive step then divides by the gradient's scale: parameters with "
                             f"large gradients are hardly decayed. Decoupled weight decay (AdamW) was most "
                             f"likely meant",
                   advice=f"Use torch.optim.AdamW(params, lr=lr, weight_decay={values[-1]:g}) (or set "
                          f"decoupled_weight_decay=True); AdamW's decay is usually tuned larger (0.01-0.1), "
                          f"so check it with dlcheck grid.")


def decay_on_exempt(m: Measured, task, s: Settings) -> Finding | None:
    """DLC974 (info): a large weight decay also pulls norm weights and biases towards zero."""
    norms, biases = m.decayed.get("norm", []), m.decayed.get("bias", [])
    if not (norms or biases) or m.decay < float(s["exempt_decay_min"]):
        return None
    parts = [f"{len(v)} {k} parameter(s)" for k, v in (("normalisation-layer", norms), ("bias", biases)) if v]
    embeddings = m.decayed.get("embedding", [])
    emb = (f"; also {len(embeddings)} embedding table(s), which recipes differ on (minGPT exempts them, "
           f"nanoGPT decays them)") if embeddings else ""
    return finding("DLC974", f"weight decay {m.decay:g} also applies to {' and '.join(parts)} "
                             f"({_names(norms + biases, s)}): it pulls norm scales and biases towards 0, "
                             f"which no regulariser needs (BERT, GPT-2 and timm recipes exempt them){emb}")


RULES = (absent, without_gradient, coupled_decay, decay_on_exempt)


def summary(m: Measured) -> str:
    groups = f"{len(m.groups)} param group{'s' if len(m.groups) != 1 else ''}"
    left = f", {len(m.absent)} trainable left out" if m.absent else ""
    unused = f", {len(m.no_grad)} without a gradient" if m.no_grad else ""
    return f"{m.optimizer}, {groups} over {m.trainable} trainable parameters{left}{unused}"


def metrics(m: Measured) -> dict:
    return {"optimizer": m.optimizer, "param_groups": len(m.groups), "trainable": m.trainable,
            "absent": len(m.absent), "absent_share": round(m.absent_elements / m.trainable_elements, 4)
            if m.trainable_elements else 0.0, "no_gradient": len(m.no_grad),
            "foreign": m.foreign, "output_layer": m.output_layer}
