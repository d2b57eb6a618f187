"""The registry of checks: one :class:`Spec` per check, in recipe order (DESIGN §1), and the
only per-check table of the house. Torch-free: modules load on demand, so ``--help`` and
``dlcheck list`` stay fast.

Adding a check is one entry in ``SPECS`` below (name, module, title, recipe step, whether it
trains, its flags with their help, whether it shards under torchrun, its tables' columns) plus
the module itself and its block of codes in ``dlcheck/codes.py``. The CLI's commands and flags,
the order of ``dlcheck run``, ``dlcheck list``, the contract tests, torchrun's sharding and DDP
wrapping, the console's table columns and the README's table of commands are all built from
these specs.

A check module ``dlcheck.checks.<name>`` has
    NAME: str                        the command name (equal to its spec's)
    SETTINGS: dict[str, object]      every setting and threshold with its default (recipe-overridable);
                                     every flag of the spec is one of them
    def run(ctx: Context) -> CheckResult
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from dlcheck.errors import UserError


@dataclass(frozen=True)
class Flag:
    """A check-specific command-line flag: it sets ``SETTINGS[key]`` of its check (a recipe can set
    the same key under the check's name). ``help`` is the one help text of that setting."""

    key: str
    type: type
    help: str

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")


@dataclass(frozen=True)
class Spec:
    """Everything about a check that is known without importing it (and so without torch)."""

    name: str  # the command name
    module: str  # the module with NAME, SETTINGS and run()
    title: str  # one line for --help, `dlcheck list` and the README
    step: int | None  # the recipe step it automates (DESIGN §1); None: a check beyond the numbered steps
    trains: bool = False  # it trains (optimizer steps), so it takes --lr and --amp
    flags: tuple[Flag, ...] = ()
    in_run: bool = True  # part of `dlcheck run` when no check is named
    shards: bool = False  # under torchrun: reads its own shard and reduces its numbers over ranks
    wraps: bool = False  # under torchrun: trains the model wrapped in DistributedDataParallel
    #: Its per-item tables (``result.details[key]``) -> their columns, the verdict's first: the
    #: console shows them in this order while they fit.
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def help(self) -> str:
        """The command's help line."""
        return f"Recipe step {self.step}: {self.title}." if self.step else f"{self.title[0].upper()}{self.title[1:]}."


#: Every check, in the order `dlcheck run` runs them.
SPECS: tuple[Spec, ...] = (
    Spec("init-loss", "dlcheck.checks.init_loss",
         "the loss at initialisation against ln(C) and the label entropy", step=1, shards=True,
         flags=(Flag("batches", int, "batches averaged for the initial loss"),)),
    Spec("overfit-small", "dlcheck.checks.overfit_small",
         "overfit a tiny subset: the loss must reach ~0 and accuracy ~100 %", step=2, trains=True,
         shards=True, wraps=True,
         flags=(Flag("batches", int, "size of the tiny subset, in batches"),
                Flag("batch_size", int, "samples per batch of the subset (default: the loader's batches)"),
                Flag("max_steps", int, "give up after this many optimizer steps"))),
    Spec("lr-find", "dlcheck.checks.lr_find",
         "the LR range test, with suggestions by more than one rule", step=3, trains=True,
         shards=True, wraps=True,
         columns=(("probe", ("lr", "drop", "fell", "final_loss", "initial_loss", "steps")),),
         flags=(Flag("start_lr", float, "first learning rate of the sweep"),
                Flag("end_lr", float, "last learning rate of the sweep"),
                Flag("steps", int, "steps in the sweep"),
                Flag("linear", bool, "sweep linearly instead of exponentially"),
                Flag("probe", bool, "also run short trainings at candidate LRs (recipe step 3)"))),
    Spec("init-stats", "dlcheck.checks.init_stats",
         "per-layer weight, activation and gradient statistics at initialisation", step=4, trains=True,
         shards=True,
         columns=(("layers", ("layer", "std", "init", "grad_norm", "dead", "update_ratio", "w_std", "type",
                              "mean", "zeros", "he", "xavier")),),
         flags=(Flag("batches", int, "batches fed through the model (the last one also trains one step)"),)),
    Spec("optimizer", "dlcheck.checks.optimizer_setup",
         "the optimizer's param groups against the model: parameters left out or without a gradient, weight decay",
         step=None, trains=True,
         columns=(("groups", ("group", "params", "elements", "lr", "weight_decay", "decoupled")),)),
    Spec("bn-gap", "dlcheck.checks.bn_gap",
         "BatchNorm set-up and the train-vs-eval gap", step=5, shards=True,
         columns=(("bn_layers", ("name", "gap", "batch", "momentum", "track_running_stats", "bias_from", "kind",
                                 "features", "affine", "eps")),),
         flags=(Flag("batches", int, "batches compared in train and eval mode (the val loader's when given)"),
                Flag("warmup_batches", int, "training-mode passes without gradients that fill the "
                                            "running statistics"))),
    Spec("aug-preview", "dlcheck.checks.aug_preview",
         "an image grid of augmented samples, and what the augmentations do to them", step=6,
         columns=(("steps", ("step", "name", "changed", "mean", "std", "min", "max", "output")),),
         flags=(Flag("count", int, "source images in the grid"),
                Flag("draws", int, "augmented draws per source image"))),
    Spec("data-check", "dlcheck.checks.data_check",
         "input scale, NaN/Inf, labels, shuffling and input-label pairing", step=7, trains=True,
         shards=True, wraps=True,  # wraps: its pairing control trains
         flags=(Flag("batches", int, "batches inspected"),
                Flag("pairing", bool, "run the pairing control (true vs permuted labels)"),
                Flag("pair_steps", int, "optimizer steps per run of the pairing control"))),
    Spec("preflight", "dlcheck.checks.preflight",
         "before the GPU-day: will the batch fit, can the loader feed the device, will float16 / bfloat16 hold",
         step=None,
         trains=True,
         columns=(("loader", ("loader", "idle", "wait_ms", "step_ms", "samples_per_s", "in_memory_samples_per_s",
                              "best_workers", "workers", "not_swept")),
                  ("loader_sweep", ("workers", "idle", "samples_per_s", "pin_memory", "batch_ms", "startup_s")),
                  ("precision", ("module", "fp16", "act_init", "act_after", "grad_init", "grad_after",
                                 "grad_lost_fp16", "type")),
                  ("autocast", ("dtype", "loss_gap", "first_nonfinite", "losses", "error")),
                  ("memory", ("part", "mib", "share", "bytes")),
                  ("activation_fit", ("batch", "activation_bytes", "fitted")),
                  ("batch_trials", ("batch", "result", "step", "peak", "modelled", "activations"))),
         flags=(Flag("parts", str, "the parts to run, comma-separated: memory, loader, precision (default: all)"),
                Flag("memory_margin", float, "the share of device memory a batch must leave free to count as fitting"),
                Flag("max_batch_size", int, "the largest batch the memory search tries"),
                Flag("device_memory", str, "predict the largest batch for this card: 80GiB, 24GB, or a name "
                                           "(A100-80GB, H100, RTX 4090)"),
                Flag("loader_steps", int, "training steps fed by the loader"),
                Flag("loader_max_workers", int, "largest num_workers the sweep tries (default: the cores, at least 4)"),
                Flag("precision_steps", int, "training steps before the second look and under autocast"))),
    Spec("batch-independence", "dlcheck.checks.batch_independence",
         "one sample's output depends on that sample's input alone (no mixing across the batch)", step=None,
         columns=(("samples", ("sample", "leak_ratio", "depends_on", "other_samples", "own_gradient",
                               "largest_other", "batch")),),
         flags=(Flag("batches", int, "batches examined"),
                Flag("samples", int, "samples per batch whose output is backpropagated"))),
    Spec("causality", "dlcheck.checks.causality",
         "an output at position t depends on inputs at positions ≤ t alone (sequence models)", step=None,
         columns=(("positions", ("position", "leak_ratio", "first_leak", "future_positions", "past_gradient",
                                 "largest_future")),),
         flags=(Flag("positions", int, "output positions whose gradient on the inputs is measured"),)),
    Spec("resume", "dlcheck.checks.resume",
         "training continues exactly after a checkpoint is saved and loaded (state, and the data stream)",
         step=None, trains=True,
         flags=(Flag("steps", int, "steps before the checkpoint when an epoch does not fit epoch_steps"),
                Flag("resume_steps", int, "steps compared after the checkpoint"),
                Flag("fresh_process", bool, "load the checkpoint and train the resumed run in a new Python process "
                                            "that imports the target anew"))),
    Spec("grid", "dlcheck.checks.grid",
         "a coarse LR × weight-decay grid, 1–5 epochs per trial, on Optuna (tuning step 4; not in `run` by default)",
         step=4, trains=True, in_run=False,
         flags=(Flag("epochs", int, "epochs per trial"),
                Flag("steps", int, "optimizer steps per trial instead of epochs (large datasets)"),
                Flag("lrs", str, "learning rates, comma-separated (default: the centre LR ÷3, ×1, ×3)"),
                Flag("weight_decays", str, "weight decays, comma-separated (default: 1e-4,1e-5,0)"),
                Flag("prune", bool, "stop hopeless trials early (Optuna's median pruner)"),
                Flag("storage", str, "an Optuna storage URL (sqlite:///grid.db): resumable, shared by processes "
                                     "running the same command"),
                Flag("study", str, "study name in the storage (default: derived from the target and grid)"))),
    Spec("curves", "dlcheck.checks.curves",
         "train one configuration longer and read the train vs val curves (tuning steps 5–6; not in `run` by default)",
         step=5, trains=True, in_run=False,
         flags=(Flag("epochs", int, "epochs to train (or until --budget runs out)"),
                Flag("every", int, "measure every this many steps instead of every epoch"),
                Flag("weight_decay", float, "weight decay set on the optimizer's param groups"))),
)

SPECS_BY_NAME = {spec.name: spec for spec in SPECS}
assert len(SPECS_BY_NAME) == len(SPECS), "two checks share a name"

#: command name -> module, in the order `dlcheck run` runs them (derived from SPECS).
REGISTRY = {spec.name: spec.module for spec in SPECS}
#: command name -> one-line title (derived from SPECS).
TITLES = {spec.name: spec.title for spec in SPECS}


def spec(name: str) -> Spec:
    """The spec of a check by its command name."""
    if name not in SPECS_BY_NAME:
        raise UserError(f"unknown check '{name}' (known: {', '.join(REGISTRY)})")
    return SPECS_BY_NAME[name]


def specs() -> list[Spec]:
    """Specs of the checks whose module exists, in recipe order."""
    return [s for s in SPECS if importlib.util.find_spec(s.module) is not None]


def available() -> list[str]:
    """Checks whose module exists, in recipe order."""
    return [s.name for s in specs()]


def run_by_default() -> list[str]:
    """The checks `dlcheck run` runs when neither the recipe nor --checks names any."""
    return [s.name for s in specs() if s.in_run]


def load(name: str):
    """The check module for a command name."""
    module = spec(name).module
    if importlib.util.find_spec(module) is None:
        raise UserError(f"check '{name}' is not available in this version of dlcheck")
    return importlib.import_module(module)


def columns(table: str) -> tuple[str, ...]:
    """The columns of a per-item table (``result.details[table]``) in the order the console
    keeps them while they fit; () for a table no spec names."""
    return next((cols for s in SPECS for key, cols in s.columns if key == table), ())


def sharded() -> frozenset[str]:
    """The checks that read their own shard under torchrun."""
    return frozenset(s.name for s in SPECS if s.shards)


def commands_table() -> str:
    """The README's table of commands, from the specs (a test keeps the README equal to it)."""
    rows = ["| command | recipe step | what it checks | its own flags |", "|---|---|---|---|"]
    for s in SPECS:
        flags = ", ".join([f"`{f.option}`" for f in s.flags] + (["`--lr`", "`--amp`"] if s.trains else [])) or "—"
        rows.append(f"| `dlcheck {s.name}` | {s.step or '—'} | {s.title} | {flags} |")
    rows += ["| `dlcheck run` | all | every check above (or the recipe's / `--checks`) as one CI gate | "
             "`--checks`, `--lr`, `--amp` |",
             "| `dlcheck list` | | every check and its finding codes | |",
             "| `dlcheck explain CODE` | | what a finding code means, why it matters, how to fix it | |"]
    return "\n".join(rows)
