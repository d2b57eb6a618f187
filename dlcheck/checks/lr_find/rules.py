"""lr-find's rules: numbers in, finding out (dlcheck/rules.py). Each reads the :class:`Evidence`
(the sweep's curve, the probe's runs, the suggestions, the LR judged) and the settings; the
summary, metrics and details are functions of the same numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dlcheck.checks.lr_find.measure import Evidence
from dlcheck.checks.lr_find.suggest import (best_run, blended, onset, open_ended, run_fell, runs_of, sweep_fell,
                                            usable, your_run_judges)
from dlcheck.lr_rules import Run, spread
from dlcheck.results import Finding, rounded
from dlcheck.rules import finding
from dlcheck.task import Task

Settings = Mapping[str, Any]

#: Powers of the world size a factory's LR scaling is recognised as (linear, square root, squared).
WORLD_POWERS = {1.0: "N", 0.5: "sqrt(N)", 2.0: "N^2"}


# -- words --------------------------------------------------------------------------------------
def _way(share: float, floor: float | None) -> str:
    """A fall as a share of the way to the floor; without a known floor (task `other`), as a share
    of the loss's magnitude at init (lr_rules.span_of), said as such."""
    if floor is None:
        return f"{share:.0%} below its start (no known floor)"
    return f"{share:.0%} of the way to the floor"


def _too_few(ev: Evidence) -> str:
    c = ev.curve
    where = f"it diverged at lr {c.diverge_lr:.3g}" if c.diverge_lr else "the sweep stopped early"
    return f"only {c.usable} usable points: {where}"


def _seen(ev: Evidence) -> str:
    c = ev.curve
    to = f" (floor {c.floor:.3g})" if c.floor is not None else ""
    return (f"the sweep's loss did not fall from lr {c.lrs[0]:.3g} to {c.lrs[c.usable - 1]:.3g}: "
            f"{c.initial:.3g} at init, at best {c.best:.3g}, {_way(max(c.fall, 0), c.floor)}{to}")


def _no_lr_fell(ev: Evidence, s: Settings) -> str:
    runs = runs_of(ev)
    tried = f"; nor did {s['probe_steps']} steps at a fixed lr of " + \
        ", ".join(f"{lr:g}" for lr in sorted({r.lr for r in runs}, reverse=True)) if runs else ""
    return "no learning rate made the loss fall: " + _seen(ev) + tried


def _shown(ev: Evidence) -> str:
    return ", ".join(f"{name} {lr:.2g}" for name, lr in ev.rules.items())


def _rules_spread(ev: Evidence) -> float:
    """How far the rules behind the suggestion agree (a factor)."""
    return spread([ev.rules[name] for name in blended(ev)])


def _yours_fell(ev: Evidence, s: Settings) -> bool:
    return ev.yours is not None and run_fell(ev.yours, float(s["min_fall"]), s)


NO_STRETCH = "the curve has no falling stretch to suggest from"


def _base_summary(ev: Evidence, s: Settings) -> str:
    c = ev.curve
    if not usable(ev, s):
        return _too_few(ev)
    if not sweep_fell(c, s):
        best = best_run(ev, s)
        if best is None:
            return _no_lr_fell(ev, s)
        text = (f"plateau: the sweep saw no fall, {s['probe_steps']} steps at lr {best.lr:g} "
                f"brought the loss {_way(best.fall, best.floor)}; suggested lr {best.lr:g}")
        if _yours_fell(ev, s):
            text += f"; your lr {ev.yours.lr:g} brought it {_way(ev.yours.fall, ev.yours.floor)} too"
        return text
    if not ev.rules:
        return NO_STRETCH
    scaled = f"; x{s['plain_sgd_factor']:g} for SGD without momentum" if ev.plain_sgd else ""
    if "minimum/10" in ev.rules and open_ended(c):
        scaled += "; minimum/10 not blended: the sweep's lowest point is its last, with no turn up seen"
    return f"suggested lr {ev.suggested:.2g} ({_shown(ev)}{scaled})" + \
        (f"; diverges from {c.diverge_lr:.2g}" if c.diverge_lr else "")


def summary(ev: Evidence, s: Settings) -> str:
    text = _base_summary(ev, s)
    best = _probe_best(ev, s)
    if best is not None:
        text += f"; probe: best of {len(ev.probe)} is lr {best['lr']:g} ({_way(best['drop'], ev.curve.floor)})"
    return text


def _probe_best(ev: Evidence, s: Settings) -> dict | None:
    """The probe's best row, when the sweep fell (after no fall, the summary says it already)."""
    if ev.probe is None:
        return None
    scored = [r for r in (_row(run, s) for run in ev.probe) if r["drop"] is not None]
    return max(scored, key=lambda r: r["drop"]) if scored and sweep_fell(ev.curve, s) else None


def _row(run: Run, s: Settings) -> dict:
    ok = math.isfinite(run.end)
    return {"lr": run.lr, "steps": len(run.losses),
            "initial_loss": rounded(run.losses[0]) if run.losses else None,
            "final_loss": rounded(run.end) if ok else str(run.end),
            "drop": rounded(run.fall) if ok else None,  # share of the way from init to the floor
            "fell": run_fell(run, float(s["min_fall"]), s)}


# -- metrics and details ------------------------------------------------------------------------
def metrics(ev: Evidence, s: Settings) -> dict:
    c = ev.curve
    m = {"steps": len(c.losses), "planned_steps": int(s["steps"]), "lr": ev.handed_lr,
         "effective_lr": rounded(ev.lr), "lr_configured": ev.configured, "diverge_lr": rounded(c.diverge_lr)}
    if not usable(ev, s):
        return m
    m.update({"initial_loss": rounded(c.initial), "loss_noise": rounded(c.noise), "floor": rounded(c.floor),
              "min_loss": rounded(c.best), "min_loss_lr": rounded(c.lrs[c.best_index]), "fall": rounded(c.fall)})
    if not sweep_fell(c, s):
        if ev.suggested is not None:
            m.update({"suggested_lr": rounded(ev.suggested), "suggested_by": "probe"})
    else:
        first = onset(c, s)
        m["onset_lr"] = rounded(c.lrs[first]) if first is not None else None
        m.update({f"{name}_lr": rounded(lr) for name, lr in ev.rules.items()})
        if ev.rules:
            m.update({"suggested_lr": rounded(ev.suggested), "rules_spread": rounded(_rules_spread(ev)),
                      "suggested_by": "blend x plain_sgd_factor" if ev.plain_sgd else "blend"})
    if your_run_judges(ev, s):
        m["your_lr_fall"] = rounded(ev.yours.fall) if math.isfinite(ev.yours.fall) else None
    scale = _world_scale(ev, s)
    if scale is not None:
        m["lr_world_scale"] = rounded(scale)
    best = _probe_best(ev, s)
    if best is not None:
        m["probe_best_lr"] = best["lr"]
    return m


def details(ev: Evidence, s: Settings) -> dict:
    out = {}
    if usable(ev, s) and sweep_fell(ev.curve, s) and ev.rules:
        out["suggestions"] = [{"rule": name, "lr": rounded(lr), "blended": name in blended(ev)}
                              for name, lr in ev.rules.items()]
    if ev.probe is not None:
        out["probe"] = [_row(r, s) for r in ev.probe]
        if ev.yours is not None:
            out["your_lr_run"] = _row(ev.yours, s)
    return out


# -- rules: one per finding code ----------------------------------------------------------------
def unusable(ev: Evidence, task: Task, s: Settings) -> Finding | None:
    """DLC305: too few points before the divergence, or no falling stretch to suggest from."""
    c = ev.curve
    if not usable(ev, s):
        where = f"it diverged at lr {c.diverge_lr:.3g}" if c.diverge_lr else "the sweep stopped early"
        return finding("DLC305", f"only {c.usable} points before the loss diverged ({where}); lower "
                                 f"--start-lr (now {s['start_lr']:g}) or raise --steps")
    if sweep_fell(c, s) and not ev.rules:
        return finding("DLC305", NO_STRETCH)


def no_fall(ev: Evidence, task: Task, s: Settings) -> Finding | None:
    """DLC301: nothing falls, in the sweep nor at any fixed LR run."""
    if usable(ev, s) and not sweep_fell(ev.curve, s) and best_run(ev, s) is None:
        return finding("DLC301", _no_lr_fell(ev, s))


def plateau(ev: Evidence, task: Task, s: Settings) -> Finding | None:
    """DLC306: only the sweep saw no fall (a plateau it passed by); a note when your own LR trains."""
    c = ev.curve
    if not usable(ev, s) or sweep_fell(c, s):
        return None
    best = best_run(ev, s)
    if best is None:
        return None
    steps = int(s["steps"])
    per_decade = steps / max(math.log10(float(s["end_lr"]) / float(s["start_lr"])), 1e-9)
    return finding("DLC306", f"{_seen(ev)}; but {s['probe_steps']} steps at a fixed lr {best.lr:g} brought it "
                             f"{c.initial:.3g} -> {best.end:.3g} ({best.fall:.0%} of the way down): the model "
                             f"sits on a plateau before it learns, and a {steps}-step sweep (about "
                             f"{per_decade:.0f} steps per decade of lr) moves on before it gets off",
                   advice=f"The model is not dead. For a curve, sweep longer (--steps {4 * steps}) "
                          f"or over a narrower range (--start-lr {best.lr / 100:.0e}); otherwise train at "
                          f"the probe's best lr {best.lr:g}, or one near it that fell too.",
                   severity="info" if _yours_fell(ev, s) else None)


def disagree(ev: Evidence, task: Task, s: Settings) -> Finding | None:
    """DLC304 (info): the rules behind the suggestion are far apart."""
    if not usable(ev, s) or not sweep_fell(ev.curve, s) or not ev.rules:
        return None
    factor = _rules_spread(ev)
    if factor > float(s["disagree"]):
        return finding("DLC304", f"the rules behind the suggestion are {factor:.0f}x apart ({_shown(ev)})")


def above_divergence(ev: Evidence, task: Task, s: Settings) -> Finding | None:
    """DLC302: your LR is where the sweep diverged (a note for dlcheck's default)."""
    c, lr = ev.curve, ev.lr
    if ev.suggested is not None and c.diverge_lr is not None and lr >= c.diverge_lr:
        return finding("DLC302", f"{ev.source} {lr:g} is at or above {c.diverge_lr:.2g}, where the loss "
                                 f"diverged in the sweep; suggested {ev.suggested:.2g}",
                       severity=None if ev.configured else "info")


def far_below(ev: Evidence, task: Task, s: Settings) -> Finding | None:
    """DLC303: far below the suggestion, and a short run at it does not make the loss fall (far
    below alone is information: a short sweep's optimum sits above the best LR of a full run)."""
    c, lr, suggested = ev.curve, ev.lr, ev.suggested
    if suggested is None or (c.diverge_lr is not None and lr >= c.diverge_lr) or lr * float(s["far_below"]) >= suggested:
        return None
    below = f"{ev.source} {lr:g} is {suggested / lr:.0f}x below the suggested {suggested:.2g}"
    first = onset(c, s)
    if first is not None and c.lrs[first] <= lr:
        return finding("DLC303", f"{below}, but in the sweep the loss was already falling at lr "
                                 f"{c.lrs[first]:.2g}: it trains, if slowly", severity="info")
    if not ev.configured:  # dlcheck's own default is no one's mistake: not worth a run
        return finding("DLC303", below, severity="info")
    run = ev.yours
    if run_fell(run, float(s["slow_fall"]), s):
        return finding("DLC303", f"{below}, but {len(run.losses)} steps at it brought the loss "
                                 f"{_way(run.fall, run.floor)}: it trains", severity="info")
    what = _way(run.fall, run.floor) if run.finite else "to a non-finite loss"
    return finding("DLC303", f"{below}, and {len(run.losses)} steps at it brought the loss only "
                             f"{what} ({run.initial:.3g} -> {run.end:.3g})")


def _world_scale(ev: Evidence, s: Settings) -> float | None:
    """Under torchrun with N > 1 ranks: the factory's scale of the lr it is handed, when it is a
    power of N and the LR it trains at is at or above where the sweep diverged, or more than
    far_below above the suggestion."""
    c, lr, suggested = ev.curve, ev.lr, ev.suggested
    if ev.world < 2 or suggested is None or not ev.handed_lr or not ev.factory:
        return None
    scale = lr / ev.handed_lr
    if not any(math.isclose(scale, ev.world ** k, rel_tol=0.02) for k in WORLD_POWERS):
        return None
    diverges = c.diverge_lr is not None and lr >= c.diverge_lr
    return scale if diverges or lr > float(s["far_below"]) * suggested else None


def world_scaled(ev: Evidence, task: Task, s: Settings) -> Finding | None:
    """DLC016: the factory multiplies the lr it is handed by a power of the world size (N,
    sqrt(N), N^2, within 2 %) and trains out of range. The sweep runs in DDP (gradients averaged
    over ranks), so its suggestion is already for the global batch: a scaling on top of an LR that
    was right for it, or a second scaling, is what overshoots. In range, it is not flagged."""
    scale = _world_scale(ev, s)
    if scale is None:
        return None
    c, lr, suggested, world = ev.curve, ev.lr, ev.suggested, ev.world
    power = next(k for k in WORLD_POWERS if math.isclose(scale, world ** k, rel_tol=0.02))
    diverges = c.diverge_lr is not None and lr >= c.diverge_lr
    where = (f"at or above {c.diverge_lr:.2g}, where the sweep diverged" if diverges else
             f"{lr / suggested:.0f}x the suggested {suggested:.2g}")
    return finding("DLC016", f"your optimizer factory multiplies the lr it is handed ({ev.handed_lr:g}) by "
                             f"{scale:g} = {WORLD_POWERS[power]} for the {world} ranks and trains at "
                             f"{lr:g}, {where} for the global batch; lr-find's suggestion "
                             f"{suggested:.2g} is already for the global batch (DDP averages the "
                             f"ranks' gradients): the lr was scaled for the world size twice, or "
                             f"scaled although it was tuned for the global batch")


#: The rules, in the order their findings are reported.
RULES = (unusable, no_fall, plateau, disagree, above_divergence, far_below, world_scaled)
