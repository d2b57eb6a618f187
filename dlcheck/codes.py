"""The one table of every finding code (Ruff/pylint style): stable code, short name, default
severity, and the text `dlcheck explain CODE` prints.

Blocks by check: DLC0xx general, DLC1xx init-loss, DLC2xx overfit-small, DLC3xx lr-find,
DLC4xx init-stats, DLC5xx bn-gap, DLC6xx aug-preview, DLC7xx data-check, DLC80x
batch-independence, DLC85x causality, DLC90x grid, DLC95x curves, DLC96x resume, DLC97x optimizer,
DLC98x preflight (DLC981-985 input pipeline and precision, DLC986-989 memory). A code is never
reused for another meaning; a retired code stays in the table. No torch import here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    check: str
    severity: str  # default severity: info, warn, fail, error
    title: str  # what it means, one line
    why: str  # why it matters
    fix: str  # how to fix it (the default advice of a finding)


_TABLE = [
    # -- general -----------------------------------------------------------------------------
    Code("DLC001", "bad-input", "*", "error",
         "The check could not run: the set-up handed to dlcheck is wrong.",
         "Nothing was measured, so nothing can be judged.",
         "Read the one-line message: it names the file, name or batch at fault."),
    Code("DLC002", "check-crashed", "*", "error",
         "The check raised an unexpected exception (in the user's code or in dlcheck).",
         "Nothing was measured; the other checks still ran.",
         "Run again with --debug to see the traceback."),
    Code("DLC003", "over-budget", "*", "warn",
         "The check ran past its time budget and stopped early.",
         "Its verdict rests on less evidence than asked for.",
         "Raise the budget in the recipe, or use a smaller subset / model for the sanity run."),
    Code("DLC004", "optimizer-ignores-lr", "*", "warn",
         "The optimizer factory does not use the learning rate it is handed.",
         "dlcheck calls optimizer(params, lr) with the LR it tests; a factory that hard-codes or "
         "rescales the LR trains at a value nobody checked, and lr-find's verdict on your lr "
         "says nothing about the LR you really use.",
         "Write the factory as `lambda params, lr: torch.optim.AdamW(params, lr=lr)`, and keep the "
         "LR you train with in the target's `lr`."),
    Code("DLC005", "nothing-trains", "*", "fail",
         "Training cannot change the model: no parameter requires grad, or the loss has no path "
         "to any parameter.",
         "With every parameter frozen, or a loss computed from detached outputs, optimizer steps "
         "do nothing: the run would burn GPU time and learn nothing.",
         "Unfreeze the parameters that should train (requires_grad=True), or find where the "
         "forward detaches its outputs (.detach(), .item(), torch.no_grad(), .numpy())."),
    # -- distributed (torchrun) --------------------------------------------------------------
    Code("DLC010", "rank-crashed", "*", "error",
         "Under torchrun, the check raised on another rank, or another rank died without a word "
         "(SIGKILL, the out-of-memory killer); the message names the rank.",
         "Every rank must run each check to the end for the verdict to be one verdict; a rank that "
         "raises leaves the others without its shard (or blocked in a collective it never joins).",
         "Run again with --debug; the message names the rank and what it raised. A rank-only error "
         "often comes from data that only that rank's shard holds."),
    Code("DLC011", "ranks-init-differ", "*", "fail",
         "Under torchrun, the ranks built different initial weights.",
         "DistributedDataParallel broadcasts rank 0's weights when it wraps the model, which hides "
         "the mismatch in training; but anything built from the weights before the wrap (EMA "
         "copies, optimizer state, pruning masks, a checkpoint written per rank) differs per rank, "
         "and a per-rank seed usually means other per-rank randomness that was not meant.",
         "Seed every rank the same before the model is built (torch.manual_seed(seed), not seed + "
         "rank), and keep per-rank seeds for data augmentation only."),
    Code("DLC012", "ranks-same-batches", "*", "fail",
         "Under torchrun, every rank reads the same batches.",
         "Without a DistributedSampler each rank iterates the whole dataset in the same order: N "
         "GPUs compute N copies of one gradient, so an epoch costs N times as much for the same "
         "progress and the effective batch is not the global batch you planned for.",
         "Give the loader a torch.utils.data.DistributedSampler (and call sampler.set_epoch(epoch) "
         "each epoch)."),
    Code("DLC013", "bn-small-per-rank-batch", "*", "warn",
         "Under torchrun, BatchNorm layers normalise over a small per-rank batch.",
         "Plain BatchNorm computes its statistics on each GPU's batch alone: the global batch may "
         "be large, but the statistics are as noisy as the per-rank batch is small, and training "
         "behaves like small-batch BN.",
         "Convert the model with torch.nn.SyncBatchNorm.convert_sync_batchnorm(model) before "
         "wrapping it in DDP, or raise the per-rank batch size."),
    Code("DLC014", "sharded-by-dlcheck", "*", "info",
         "Under torchrun, the loader has no DistributedSampler, so dlcheck gave each rank its own "
         "share of the batches it reads.",
         "Each rank trains on different data, as real distributed training does; the ranks' batches "
         "are taken round-robin from what the loader yields.",
         "Nothing to do for dlcheck; for training, give the loader a DistributedSampler."),
    Code("DLC015", "ranks-unused-parameters", "*", "fail",
         "Under torchrun, some parameters get no gradient on some ranks (DDP's unused-parameter "
         "error, explained).",
         "DistributedDataParallel all-reduces the gradients in buckets and waits for every "
         "parameter's gradient in each step. A parameter the loss does not reach on one rank (a "
         "branch taken only for some ranks' data, an auxiliary head used on some batches) is never "
         "marked ready there: the ranks' reductions no longer match, and training stops with "
         "'Expected to have finished reduction in the prior iteration' (find_unused_parameters) "
         "or hangs.",
         "Make every rank's forward use every parameter (compute both branches and mask, or add "
         "0 * branch(x).sum() to the loss), or wrap with DistributedDataParallel(model, "
         "find_unused_parameters=True) (it costs an extra graph traversal per step)."),
    Code("DLC016", "lr-scaled-for-world-size", "lr-find", "fail",
         "Under torchrun, the optimizer factory scales the learning rate by the world size and the "
         "LR it trains at is far above what lr-find finds for the global batch.",
         "DDP averages the gradients over ranks, so the run behaves like one process with the "
         "global batch; lr-find's sweep measures that directly. The linear scaling rule multiplies "
         "an LR tuned for one rank's batch by N once; a factory that multiplies an LR that was "
         "already scaled (or by N twice) trains at or beyond the LR where the sweep diverged.",
         "Scale once, from an LR tuned for one rank's batch, or use lr-find's suggestion under "
         "torchrun as it is (it is already for the global batch)."),
    # -- init-loss ---------------------------------------------------------------------------
    Code("DLC101", "init-loss-far-above", "init-loss", "fail",
         "The loss at initialisation is far above the loss of a model that knows nothing (ln(C) "
         "for softmax classification; see the task's references).",
         "A C-class softmax classifier that knows nothing should predict uniformly, giving loss "
         "ln(C); BCE at zero logits gives ln 2 per label; a regression model with outputs near 0 "
         "gives E[y^2] under MSE. Far more means confident wrong predictions at step 0: the outputs "
         "are too large, so early training is spent undoing the init (the 'hockey stick' curve). "
         "dlcheck computes the reference with your own loss object at zero outputs, so class "
         "weights, label smoothing and ignore_index count; it judges (loss - floor) / (reference "
         "- floor), where the floor is the lowest loss the targets allow. Far above (2x, or 3 nats "
         "for cross-entropy) warns: heads shipped with large weights for few classes (EfficientNet, "
         "MobileNetV3 at 4-10 classes) land there and still train; 10x or 10 nats is broken and fails.",
         "Scale the final layer's weights down (e.g. multiply by 0.01 or use the default init) "
         "and zero-initialise its bias."),
    Code("DLC102", "init-loss-above", "init-loss", "warn",
         "The loss at initialisation is noticeably above the know-nothing reference (ln(C), ln 2 "
         "per label, E[y^2]).",
         "Moderately large logits at init waste the first iterations; common with TensorFlow-style "
         "heads on small inputs.",
         "Consider scaling the final layer's weights down and zero-initialising its bias."),
    Code("DLC103", "init-loss-below", "init-loss", "warn",
         "The loss at initialisation is below what any input-independent model reaches (the label "
         "entropy for classification, Var(y) for MSE regression).",
         "An untrained model cannot beat the best constant prediction: a loss this low hints at a "
         "label leak into the inputs, a loss averaged wrongly, or a loss that is not the one expected.",
         "Check that inputs do not contain the labels, and that the loss is mean cross-entropy "
         "over the batch."),
    Code("DLC104", "init-loss-not-finite", "init-loss", "fail",
         "The loss at initialisation is NaN or Inf.",
         "Training cannot start from a non-finite loss.",
         "Look for NaN/Inf inputs (dlcheck data-check), log(0) in a custom loss, or an init so "
         "large that the logits overflow."),
    Code("DLC105", "init-predictions-collapsed", "init-loss", "warn",
         "At initialisation almost every sample is predicted as the same class, with a confidence "
         "well above chance (1/C).",
         "A well-initialised classifier spreads its (random) predictions near 1/C; one dominant "
         "class predicted confidently means a large output bias or a saturated / exploded layer "
         "before the head. (One class winning every argmax at 0.53 in a binary task is not that.)",
         "Zero the final bias; run dlcheck init-stats to find the layer that saturates."),
    Code("DLC106", "output-width-mismatch", "init-loss", "fail",
         "The model's class axis (dim 1 of the outputs) differs from the number of classes.",
         "Extra outputs are classes that never occur; too few cannot express every label.",
         "Make the final layer's out_features equal num_classes (or fix num_classes in the target)."),
    Code("DLC107", "labels-out-of-range", "init-loss", "error",
         "Labels fall outside the range the model's outputs can express.",
         "Cross-entropy fails (or, on CUDA, triggers a device-side assert) on such labels.",
         "Map labels to 0..C-1, or widen the model's final layer."),
    Code("DLC108", "loss-without-reference", "init-loss", "info",
         "The loss is not one dlcheck knows the references of (custom loss functions), so the "
         "initial loss is reported without a verdict.",
         "The references are defined for cross-entropy, NLL, BCE (with logits or on probabilities) "
         "and MSE / L1 / Huber losses.",
         "Set task = 'classification' / 'multilabel' / 'regression' in the target (or the "
         "recipe) when your loss is one of these in disguise."),
    Code("DLC109", "labels-imbalanced", "init-loss", "info",
         "Labels are imbalanced: the best initial loss a tuned output bias reaches is the label "
         "entropy, below ln(C).",
         "With skewed classes, initialising the output bias to log class frequencies removes the "
         "first easy phase of training.",
         "Optionally set the final bias to log(class frequency)."),
    Code("DLC110", "loss-identically-zero", "init-loss", "fail",
         "The loss is identically zero whatever the model outputs: cross-entropy over a single "
         "output column.",
         "Softmax over one value is always 1, so CrossEntropyLoss on outputs of width 1 is 0 for "
         "every input and nothing trains. Typical cause: a regression or binary target with the "
         "loss_fn forgotten (dlcheck's default is CrossEntropyLoss).",
         "Set loss_fn = nn.MSELoss() for regression or nn.BCEWithLogitsLoss() for a binary "
         "output, or give the model one output per class."),
    Code("DLC111", "targets-off-centre", "init-loss", "info",
         "Regression targets are far from zero on average: outputs near 0 start far above the "
         "loss a bias set to the targets' mean would give (Var(y)).",
         "Karpathy's recipe: regressing values with mean 50, initialise the final bias to 50, or "
         "standardise the targets; otherwise the first steps only learn the offset.",
         "Set the final layer's bias to the targets' mean, or standardise the targets."),
    # -- overfit-small -----------------------------------------------------------------------
    Code("DLC201", "overfit-loss-flat", "overfit-small", "fail",
         "Training on a tiny subset did not make the loss fall.",
         "Any working set-up memorises a few batches; a flat loss means the learning rate is far "
         "too low, or the init / architecture blocks learning.",
         "Run dlcheck lr-find and use its suggestion; then check the init with dlcheck init-stats."),
    Code("DLC202", "overfit-diverged", "overfit-small", "fail",
         "The loss became NaN/Inf while overfitting a tiny subset.",
         "Divergence on a handful of batches means the learning rate is too high or the init is "
         "unstable.",
         "Lower the learning rate (dlcheck lr-find), or add gradient clipping."),
    Code("DLC203", "overfit-softmax-before-loss", "overfit-small", "fail",
         "The model's outputs are already probabilities (they sum to 1, or lie in [0, 1]) but the "
         "loss expects logits.",
         "nn.CrossEntropyLoss applies log-softmax itself and BCEWithLogitsLoss a sigmoid; a "
         "softmax or sigmoid before them squashes gradients and the loss stalls far above zero.",
         "Remove the final softmax / sigmoid from the model (apply it only at inference), or use "
         "the loss for probabilities (NLLLoss on log-probabilities, BCELoss)."),
    Code("DLC204", "overfit-params-frozen", "overfit-small", "fail",
         "Parameters never changed while training: frozen, without gradient, or not in the optimizer.",
         "Those weights cannot learn; a model that is mostly frozen cannot fit even a tiny subset.",
         "Set requires_grad=True where intended and pass model.parameters() to the optimizer."),
    Code("DLC205", "overfit-stalled", "overfit-small", "fail",
         "The loss fell but then stayed flat (within its own noise) far above the floor on a tiny "
         "subset.",
         "Memorising a few batches needs little capacity; stalling points to too small a model, "
         "a bottleneck, too high a learning rate bouncing around, or a loss/label mismatch.",
         "Check the architecture's capacity and that the outputs fit the loss; try dlcheck lr-find."),
    Code("DLC206", "overfit-slow", "overfit-small", "warn",
         "The subset was fit, but only after many steps.",
         "Slow memorisation often means a low learning rate or a poor init.",
         "Try dlcheck lr-find for a better learning rate."),
    Code("DLC207", "regularisation-off", "overfit-small", "info",
         "Weight decay and/or dropout were turned off for the overfitting run.",
         "Regularisation fights memorisation; the recipe turns it off for this step.",
         "Nothing to fix."),
    Code("DLC208", "overfit-nothing-to-learn", "overfit-small", "fail",
         "The loss cannot fall: it is identically zero whatever the model outputs (cross-entropy "
         "over a single output column).",
         "A run that 'memorises' a loss of 0 in no steps has learned nothing.",
         "Set the loss that fits the outputs (MSELoss for regression, BCEWithLogitsLoss for one "
         "binary output), or give the model one output per class."),
    Code("DLC209", "overfit-not-converged", "overfit-small", "warn",
         "The loss was still falling when the step budget ran out: not converged yet, not stalled.",
         "Regression and language-model losses fall steadily for longer than a classifier's; the "
         "set-up is probably fine, but memorisation was not shown within the budget.",
         "Raise --max-steps (the message estimates the steps needed at the measured rate), or "
         "try a higher learning rate (dlcheck lr-find)."),
    Code("DLC210", "overfit-loss-unbounded", "overfit-small", "fail",
         "The loss kept falling below any plausible value (towards -inf): it has no lower bound.",
         "A loss that can fall forever rewards the model for something other than fitting the "
         "data: training drives the weights towards overflow while the loss 'improves'. With no "
         "known floor this is the one sign dlcheck can read that the loss itself is wrong; a sign "
         "error is the usual cause (a KL term subtracted instead of added, a likelihood maximised "
         "where it should be minimised).",
         "Check the sign of every term of your loss (a KL divergence, an entropy bonus, a "
         "log-likelihood): each should be bounded below on its own."),
    # -- lr-find -----------------------------------------------------------------------------
    Code("DLC301", "lr-no-descent", "lr-find", "fail",
         "No learning rate made the loss fall: not in the sweep, nor in short runs at fixed LRs (the probe).",
         "If no LR helps, the problem is not the LR: a frozen model, a broken loss, or unpaired data. "
         "A fall is measured as a share of the way from the loss at init to the task's floor, beyond "
         "the batch-to-batch noise.",
         "Run dlcheck overfit-small and dlcheck data-check."),
    Code("DLC302", "lr-above-divergence", "lr-find", "warn",
         "The learning rate your optimizer trains at is above the point where the loss diverged in the sweep.",
         "Training at that LR is likely to blow up. The LR judged is the one the optimizer factory "
         "really sets (its param groups), not only the lr it is handed.",
         "Use a learning rate near the suggestion."),
    Code("DLC303", "lr-far-below-suggestion", "lr-find", "warn",
         "The learning rate your optimizer trains at is more than 10x below the suggestion, and a short "
         "run at it does not make the loss fall.",
         "Training at it wastes time or stalls. Far below the suggestion alone is only information: "
         "a short sweep's optimum sits above the best LR of a full run, so Adam at 3e-4 is usually fine.",
         "Try a learning rate near the suggestion."),
    Code("DLC304", "lr-rules-disagree", "lr-find", "info",
         "The rules behind the suggestion (steepest descent, minimum/10) disagree by more than a decade.",
         "The curve has no clear steep region; any single suggestion is less certain.",
         "Confirm with dlcheck lr-find --probe (short runs at candidate LRs)."),
    Code("DLC305", "lr-curve-unusable", "lr-find", "warn",
         "The LR curve is too short or too flat to suggest a learning rate.",
         "The sweep stopped early or the loss did not react to the LR.",
         "Widen the sweep (--start-lr/--end-lr) or use more steps."),
    Code("DLC306", "lr-sweep-plateau", "lr-find", "warn",
         "The sweep saw no fall, but a short run at a fixed learning rate did: the model plateaus before it learns.",
         "Some healthy models (recurrent nets carrying a signal over many steps) sit near the loss at "
         "init for tens of steps; a 100-step sweep spends about 11 steps per decade of LR and moves "
         "on before they get off the plateau, so its curve says nothing about the best LR.",
         "Sweep longer (--steps 400) or over a narrower range, or train at the probe's best LR."),
    # -- init-stats --------------------------------------------------------------------------
    Code("DLC401", "activations-collapse", "init-stats", "fail",
         "Activation std shrinks layer after layer towards zero.",
         "With too small an init every layer scales its input down; deep layers see almost zero "
         "and their gradients vanish.",
         "Use He (ReLU) or Xavier (tanh) initialisation, or add normalisation layers."),
    Code("DLC402", "activations-explode", "init-stats", "fail",
         "Activation std grows layer after layer.",
         "Too large an init multiplies the signal at every layer; logits and gradients explode.",
         "Use He (ReLU) or Xavier (tanh) initialisation, or add normalisation layers."),
    Code("DLC403", "activations-saturated", "init-stats", "fail",
         "tanh/sigmoid/hardtanh outputs sit at their limits.",
         "Saturated units pass (almost) no gradient back.",
         "Scale the init down (Xavier for tanh) or normalise the inputs."),
    Code("DLC404", "dead-units", "init-stats", "warn",
         "ReLU units output zero for every sample seen.",
         "Dead units never get a gradient and never recover. Counted per unit (a feature, or a "
         "conv channel), also behind a functional F.relu (at the next layer's input).",
         "Look for large negative biases or an input that is negative everywhere; use He init "
         "with zero biases, or LeakyReLU."),
    Code("DLC405", "gradients-vanish", "init-stats", "warn",
         "Gradient norms shrink by orders of magnitude from the last layer to the first.",
         "Early layers barely learn. Judged on the weight gradients of the first and last weight "
         "layers after one backward (exactly-zero gradients of zero-initialised branches excluded).",
         "Fix the init scale, add normalisation or residual connections."),
    Code("DLC406", "gradients-explode", "init-stats", "fail",
         "Gradient norms grow by orders of magnitude from the last layer to the first.",
         "Early layers get huge updates and training diverges. A BatchNorm over a handful of "
         "values per channel (tiny batch, tiny feature map) also does this; then it is noted as info.",
         "Fix the init scale, add normalisation, or clip gradients."),
    Code("DLC407", "weight-scale-off", "init-stats", "warn",
         "A layer's weight std is far from both the Xavier and the He scale for its fan-in.",
         "Custom inits far from these scales are the usual cause of collapse or explosion. Layers "
         "followed by normalisation are not judged; while the activations stay healthy the finding "
         "is info (TF-style 0.01 heads and ViT-style 0.02 inits are deliberate).",
         "Use nn.init.kaiming_normal_ (ReLU) or nn.init.xavier_normal_ (tanh/sigmoid)."),
    Code("DLC408", "stats-not-finite", "init-stats", "fail",
         "NaN/Inf appears in an activation or gradient.",
         "The first layer where it appears is where the bug is.",
         "Inspect that layer's inputs and parameters; for NaN in the data run dlcheck data-check."),
    Code("DLC409", "update-ratio-off", "init-stats", "warn",
         "The update-to-weight ratio after one step is far from ~1e-3.",
         "Much larger: the LR is too high; much smaller: it is too low. Adam's first step moves "
         "each weight by about lr, so expect about lr / weight std there.",
         "Adjust the learning rate (dlcheck lr-find)."),
    # -- bn-gap ------------------------------------------------------------------------------
    Code("DLC501", "bn-on-logits", "bn-gap", "fail",
         "A BatchNorm layer normalises the model's output (the logits).",
         "BatchNorm makes every logit zero-mean over the batch, so no class can win for most of a "
         "batch, and the logits change between train and eval mode.",
         "Remove the BatchNorm after the final layer (BatchNorm before the final Linear is fine)."),
    Code("DLC502", "bias-before-bn", "bn-gap", "info",
         "A conv/linear bias feeds straight into BatchNorm.",
         "BatchNorm subtracts the mean, so that bias is a wasted parameter.",
         "Pass bias=False to the layer before BatchNorm."),
    Code("DLC503", "bn-no-running-stats", "bn-gap", "warn",
         "A BatchNorm layer has track_running_stats=False.",
         "It uses batch statistics in eval mode too, so predictions depend on the batch.",
         "Keep track_running_stats=True unless that is intended."),
    Code("DLC504", "bn-momentum-zero", "bn-gap", "fail",
         "A BatchNorm layer has momentum 0 (running statistics never update).",
         "Eval mode then normalises with the initial statistics (mean 0, var 1).",
         "Use the default momentum=0.1 (or None for a cumulative average)."),
    Code("DLC505", "bn-small-batch", "bn-gap", "warn",
         "The batch size is small for BatchNorm.",
         "Batch statistics from few samples are noisy; train and eval behaviour drift apart.",
         "Use a larger batch, or GroupNorm / LayerNorm."),
    Code("DLC506", "bn-tiny-batch", "bn-gap", "fail",
         "The batch size is 1-2, which BatchNorm cannot work with.",
         "With one or two samples the batch statistics are degenerate.",
         "Use a larger batch, or GroupNorm / LayerNorm."),
    Code("DLC507", "bn-train-eval-gap", "bn-gap", "fail",
         "A BatchNorm layer's output differs a lot between train and eval mode on the same input "
         "(its batch statistics against its running statistics).",
         "What you validate is not what you trained; the 'accuracy drops in eval()' problem. A layer "
         "normalising fewer than 64 values per channel (batch x positions: small images reach 1x1 "
         "maps) parts by its batch statistics' noise alone: there it warns, saying so, and never fails.",
         "Look at the layer where the modes part; check batch size, momentum, dropout before BN, "
         "and whether train and val data are normalised alike."),
    Code("DLC508", "no-batchnorm", "bn-gap", "info",
         "The model has no BatchNorm layer.",
         "Nothing to compare: without BatchNorm, normalisation behaves alike in train and eval mode.",
         "Nothing to fix."),
    Code("DLC509", "bn-cumulative-average", "bn-gap", "info",
         "A BatchNorm layer has momentum=None: its running statistics are a cumulative average.",
         "Legitimate PyTorch: every batch since the last reset counts equally, so statistics from "
         "early training weigh as much as recent ones while the weights still move.",
         "Fine for recalibrating a trained network's statistics; for training from scratch an EMA "
         "(momentum=0.1) follows the weights better."),
    Code("DLC510", "bn-momentum-inverted", "bn-gap", "warn",
         "A BatchNorm layer has a momentum of 0.5 or more: its running statistics are little more "
         "than the last batch's.",
         "PyTorch's momentum is the weight of the NEW batch (running = (1-m)*running + m*batch); "
         "Keras/TensorFlow's is the weight of the OLD value, so momentum=0.99 copied from Keras "
         "makes eval mode use one noisy batch's statistics.",
         "Use momentum=0.1 (PyTorch's default), or 1 - the Keras value (0.99 -> 0.01)."),
    Code("DLC511", "bn-val-one-class", "bn-gap", "info",
         "The val batches come sorted by class (each dominated by one class), so bn-gap compared on "
         "train batches.",
         "A val loader without shuffling yields batches sorted by class (ImageFolder); train-mode "
         "BatchNorm on a one-class batch normalises with that class's statistics, which differ from "
         "the running ones for that reason alone. In eval mode the order does not matter.",
         "Nothing to fix for validation. For bn-gap to compare on val data, hand over a DataLoader "
         "over a map-style dataset (bn-gap then draws val batches at random) or shuffle the val loader."),
    Code("DLC512", "bn-not-measured", "bn-gap", "info",
         "A BatchNorm layer's own train-vs-eval gap could not be measured.",
         "bn-gap runs each BatchNorm module again in eval mode on the input of its train-mode run; "
         "this module's eval-mode run raised or gave something of another shape or type.",
         "The model-level gap still counts; look at that layer's forward in eval mode."),
    # -- aug-preview -------------------------------------------------------------------------
    Code("DLC601", "no-transform", "aug-preview", "info",
         "No train transform was found, so there is nothing to preview.",
         "Tensor datasets usually have no transform, and then there is nothing to check; a "
         "transform applied elsewhere (in the loader's collate_fn, in the model) is not seen.",
         "Expose train_transform in the target, or set the train dataset's transform."),
    Code("DLC602", "aug-destroys-samples", "aug-preview", "fail",
         "Many augmented samples no longer resemble their original.",
         "The network learns from noise instead of the image, yet each such sample still carries "
         "its label: training gets harder and noisier for nothing.",
         "Tone down the destructive transform (its probability, scale or magnitude); look at the "
         "red-framed cells of the grid written with --out."),
    Code("DLC603", "aug-blank-samples", "aug-preview", "warn",
         "Augmented samples are blank (near-constant).",
         "Blank samples carry no information but still carry a label.",
         "Check crops, erasing and colour transforms (brightness/contrast ranges that reach 0)."),
    Code("DLC604", "aug-unnormalised", "aug-preview", "warn",
         "The augmented tensors are not normalised (raw 0-255 values, or mean/std far from 0/1).",
         "Networks train best on zero-centred, unit-variance inputs; raw pixel values make the "
         "first layer's pre-activations hundreds of times too large.",
         "Convert to float in [0, 1] (ToTensor / ToDtype(scale=True)) and add "
         "transforms.Normalize(mean, std) with the training set's per-channel statistics."),
    Code("DLC605", "aug-double-normalise", "aug-preview", "fail",
         "Normalisation is applied twice.",
         "The second Normalize shifts and scales data that is already zero-centred: the inputs "
         "end up off-centre and too wide (or too narrow), and no longer match what evaluation feeds.",
         "Keep one Normalize in the pipeline (look for a wrapper or dataset that adds its own)."),
    Code("DLC606", "aug-not-centred", "aug-preview", "info",
         "The augmented tensors lie in [0, 1]: scaled, but not zero-centred (no Normalize).",
         "Common and usually fine with BatchNorm right after the first layer; without it, "
         "zero-centred inputs make the first layer's start easier.",
         "Optionally add transforms.Normalize(mean, std) with the training set's statistics."),
    Code("DLC607", "aug-mask-mismatch", "aug-preview", "fail",
         "The masks (dense targets) do not follow the image's geometric augmentation.",
         "An image flipped, cropped or rotated without its mask is paired with labels for other "
         "pixels: the network is taught wrong classes along every moved edge and its accuracy "
         "plateaus, while every loss still looks normal.",
         "Transform the image and its mask together: one joint transform(image, mask) that draws one "
         "random flip/crop for both, or torchvision.transforms.v2 called as "
         "transforms(image, tv_tensors.Mask(mask)); keep photometric steps (ColorJitter, Normalize) "
         "image-only."),
    # -- data-check --------------------------------------------------------------------------
    Code("DLC701", "data-raw-range", "data-check", "fail",
         "Inputs look like raw 0-255 values.",
         "Unscaled inputs make the first layer's outputs huge and training unstable.",
         "Scale to [0, 1] (ToTensor) and normalise per channel."),
    Code("DLC702", "data-not-centred", "data-check", "warn",
         "Inputs are not zero-centred or not unit-scale per channel/feature.",
         "Uncentred inputs slow training and bias the first layer.",
         "Normalise with the training set's per-channel mean and std."),
    Code("DLC703", "data-constant-feature", "data-check", "warn",
         "Some features/channels are constant (a warning above a share of them, else a note).",
         "A constant feature carries no information (and breaks standardisation); a few, like the "
         "always-blank border pixels of digits, are a fact of the data; many point to a broken pipeline.",
         "Drop it, or check the pipeline that produced it."),
    Code("DLC704", "data-not-finite", "data-check", "fail",
         "Inputs contain NaN or Inf.",
         "One NaN input turns the loss and then every weight into NaN.",
         "Clean or impute the data; the message names the batch and index."),
    Code("DLC705", "data-labels-out-of-range", "data-check", "fail",
         "Labels fall outside 0..C-1.",
         "Cross-entropy fails or silently mis-trains on them.",
         "Map labels to 0..C-1."),
    Code("DLC706", "data-class-imbalance", "data-check", "warn",
         "Classes are strongly imbalanced.",
         "Accuracy hides a model that ignores the rare classes.",
         "Consider reweighting, resampling, or a per-class metric."),
    Code("DLC707", "data-sorted-batches", "data-check", "fail",
         "Consecutive batches are dominated by one class: the loader is not shuffling.",
         "The model chases one class after another and never converges.",
         "Pass shuffle=True (or a sampler) to the training DataLoader."),
    Code("DLC708", "data-duplicates", "data-check", "warn",
         "Duplicated samples in the batches seen (a warning above a share of them, else a note).",
         "Duplicates inflate some samples' weight and leak between splits.",
         "Deduplicate the dataset."),
    Code("DLC709", "data-labels-unpaired", "data-check", "fail",
         "True labels are learned no faster than permuted ones: inputs and labels have come apart.",
         "The classic X.shuffle(); Y.shuffle() bug leaves nothing to learn.",
         "Shuffle inputs and labels together (one permutation, or shuffle in the DataLoader). If "
         "the data are paired, check that the model keeps samples apart (dlcheck "
         "batch-independence: an RNN fed (batch, time, ...) without batch_first=True)."),
    Code("DLC710", "data-part-skipped", "data-check", "info",
         "A part of data-check did not apply to this data and was skipped (token ids, float "
         "targets, a forward() dlcheck cannot look into) or was inconclusive.",
         "What was not measured cannot be judged; the message says which part and why.",
         "Nothing to fix; for dict batches, --input-key/--target-key let dlcheck see more."),
    Code("DLC711", "data-targets-unscaled", "data-check", "warn",
         "Regression targets are far from unit scale (values in the hundreds, or a vanishing spread).",
         "A freshly initialised output starts near 0 with unit-scale spread; targets with a mean of "
         "150 make the first thousands of steps chase the scale (the loss starts at E[y^2]) and "
         "the gradients of the last layer huge; a spread of 0.001 makes the loss and its gradients "
         "vanish.",
         "Standardise the targets ((y - mean) / std, undone at prediction time), or at least set "
         "the final layer's bias to the targets' mean."),
    Code("DLC712", "data-label-prevalence", "data-check", "warn",
         "A multi-label target is never (or always) positive in the batches seen; rare labels are a note.",
         "A label with one value throughout teaches the model a constant output and nothing else; "
         "one positive in under 1 % of samples is learned as 'always no' unless weighted.",
         "Check how the label columns are built (an off-by-one column, a filter that removed the "
         "positives); for rare labels, set pos_weight in BCEWithLogitsLoss or resample."),
    Code("DLC713", "data-target-dominated", "data-check", "warn",
         "One class value is most of the target positions (padding in a language model, background "
         "in segmentation) and the loss counts it.",
         "The loss and its gradients are then mostly about that one value: a padded LM learns to "
         "predict padding after padding, its loss and perplexity are not the text's, and a model that "
         "always says the dominant value already scores its share in accuracy.",
         "Padding: let the loss skip it, CrossEntropyLoss(ignore_index=<pad id>) (or set the padded "
         "labels to -100). A real class that dominates: class weights (CrossEntropyLoss(weight=...)), "
         "a Dice or focal term, or resampling."),
    Code("DLC714", "data-multihot-softmax", "data-check", "warn",
         "Float targets whose rows sum above 1 (several labels on at once) are given to a softmax "
         "cross-entropy.",
         "Softmax makes the classes compete for one unit of probability: with two labels on, the best "
         "it can do is 0.5 each, so the loss never reaches 0 and the model cannot say 'both'. torch "
         "accepts such targets as soft labels without a word.",
         "Multi-label targets need one independent sigmoid per label: nn.BCEWithLogitsLoss() (and a "
         "threshold per label at prediction time). Soft labels for cross-entropy must sum to 1 per row."),
    Code("DLC715", "data-val-in-train", "data-check", "fail",
         "Validation samples are identical to training samples (a warning for a small share, a note "
         "when the train set's own duplicates explain it).",
         "A validation sample the model trains on is scored on memory, not generalisation: the "
         "validation metrics come out too good, and early stopping or tuning on them is misled. "
         "The usual causes are a split that overlaps (val taken from data train also uses) or "
         "oversampling / augmenting before splitting.",
         "Split once into disjoint index sets (train_test_split, random_split) before any "
         "oversampling or augmentation, and deduplicate (or group identical records) before splitting."),
    Code("DLC716", "data-target-in-inputs", "data-check", "warn",
         "Every sample's target is found, verbatim, at one place inside that sample's own inputs.",
         "The model can read the answer instead of predicting it: training and validation losses fall "
         "near zero, and the model fails wherever the answer is not handed to it. Typical causes: a "
         "forecaster's input window sliced too late (it ends with the values to predict), the label "
         "column left among a table's features, the frame to predict among a video's input frames.",
         "Cut the input from before the target: x = series[i : i + lookback], "
         "y = series[i + lookback : i + lookback + horizon]; drop the target column from the features. "
         "A task that is to copy (a copy or recall benchmark) is the exception: --ignore DLC716."),
    # -- batch-independence ------------------------------------------------------------------
    Code("DLC801", "samples-mixed", "batch-independence", "fail",
         "One sample's output depends on other samples' inputs: the model mixes samples across "
         "the batch.",
         "In eval mode an honest model computes every sample on its own, so the gradient of one "
         "sample's output is zero on every other sample's input. Mixing means the batch axis is "
         "treated as time or features somewhere (an RNN without batch_first=True fed (batch, "
         "time, features); a view/reshape that should have been a permute/transpose): the model "
         "learns from samples scrambled together, and its predictions change with the batch. A batch "
         "that carries an (n, n) input relating its samples (a graph's adjacency over the batch: node "
         "classification with the whole graph one batch) makes it a warning: the mixing may be the point.",
         "Go to where the message says the mixing starts: pass batch_first=True to RNN / attention "
         "layers fed batch-first tensors, and swap axes with permute/transpose, never view/reshape. "
         "If the model mixes samples on purpose, set mixes_samples = True in the target."),
    Code("DLC802", "samples-mixed-by-design", "batch-independence", "info",
         "The model mixes samples across the batch, and the target or recipe says it does so by "
         "design (mixes_samples).",
         "Some models look at the whole batch on purpose (set models, in-batch attention, "
         "batch statistics in eval mode); the target's mixes_samples says so, so it is not judged.",
         "Nothing to fix; the message still says which samples mix and where."),
    Code("DLC803", "independence-unmeasured", "batch-independence", "info",
         "Batch independence could not be measured: a batch of one sample, token ids without an "
         "nn.Embedding to take the gradient at, outputs without a sample axis, or no gradient "
         "reaching the inputs.",
         "What was not measured cannot be judged; the message says why.",
         "Nothing to fix; for token ids, an nn.Embedding layer lets dlcheck take the gradient at "
         "its output."),
    # -- causality ---------------------------------------------------------------------------
    Code("DLC851", "future-leak", "causality", "fail",
         "An output at position t depends on inputs at positions after t: a causal (autoregressive) "
         "model sees the future.",
         "A model trained to predict the next token from the ones before it must not read the tokens "
         "it predicts. With a future leak (attention without its causal mask, a bidirectional RNN, "
         "a convolution padded on both sides) it copies the answer from the input: the training "
         "loss falls far below what honest prediction reaches, and generation, which has no future "
         "to read, fails.",
         "Go to where the message says the mixing across time starts: give the attention its causal "
         "mask (attn_mask=nn.Transformer.generate_square_subsequent_mask(T), is_causal=True, or a "
         "lower-triangular mask before the softmax), make RNNs unidirectional, pad convolutions on "
         "the left only. If the model may look ahead on purpose, set causal = False in the target."),
    Code("DLC852", "causality-unmeasured", "causality", "info",
         "Causality could not be measured: token ids without an nn.Embedding to take the gradient at, "
         "outputs without a time axis, or no gradient reaching the inputs.",
         "What was not measured cannot be judged; the message says why.",
         "Nothing to fix; for token ids, an nn.Embedding layer lets dlcheck take the gradient at "
         "its output."),
    # -- grid --------------------------------------------------------------------------------
    Code("DLC901", "grid-best-on-edge", "grid", "warn",
         "The best cell of the grid lies on its edge: the lowest or highest learning rate (or the "
         "strongest / weakest non-zero weight decay) searched.",
         "A best point on the edge of the searched range says only that the optimum is there or "
         "beyond; the Deep Learning Tuning Playbook's rule is to widen the range until the best "
         "point is inside it. (An edge cell that ties with its neighbour is not counted.)",
         "Widen the grid in the direction the message names (--lrs / --weight-decays), and run it again."),
    Code("DLC902", "grid-all-diverged", "grid", "fail",
         "Every trial of the grid diverged (a non-finite loss, or a val loss far above the one at init).",
         "No learning rate of the grid trains the model; the grid is centred too high, or the "
         "set-up is broken for every LR.",
         "Run dlcheck lr-find and centre the grid on its suggestion (--lr, or --lrs below the grid's lowest)."),
    Code("DLC903", "grid-nothing-learned", "grid", "fail",
         "No trial brought the validation loss measurably down from its value at initialisation.",
         "Within the budget, no cell learned anything that shows on the validation data: the "
         "learning rates are far too low, the model cannot learn, or the val data is unrelated to "
         "the training data.",
         "Run dlcheck lr-find (an LR that trains) and dlcheck overfit-small (can the model learn at "
         "all?); run data-check when the training loss falls but the val loss does not."),
    Code("DLC904", "grid-wd-no-effect", "grid", "info",
         "At the best learning rate, every weight decay of the grid gives about the same val loss.",
         "Weight decay acts slowly: within 1-5 epochs it often makes no difference, so the grid "
         "cannot choose it; its choice needs longer runs (dlcheck curves).",
         "Nothing to fix; compare weight decays with longer training (dlcheck curves --weight-decay WD, "
         "or grid --epochs 5)."),
    Code("DLC905", "grid-best-far-from-configured", "grid", "warn",
         "The grid's best learning rate or weight decay is far (beyond one grid step) from the one "
         "the target trains with.",
         "The LR and weight decay in the target are what the user trains with; a grid that prefers "
         "something else by a wide margin means the configured values waste the budget.",
         "Train with the grid's best values (and confirm them with dlcheck curves --lr LR --weight-decay WD)."),
    Code("DLC906", "grid-incomplete", "grid", "warn",
         "Some cells of the grid have no finished trial (the budget ran out, or other workers' "
         "trials were still running when this process stopped waiting).",
         "The best cell is chosen among the finished ones only.",
         "Run the same command again: with --storage it resumes the grid where it stopped."),
    Code("DLC907", "grid-some-diverged", "grid", "info",
         "Some trials of the grid diverged; they are left out of the choice of the best cell.",
         "A diverging cell marks where the usable learning rates end.",
         "Nothing to fix; keep the learning rate below the diverging ones."),
    # -- curves ------------------------------------------------------------------------------
    Code("DLC951", "curves-still-improving", "curves", "info",
         "The validation loss was still falling when training stopped.",
         "The recipe's step 6: train and val both still improving means the model has not "
         "converged; reading overfitting or underfitting off such curves is premature.",
         "Train longer (raise --epochs or --budget)."),
    Code("DLC952", "curves-overfitting", "curves", "warn",
         "Overfitting: the val loss turned up while the train loss kept falling, or the gap "
         "between val and train loss is large and growing.",
         "The model memorises the training data instead of learning what generalises; every epoch "
         "past the val minimum makes the model worse on new data.",
         "Regularise (weight decay, dropout), add data or augmentation, or stop early at the epoch "
         "the message names."),
    Code("DLC953", "curves-underfitting", "curves", "warn",
         "Underfitting: train and val loss are close together, high against the task's floor, and "
         "no longer falling.",
         "A model that cannot fit its own training data has too little capacity (or too little "
         "training, or too strong regularisation) for the task.",
         "Use a bigger model (wider / deeper), train longer, or weaken the regularisation."),
    Code("DLC954", "curves-val-at-chance", "curves", "fail",
         "The train loss falls while the val loss stays at its value at initialisation (chance).",
         "What is learned on the training data does not carry over at all: the val inputs and "
         "labels are not paired, the val data comes from another distribution or preprocessing, or "
         "the training data leaks its labels.",
         "Run dlcheck data-check on the target (and with --data pointing at the val loader); compare "
         "the train and val pipelines."),
    Code("DLC955", "curves-val-noisy", "curves", "warn",
         "The val loss jumps about from one measurement to the next by a large share of its level.",
         "A val curve that scatters more than it moves cannot be read (and early stopping on it "
         "picks an accident): a val set that is very small, changes between measurements, or is "
         "not paired with its labels.",
         "Use a larger or fixed val set (no augmentation, no shuffling of pairs); run dlcheck data-check."),
    Code("DLC956", "curves-diverged", "curves", "fail",
         "The loss became NaN/Inf during the longer training.",
         "Training at a constant learning rate for many epochs blew up.",
         "Lower the learning rate (dlcheck lr-find / grid), or add gradient clipping."),
    Code("DLC957", "curves-interrupted", "curves", "warn",
         "Training was interrupted (Ctrl-C); the curves were read up to there.",
         "The verdict rests on fewer epochs than asked for.",
         "Run again without interrupting, or with a smaller --epochs."),
    Code("DLC958", "curves-generalisation-gap", "curves", "warn",
         "A large generalisation gap: the train loss is near its floor (train accuracy near 100 %) "
         "while the val loss stays many times higher (val accuracy far below).",
         "The model fits its training data far better than new data (CS231n: a big train/val gap "
         "means more regularisation). Once the val loss stops improving this is overfitting, even "
         "when val has not turned up much; while val still improves, it is not overfitting yet, but "
         "the training data has little left to teach.",
         "Regularise (weight decay, dropout), add data or augmentation; if val stopped improving, "
         "stop early at the epoch the message names."),
    Code("DLC959", "curves-loss-spike", "curves", "warn",
         "The training loss spiked: several times its recent median for a few steps in a row.",
         "A loss spike (as LLM training stacks detect them) comes from a learning rate too high for "
         "a stretch of training (a schedule's peak or restart), a batch of corrupted or unnormalised "
         "inputs, or an unstable layer; the model loses what it had learned and may not recover.",
         "Look at the steps the message names: the learning rate schedule there, and the batches "
         "read there (dlcheck data-check); lower the peak LR, add warm-up or gradient clipping."),
    # -- resume ------------------------------------------------------------------------------
    Code("DLC961", "resume-checkpoint-fails", "resume", "fail",
         "The checkpoint could not be saved, or not loaded into a freshly built model.",
         "A run that cannot be restored from its checkpoint is lost when it is interrupted: a key or "
         "shape mismatch between the saved state_dict and the model the factory builds, objects "
         "torch.load(weights_only=True) refuses, or a save/load function that raises.",
         "Read the message: it names the function and what it raised. Save state_dicts (not whole "
         "modules or optimizers) and build the model the same way before loading."),
    Code("DLC962", "resume-state-missing", "resume", "fail",
         "Tensors of the model differ from the saved run right after loading the checkpoint.",
         "A tensor the model uses but its state_dict does not hold (a learned tensor kept as a plain "
         "attribute, a buffer registered with persistent=False that the model updates or draws at "
         "random) comes back as the fresh model built it, and the resumed run trains another model.",
         "Register learned tensors as nn.Parameter and state as buffers (register_buffer(name, t), "
         "persistent by default); keep submodules in nn.ModuleList/ModuleDict, not plain lists."),
    Code("DLC963", "resume-optimizer-state", "resume", "fail",
         "After resuming, the same weights, gradients and LR give a different update: the "
         "optimizer's state was not restored.",
         "Adam's moments and step counts (SGD's momentum) start over from zero after every resume: "
         "the first updates are too large (Adam's bias correction restarts) and the run differs from "
         "the uninterrupted one.",
         "Save optimizer.state_dict() in the checkpoint and call optimizer.load_state_dict(...) after "
         "building the optimizer on the resumed model's parameters."),
    Code("DLC964", "resume-lr-differs", "resume", "fail",
         "After resuming, the learning rate differs from the uninterrupted run's at the same step.",
         "A scheduler that is not saved starts its schedule over (warm-up again, or the peak LR at "
         "the end of training), so the resumed run trains at learning rates nobody chose.",
         "Save scheduler.state_dict() in the checkpoint and load it into the scheduler built for "
         "the resumed run (after loading the optimizer's state)."),
    Code("DLC965", "resume-rng-not-restored", "resume", "fail",
         "After resuming, the same weights on the same batch give another loss: the training step "
         "draws random numbers (dropout) and the RNG states were not restored.",
         "The resumed run draws other dropout masks (and augmentations) than the uninterrupted one, "
         "so it cannot be reproduced, and a resume cannot be told from a change of the code.",
         "Save torch.get_rng_state() (torch.cuda.get_rng_state_all(), numpy's and Python's states) "
         "in the checkpoint and set them back when loading."),
    Code("DLC966", "resume-diverges", "resume", "fail",
         "The resumed run differs from the uninterrupted one, although every tensor of the model was "
         "restored, for a cause dlcheck cannot tell apart.",
         "Something the training step depends on was not in the checkpoint (a counter, a global, "
         "state of the loss or of a hook).",
         "Look at what the training step reads besides the model, the optimizer and the scheduler, "
         "and save it in the checkpoint."),
    Code("DLC967", "resume-stream-restarts", "resume", "warn",
         "Resumed mid-epoch, the rebuilt train loader reads the epoch from its start again.",
         "A plain DataLoader cannot resume mid-epoch: the batches already seen come again and the "
         "rest of the epoch is never read, so the loss looks falsely low after each resume "
         "(Lightning #18780).",
         "Skip the batches already consumed in the epoch when resuming (as the Hugging Face Trainer "
         "does), use a stateful loader (torchdata's StatefulDataLoader) and save its state_dict, "
         "or checkpoint at epoch ends only."),
    Code("DLC968", "resume-epoch-repeats", "resume", "warn",
         "A resumed epoch repeats the first epoch's order: the loader factory seeds its shuffling "
         "generator with a constant.",
         "Each resume starts its epochs over with the same shuffle as the first epoch, so a run "
         "resumed often sees the same order again and again, unlike the uninterrupted run.",
         "Seed the loader's generator with the seed and the epoch (torch.Generator().manual_seed(seed "
         "+ epoch)), or save the generator's state in the checkpoint; or leave generator=None so the "
         "restored global RNG decides."),
    # -- optimizer ---------------------------------------------------------------------------
    Code("DLC971", "optimizer-misses-params", "optimizer", "fail",
         "Parameters that require grad are in no param group of the optimizer (fail when the output "
         "layer or most of the trainable parameters are left out, warn otherwise).",
         "The optimizer only changes the parameters it holds: the others keep their initial values "
         "while the rest trains around them. The classic case is an optimizer built before the head "
         "was replaced (the new head is not in it), or a factory that builds it from parameters it "
         "closed over instead of the params it is handed.",
         "Build the optimizer from the final model: `lambda params, lr: torch.optim.AdamW(params, lr=lr)` "
         "(the params dlcheck hands it), after every layer is replaced; freeze on purpose with "
         "requires_grad_(False)."),
    Code("DLC972", "params-without-gradient", "optimizer", "warn",
         "Parameters the optimizer updates got no gradient (grad None after backward) in a training step.",
         "The loss does not depend on them: a module never called, or one whose output the loss does "
         "not use (a Hugging Face BertModel's pooler under a head that reads last_hidden_state), or "
         "one that a routing model (mixture of experts, layer drop) did not choose for this batch. Under "
         "DistributedDataParallel such parameters stop training with its unused-parameter error "
         "unless find_unused_parameters=True (an extra pass over the graph every step), and they take "
         "memory without learning.",
         "Remove the unused module (BertModel(config, add_pooling_layer=False)), or freeze it "
         "(requires_grad_(False)); for a model that routes on purpose, set find_unused_parameters=True "
         "under DDP."),
    Code("DLC973", "adam-coupled-weight-decay", "optimizer", "warn",
         "Adam (Adamax, NAdam, RAdam) with a non-zero weight_decay: an L2 term, not weight decay.",
         "These optimizers add weight_decay * w to the gradient, which the adaptive step then divides "
         "by the gradient's running scale: parameters with large gradients are hardly decayed, and "
         "the regularisation is not what the value suggests (Loshchilov & Hutter, Decoupled Weight "
         "Decay Regularization). AdamW decouples the decay, and is what is usually meant.",
         "Use torch.optim.AdamW with the weight decay (or decoupled_weight_decay=True), and retune "
         "the value (dlcheck grid)."),
    Code("DLC974", "decay-on-norms-and-biases", "optimizer", "info",
         "A large weight decay also applies to normalisation-layer weights and biases.",
         "Decay pulls parameters towards 0; for norm scales and biases that is no regularisation, "
         "just a pull away from their natural values, which is why BERT, GPT-2 and timm recipes "
         "exempt them. Many models still train fine with it: this is a note, not a bug.",
         "Put norm weights and biases in a param group with weight_decay=0 (e.g. every parameter with "
         "p.ndim <= 1)."),
    # -- preflight (input pipeline, precision; DLC986-989: memory) ------------------------------
    Code("DLC981", "loader-bound", "preflight", "warn",
         "The data loader cannot keep up with training: the device would wait for data a large "
         "share of every step.",
         "A training step on batches already in memory is faster than the loader delivers them, so "
         "the accelerator sits idle while the loader reads, decodes and collates; more GPUs or a "
         "larger model make it worse, and nothing in the loss curve shows it. Log linters flag "
         "loader time above half the step time.",
         "Give the DataLoader more workers (num_workers; the message names the count that removed "
         "the wait in dlcheck's sweep), pin_memory=True on CUDA, and persistent_workers=True; if "
         "no count helps, make __getitem__ cheaper (decode once and cache, move augmentation to "
         "the GPU)."),
    Code("DLC982", "fp16-overflow", "preflight", "warn",
         "Activations exceed float16's range (65504), or the model goes non-finite under float16 "
         "autocast; the first module that does is named.",
         "Under fp16 mixed precision (autocast, --amp on GPUs without bf16) a value past 65504 "
         "becomes Inf and then NaN a few modules later; loss scaling does not help with forward "
         "overflow. bfloat16 has float32's range (3.4e38) and holds.",
         "Train in bfloat16 (torch.autocast(device, dtype=torch.bfloat16); Ampere GPUs or newer, "
         "recent CPUs), or fix the named layer: normalise its input or output (LayerNorm), scale "
         "it down, or keep it in float32 (autocast(enabled=False) around it)."),
    Code("DLC983", "fp16-gradient-underflow", "preflight", "warn",
         "Most gradient values of some modules lie below float16's smallest subnormal (~6e-8) even "
         "multiplied by GradScaler's default loss scale (65536): in fp16 they flush to zero.",
         "Under fp16 autocast the backward pass runs in float16; GradScaler multiplies the loss so "
         "small gradients survive, but gradients this small stay below fp16's range even then, and "
         "those layers stop learning, silently.",
         "Train in bfloat16 (range down to 1e-38), or give the GradScaler a larger init_scale; "
         "then look at why the gradients are so small (a loss summed where it should be averaged "
         "the other way round, a saturated layer)."),
    Code("DLC984", "amp-loss-gap", "preflight", "warn",
         "A short training run under autocast gives a loss far from the same run in float32.",
         "Mixed precision should change the loss by rounding noise only; a large gap means some "
         "operation loses the precision it needs (a reduction, a softmax, an exp) and the run "
         "would train a different model than the float32 one.",
         "Keep the sensitive part in float32 (autocast(enabled=False) around it, or compute the loss "
         "in float32), or prefer bfloat16 for range / float16 with GradScaler for precision."),
    Code("DLC986", "batch-does-not-fit", "preflight", "fail",
         "The batch the loader yields runs out of device memory in a training step (warn: predicted "
         "for a card named with --device-memory).",
         "Out of memory at the first steps is the most common way a GPU-day ends early, and the "
         "optimizer's state (Adam keeps two tensors per parameter) appears only after the first step, "
         "so a batch that survives step 1 can still fail at step 2. dlcheck ran full steps (forward, "
         "backward, optimizer step) at least twice per trial, and searched the largest batch that "
         "leaves the margin free.",
         "Train with the micro-batch dlcheck names and accumulate gradients over the steps it names "
         "(the same samples per optimizer step), or save memory: bf16 autocast, activation "
         "checkpointing, a lighter optimizer state."),
    Code("DLC987", "batch-near-memory-limit", "preflight", "warn",
         "The batch fits, but its peak leaves less device memory free than the margin.",
         "Peaks vary: a longer sequence, a larger image, an evaluation pass, the allocator's "
         "fragmentation or another process on the card tip a batch at the edge over, hours in. "
         "The margin (--memory-margin, default 10 %) is the headroom a run needs to be safe.",
         "Use the largest batch dlcheck found within the margin, with gradient accumulation to keep "
         "the samples per optimizer step, or save memory (bf16 autocast, activation checkpointing)."),
    Code("DLC988", "memory-not-linear-in-batch", "preflight", "info",
         "Activation memory is not linear in the batch size, so no largest batch is predicted for the card.",
         "The prediction for a card the user does not have rests on activation bytes growing by a "
         "fixed amount per sample. Batches whose shapes change with their samples (padding to the "
         "longest sequence, variable image sizes) break that, and a prediction would be a guess.",
         "Measure on the card itself (dlcheck preflight on the GPU runs the search for real), or pad "
         "batches to a fixed shape for the prediction."),
    Code("DLC989", "model-does-not-fit", "preflight", "fail",
         "Not even a batch of one fits the device with the margin left free.",
         "Weights, gradients and optimizer state (for Adam in fp32, 16 bytes per parameter) are held "
         "whatever the batch size; when they and one sample's activations already fill the card, no "
         "batch size or accumulation helps.",
         "Shard the model and its optimizer state over GPUs (FSDP, DeepSpeed ZeRO), keep a lighter "
         "optimizer state (8-bit Adam, Adafactor, SGD), train in bf16, or use a card with more memory."),
]

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
assert len(CODES) == len(_TABLE), "duplicate finding code"


def codes_for(check: str) -> list[Code]:
    """Codes a check can emit (general codes included)."""
    return [c for c in _TABLE if c.check in (check, "*")]


def lookup(code_or_name: str) -> Code | None:
    """Find a code by its code (DLC101, case-insensitive) or its short name."""
    key = code_or_name.strip()
    if key.upper() in CODES:
        return CODES[key.upper()]
    for c in _TABLE:
        if c.name == key.lower():
            return c
    return None


def markdown_table() -> str:
    """The README's table of every code, generated from this catalogue."""
    rows = ["| code | name | check | severity | meaning |", "|---|---|---|---|---|"]
    for c in _TABLE:
        rows.append(f"| {c.code} | {c.name} | {c.check} | {c.severity} | {c.title} |")
    return "\n".join(rows)


def update_readme(path: str = "README.md") -> None:
    """Rewrite the README's code table between its markers from this catalogue."""
    from pathlib import Path

    readme = Path(path)
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- codes:start -->", "<!-- codes:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{markdown_table()}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":  # python -m dlcheck.codes: refresh the README's table
    update_readme()

