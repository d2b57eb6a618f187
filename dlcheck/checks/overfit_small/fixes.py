"""overfit-small's fixes for ``--verify-fixes`` (dlcheck.fixes)."""

from __future__ import annotations

from torch import nn

#: output activations that a loss applying its own (CrossEntropyLoss, BCEWithLogitsLoss) repeats
ACTIVATIONS = (nn.Softmax, nn.Sigmoid)


def trailing_activation(model: nn.Module) -> str | None:
    """The name of the Softmax/Sigmoid module that ends the model (its last leaf module), or None."""
    leaves = [(name, m) for name, m in model.named_modules() if name and not any(True for _ in m.children())]
    if leaves and isinstance(leaves[-1][1], ACTIVATIONS):
        return leaves[-1][0]
    return None


def remove_output_activation(given):
    """Replace the Softmax/Sigmoid that ends the model by nn.Identity(): the loss applies its own."""
    from dlcheck import fixes

    with given.ctx.model() as model:
        name = trailing_activation(model)
        kind = type(model.get_submodule(name)).__name__ if name else ""
    if name is None:
        return None

    def change(model):
        parent, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, leaf, nn.Identity())
        return model

    line = f"{fixes.attribute_path(name)} = nn.Identity()  # drop the final nn.{kind}: the loss applies its own"
    return fixes.Applied(fixes.with_model(given.target, change), line)


#: finding code -> the fix --verify-fixes tries for it
FIXES = {"DLC203": remove_output_activation}
