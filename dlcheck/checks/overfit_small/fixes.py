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


def unfreeze(given):
    """Unfreeze what was frozen: requires_grad_(True) on the parameters the model is built with
    requires_grad=False.

    dlcheck hands the optimizer factory the model's parameters after the model is built, so
    the wrapped model factory is enough; it does not apply where nothing is frozen (parameters left
    out of the optimizer are the optimizer check's DLC971). Where parameters that require grad
    never changed as well, the line says that unfreezing leaves them untrained."""
    from dlcheck import fixes

    with given.ctx.model() as model:
        names = [name for name, p in model.named_parameters() if not p.requires_grad]
        parts = frozen_parts(model, names) if len(names) > 4 else names
        every = len(names) == len(list(model.parameters()))
    if not names:
        return None

    def change(model):
        for name in names:
            model.get_parameter(name).requires_grad_(True)
        return model

    paths = [fixes.attribute_path(n) for n in parts]
    if every or len(parts) > 4:  # every frozen parameter unfrozen: one call on the model does it
        line = "model.requires_grad_(True)" + ("" if every else f"  # {len(names)} frozen parameters in "
                                               f"{', '.join(paths[:4])} and {len(paths) - 4} more")
    else:
        line = "; ".join(f"{p}.requires_grad_(True)" for p in paths)
    left = given.result.metrics.get("unchanged_trainable")
    if left:  # unused LoRA adapters under a frozen base: unfreezing trains the base, not them
        line += (f"  # the {left} parameters that require grad and never changed still get no update: "
                 f"why is what to fix if the frozen ones were frozen on purpose (see the optimizer check)")
    return fixes.Applied(fixes.with_model(given.target, change), line)


def frozen_parts(model: nn.Module, names: list[str]) -> list[str]:
    """The fewest module / parameter names covering the frozen parameters ``names``: each module
    whose parameters are all frozen stands for them (the outermost such), the rest by name."""
    frozen, parts = set(names), []
    for prefix, module in model.named_modules():
        inside = [f"{prefix}.{n}" if prefix else n for n, _ in module.named_parameters()]
        if inside and frozen.issuperset(inside) and not any(_under(prefix, p) for p in parts):
            parts.append(prefix)
    return parts + [n for n in names if not any(_under(n, p) for p in parts)]


def _under(name: str, prefix: str) -> bool:
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def lr_from_lr_find(given):
    """Train at the LR lr-find suggests (its range test run in memory on this set-up).

    lr-find's default settings; then the user's optimizer factory builds at that LR (train_at)."""
    from dlcheck.checks import lr_find
    from dlcheck.checks.lr_find.fixes import train_at
    from dlcheck.context import Context
    from dlcheck.device import seed_everything

    ctx = given.ctx
    sweep = Context(lr_find.NAME, given.target, ctx.device, ctx.seed, dict(lr_find.SETTINGS), lr=ctx.lr_override,
                    amp=ctx.amp, input_key=ctx.input_key, target_key=ctx.target_key, state=ctx.state)
    seed_everything(ctx.seed)
    evidence = lr_find.measure(sweep)
    from dlcheck import fixes

    return train_at(given, fixes.first_rank(None if evidence.cut else evidence.suggested))  # rank 0's, everywhere


#: finding code -> the fix --verify-fixes tries for it
FIXES = {"DLC203": remove_output_activation, "DLC204": unfreeze, "DLC201": lr_from_lr_find,
         "DLC205": lr_from_lr_find}
