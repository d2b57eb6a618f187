"""``dlcheck run --lightning pkg.module:LitModel [--datamodule pkg.module:DM]`` and
``dlcheck run --hf-trainer pkg.module:make_trainer``: the Target built from the framework's
objects (no target file), each framework imported only when its flag is given."""

from __future__ import annotations

from dlcheck.errors import UserError


def framework_target(target: str | None, lightning: str | None = None, datamodule: str | None = None,
                     hf_trainer: str | None = None):
    """The Target the flags name (the working folder importable, as for a target module)."""
    if target:
        raise UserError(f"give either a target ('{target}') or --lightning/--hf-trainer, not both")
    if lightning and hf_trainer:
        raise UserError("give --lightning or --hf-trainer, not both")
    if datamodule and not lightning:
        raise UserError("--datamodule goes with --lightning pkg.module:LitModel")
    from dlcheck.state import preserve_rng
    from dlcheck.target import _path_prepended
    import os

    with preserve_rng(), _path_prepended(os.getcwd()):
        if lightning:
            from dlcheck.integrations.lightning import target_of_specs

            return target_of_specs(lightning, datamodule)
        from dlcheck.integrations.transformers import target_of_factory

        return target_of_factory(hf_trainer)
