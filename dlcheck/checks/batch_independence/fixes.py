"""batch-independence's fixes for ``--verify-fixes`` (dlcheck.fixes)."""

from __future__ import annotations

from torch import nn


def set_batch_first(given):
    """Set ``batch_first=True`` on the recurrent layer(s) that read (time, batch, features) while
    the batches are (batch, time, features): those the finding names, else every such layer."""
    from dlcheck import fixes

    with given.ctx.model() as model:
        found = [(n, type(m).__name__) for n, m in model.named_modules()
                 if isinstance(m, nn.RNNBase) and not m.batch_first]
    named = [(n, k) for n, k in found if f"'{n}'" in given.finding.message]
    found = named or found
    if not found:
        return None

    def change(model):
        for name, _ in found:
            model.get_submodule(name).batch_first = True
        return model

    # the attribute the change sets (an nn.RNNBase reads it on each forward): pasteable as it is
    line = "; ".join(f"{fixes.attribute_path(n)}.batch_first = True" for n, _ in found)
    line += f"  # or build it with nn.{found[0][1]}(..., batch_first=True)"
    return fixes.Applied(fixes.with_model(given.target, change), line)


#: finding code -> the fix --verify-fixes tries for it
FIXES = {"DLC801": set_batch_first}
