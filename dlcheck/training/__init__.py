"""Training: the one step every check that trains uses (``step``: Trainer, StepOutput, chunk_losses,
all_finite), and the loop library the checks that train for epochs share (``loop``: grid, curves)."""

from dlcheck.training.loop import (Evaluation, Rewind, configured_weight_decay, eval_points, evaluate, fall,
                                   number_list, one_pass, progress, require_val, set_weight_decay,
                                   steps_per_epoch)
from dlcheck.training.step import (Precision, StepOutput, Trainer, all_finite, chunk_losses, forced_precision,
                                   kept_losses, precision_of)

__all__ = ["Evaluation", "Precision", "Rewind", "StepOutput", "Trainer", "all_finite", "chunk_losses",
           "configured_weight_decay", "eval_points", "evaluate", "fall", "forced_precision", "kept_losses",
           "number_list", "one_pass", "precision_of", "progress", "require_val", "set_weight_decay",
           "steps_per_epoch"]
