"""grid's rules: pure functions of the measured grid (dlcheck/rules.py), one per finding code, in
report order, with the summary and the metrics. The verdicts that end the reading (every trial
diverged, nothing learned) are read off the numbers by the rules after them (``_judged``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dlcheck.checks.grid.trials import Cell, Outcome, Plan
from dlcheck.results import Finding, listing, rounded
from dlcheck.rules import finding
from dlcheck.task import References
from dlcheck.training import fall

Settings = Mapping[str, Any]


@dataclass
class Measured:
    """What grid measured: every cell's outcome, the val loss at init, and the set-up it is read against."""

    cells: list[Cell]
    outcomes: dict[str, Outcome]  # by Cell.key
    initial_loss: float
    plan: Plan
    refs: References = field(default_factory=References)
    initial_accuracy: float | None = None
    source: str = "--lrs"  # where the centre LR came from ("--lr", "the target's lr", ...)
    lr: float = 0.0  # the LR the target trains with (its optimizer's, at the requested LR)
    wd: float = 0.0  # the weight decay the target's optimizer sets
    storage: bool = False  # a --storage was given (the grid resumes)
    run_here: list[str] = field(default_factory=list)  # keys of the cells trained by this worker

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.rows if o.status == status]

    @property
    def rows(self) -> list[Outcome]:
        """The outcomes by LR, then by weight decay from strongest."""
        return [self.outcomes[c.key] for c in sorted(self.cells, key=lambda c: (c.lr, -c.wd))]

    @property
    def done(self) -> list[Outcome]:
        return [o for o in self.rows if o.status == "done" and o.val_loss is not None]

    @property
    def finished(self) -> list[Outcome]:
        return [o for o in self.rows if o.status in ("done", "pruned", "diverged")]

    @property
    def all_diverged(self) -> bool:
        return bool(self.finished) and len(self.of("diverged")) == len(self.finished)

    @property
    def best(self) -> Outcome | None:
        return min(self.done, key=lambda o: (o.val_loss, o.cell.lr, -o.cell.wd)) if self.done else None

    @property
    def falls(self) -> dict[str, float]:
        """How far each finished trial's best val loss fell from init toward the floor."""
        return {o.cell.key: fall(self.initial_loss, o.best_val_loss, self.refs.floor) for o in self.finished
                if o.best_val_loss is not None}


def _learned(m: Measured, s: Settings) -> bool:
    return max(m.falls.values(), default=-math.inf) >= float(s["min_fall"])


def _judged(m: Measured, s: Settings) -> bool:
    """A best cell to judge: some trial finished, and some trial learned (DLC902 / DLC903 not said)."""
    return bool(m.done) and _learned(m, s)


def _wd_share(m: Measured) -> tuple[list[Outcome], float, float] | None:
    """At the best LR: the row, the spread of its val losses and that spread's share of the best's
    excess over the floor; None unless every cell of the row is done (and there are two)."""
    best = m.best
    row = [m.outcomes[c.key] for c in m.cells if c.lr == best.cell.lr]
    if len(row) < 2 or any(o.status != "done" for o in row):
        return None
    spread = max(o.val_loss for o in row) - min(o.val_loss for o in row)
    return row, spread, spread / max(best.val_loss - (m.refs.floor or 0.0), 1e-12)


def _no_effect(m: Measured, s: Settings) -> bool:
    share = _wd_share(m)
    return share is not None and share[2] < float(s["wd_tolerance"])


def _row_best(m: Measured, lr: float) -> float:
    values = [m.outcomes[c.key].val_loss for c in m.cells if c.lr == lr and m.outcomes[c.key].status == "done"]
    return min(values, default=math.inf)


def _lr_edge(m: Measured, s: Settings) -> tuple[bool, float, float] | None:
    """The best LR on the grid's edge, beating the next LR's best by the margin: (low, next lr, its loss)."""
    lrs, best = sorted({c.lr for c in m.cells}), m.best
    if len(lrs) < 2 or best.cell.lr not in (lrs[0], lrs[-1]):
        return None
    low = best.cell.lr == lrs[0]
    next_lr = lrs[1] if low else lrs[-2]
    neighbour = _row_best(m, next_lr)
    if not best.val_loss < neighbour * (1 - float(s["edge_margin"])):
        return None
    return low, next_lr, neighbour


# -- the rules, in report order ---------------------------------------------------------------
def incomplete(m: Measured, task, s: Settings) -> Finding | None:
    """DLC906 (warn): cells without a finished trial (the budget, or other workers still running)."""
    left = [o for o in m.rows if o.status not in ("done", "pruned", "diverged")]
    if not left:
        return None
    return finding("DLC906", f"{len(left)} of {len(m.cells)} cells have no finished trial "
                             f"({listing(_cell_words(o.cell) + ': ' + o.status for o in left)})",
                   advice="Run the same command again (with the same --storage it resumes the grid), or raise --budget."
                   if m.storage else "Raise --budget, or use --storage to resume the grid later.")


def all_diverged(m: Measured, task, s: Settings) -> Finding | None:
    """DLC902 (fail): every trial that finished diverged."""
    if not m.all_diverged:
        return None
    lo, hi = _g(min(c.lr for c in m.cells)), _g(max(c.lr for c in m.cells))
    return finding("DLC902", f"all {len(m.of('diverged'))} trials diverged within "
                             f"{_epochs(m.plan.epochs(m.plan.total))}, at every lr from {lo} to {hi}",
                   advice=f"Lower the learning rate: run dlcheck lr-find and centre the grid on its suggestion "
                          f"(--lr, or --lrs below {lo}).")


def nothing_learned(m: Measured, task, s: Settings) -> Finding | None:
    """DLC903 (fail): no trial brought the val loss down a share of the way to the floor."""
    if not m.done or _learned(m, s):
        return None
    to = f" (floor {m.refs.floor:.3g})" if m.refs.floor is not None else ""
    return finding("DLC903", f"no trial brought the val loss down: {m.initial_loss:.4g} at init, at best "
                             f"{min(o.best_val_loss for o in m.finished if o.best_val_loss is not None):.4g}{to}, "
                             f"under {float(s['min_fall']):.0%} of the way to the floor, at every lr from "
                             f"{_g(min(c.lr for c in m.cells))} to {_g(max(c.lr for c in m.cells))}",
                   advice="Run dlcheck lr-find for an LR that trains (and dlcheck overfit-small: can the model learn "
                          "at all?), then centre the grid there.")


def some_diverged(m: Measured, task, s: Settings) -> Finding | None:
    """DLC907 (info): some trials diverged; the best is chosen among the others."""
    diverged = m.of("diverged")
    if not diverged or not _judged(m, s):
        return None
    return finding("DLC907", f"{len(diverged)} trial(s) diverged: {listing(_cell_words(o.cell) for o in diverged)}")


def wd_no_effect(m: Measured, task, s: Settings) -> Finding | None:
    """DLC904 (info): at the best LR, every weight decay gives about the same val loss."""
    if not _judged(m, s) or not _no_effect(m, s):
        return None
    row, spread, share = _wd_share(m)
    return finding("DLC904", f"weight decay makes no difference at this budget: at lr {_g(m.best.cell.lr)} the val "
                             f"loss spans {spread:.3g} ({share:.1%}) over weight decays "
                             f"{', '.join(f'{o.cell.wd:g}' for o in row)}")


def best_on_edge(m: Measured, task, s: Settings) -> list[Finding] | None:
    """DLC901 (warn): the best cell on the grid's edge (Deep Learning Tuning Playbook: widen the range)."""
    if not _judged(m, s):
        return None
    found, best = [], m.best
    edge = _lr_edge(m, s)
    if edge is not None:
        low, next_lr, neighbour = edge
        lrs = sorted({c.lr for c in m.cells})
        step = lrs[1] / lrs[0] if low else lrs[-1] / lrs[-2]
        new = [best.cell.lr / step, best.cell.lr, best.cell.lr * step]
        direction = "lower" if low else "higher"
        there = (f"{neighbour:.4g} at the next lr {_g(next_lr)}" if math.isfinite(neighbour)
                 else f"no finished trial at the next lr {_g(next_lr)}")
        found.append(finding("DLC901", f"the best lr {_g(best.cell.lr)} is the {'lowest' if low else 'highest'} of "
                                       f"the grid (val loss {best.val_loss:.4g}; {there}): the optimum may lie "
                                       f"{direction}, outside the grid",
                             advice=f"Widen the grid toward {direction} learning rates: --lrs "
                                    f"{','.join(_g(v) for v in new)}."))
    wd_edge = _wd_edge(m, s)
    if wd_edge is not None:
        found.append(wd_edge)
    return found or None


def _wd_edge(m: Measured, s: Settings) -> Finding | None:
    """DLC901 for the weight decay: the best is the strongest of the grid, or the weakest above 0."""
    wds, best = sorted({c.wd for c in m.cells}), m.best
    if _no_effect(m, s) or len(wds) < 2:
        return None
    same_lr = {c.wd: m.outcomes[c.key] for c in m.cells if c.lr == best.cell.lr}
    top, bottom = wds[-1], wds[0]
    if best.cell.wd == top and top > 0:
        nxt = same_lr.get(wds[-2])
        if nxt is None or nxt.status != "done" or best.val_loss < nxt.val_loss * (1 - float(s["edge_margin"])):
            return finding("DLC901", f"the best weight decay {top:g} is the largest of the grid: more decay may help",
                           advice=f"Widen the grid toward stronger weight decay: "
                                  f"--weight-decays {top * 10:g},{top:g},{top / 10:g}.")
    elif best.cell.wd == bottom and bottom > 0:
        return finding("DLC901", f"the best weight decay {bottom:g} is the smallest of the grid, and above 0",
                       advice=f"Widen the grid toward weaker weight decay: --weight-decays "
                              f"{bottom:g},{bottom / 10:g},0.")
    return None


def far_from_configured(m: Measured, task, s: Settings) -> list[Finding] | None:
    """DLC905 (warn): the best cell far from the LR / WD the target is configured with, and better
    than the configured value's own cells by a margin (where the grid holds them)."""
    if not _judged(m, s):
        return None
    best, found = m.best, []
    factor = float(s["far_factor"]) * (1 + 1e-6)
    margin = 1 + float(s["far_margin"])

    def close_enough(values) -> bool:  # the configured value's cells came within the margin of the best
        return bool(values) and min(values) <= best.val_loss * margin

    def done(c: Cell) -> bool:
        return m.outcomes[c.key].status == "done"

    if m.source in ("--lr", "the target's lr"):
        lr = m.lr
        ratio = max(best.cell.lr / lr, lr / best.cell.lr)
        own = [m.outcomes[c.key].val_loss for c in m.cells if math.isclose(c.lr, lr, rel_tol=1e-3) and done(c)]
        if ratio > factor and not close_enough(own):
            found.append(finding("DLC905", f"the best lr {_g(best.cell.lr)} is {ratio:.0f}x "
                                           f"{'above' if best.cell.lr > lr else 'below'} the lr you train with "
                                           f"({_g(lr)}, {m.source})",
                                 advice=f"Train at about {_g(best.cell.lr)}, or check it with "
                                        f"dlcheck curves --lr {_g(best.cell.lr)}."))
    if _no_effect(m, s):
        return found or None
    wd, b = m.wd, best.cell.wd
    far = (wd == 0) != (b == 0) or (wd > 0 and b > 0 and max(wd / b, b / wd) > factor)
    own = [m.outcomes[c.key].val_loss for c in m.cells
           if c.lr == best.cell.lr and math.isclose(c.wd, wd, abs_tol=1e-12) and done(c)]
    if far and not close_enough(own):
        found.append(finding("DLC905", f"the best weight decay {b:g} is far from the one your optimizer sets ({wd:g})"
                                       + (f", which gave {min(own):.4g} against {best.val_loss:.4g}" if own else ""),
                             advice=f"Set weight_decay={b:g} in the optimizer factory, or check it with dlcheck "
                                    f"curves --weight-decay {b:g}."))
    return found or None


#: The rules, in the order their findings are reported.
RULES = (incomplete, all_diverged, nothing_learned, some_diverged, wd_no_effect, best_on_edge, far_from_configured)


# -- summary and metrics ----------------------------------------------------------------------
def summary(m: Measured) -> str:
    if m.all_diverged:
        return f"every trial diverged (lr {listing(sorted({_g(o.cell.lr) for o in m.of('diverged')}))})"
    best = m.best
    if best is None:
        return "no trial finished" if not m.finished else "every trial that finished was pruned or diverged"
    acc = f", val accuracy {best.val_accuracy:.1%}" if best.val_accuracy is not None else ""
    notes = ", ".join(f"{n} {w}" for n, w in ((len(m.of("pruned")), "pruned"), (len(m.of("diverged")), "diverged"))
                      if n)
    return (f"best lr {_g(best.cell.lr)}, weight decay {best.cell.wd:g}: val loss {best.val_loss:.4g}{acc} "
            f"after {_epochs(m.plan.epochs(m.plan.total))} ({len(m.cells)} cells{', ' + notes if notes else ''})")


def metrics(m: Measured, s: Settings) -> dict:
    out = {"trials": len(m.cells), "finished": len(m.finished), "pruned": len(m.of("pruned")),
           "diverged": len(m.of("diverged")), "run_here": len(m.run_here),
           "steps_trained": sum(o.steps for o in m.rows),
           "steps_trained_here": sum(m.outcomes[k].steps for k in m.run_here),
           "initial_val_loss": rounded(m.initial_loss), "floor": rounded(m.refs.floor),
           "initial_val_accuracy": rounded(m.initial_accuracy)}
    best = m.best
    if best is None or m.all_diverged:
        return out
    out.update({"best_lr": rounded(best.cell.lr), "best_weight_decay": best.cell.wd,
                "best_val_loss": rounded(best.val_loss), "best_val_accuracy": rounded(best.val_accuracy),
                "best_fall": rounded(m.falls.get(best.cell.key), 4)})
    if not _learned(m, s):
        return out
    share = _wd_share(m)
    if share is not None:
        out["wd_spread"] = rounded(share[2], 4)
    edge = _lr_edge(m, s)
    if edge is not None:
        out["widen"] = "lower" if edge[0] else "higher"
    return out


def row(o: Outcome, plan: Plan) -> dict:
    """One trial as the table (and the JSON's trials) shows it."""
    return {"lr": rounded(o.cell.lr, 4), "weight_decay": o.cell.wd, "val_loss": rounded(o.val_loss, 4),
            "val_accuracy": rounded(o.val_accuracy, 4), "train_loss": rounded(o.train_loss, 4),
            "epochs": rounded(plan.epochs(o.steps), 3), "status": o.status, "trial": o.trial}


def _epochs(n: float) -> str:
    return f"{n:.3g} epoch" + ("" if n == 1 else "s")


def _g(v: float) -> str:
    return f"{v:.2g}"


def _cell_words(c: Cell) -> str:
    return f"lr {_g(c.lr)} wd {c.wd:g}"
