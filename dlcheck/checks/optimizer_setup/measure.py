"""Measuring: the user's optimizer built on ``model.parameters()`` the way training builds it,
its param groups read against the model's parameters (by identity), then one training step with
an optimizer step pre-hook that sees which parameters got a gradient (``.grad`` is None after
backward) and forward hooks that find the layer whose output is the logits. Everything ends as
names and plain numbers in :class:`Measured`."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.context import Context
from dlcheck.modules import unwrap
from dlcheck.state import Hooks
from dlcheck.training import Trainer

#: The Adam family whose ``weight_decay`` is an L2 term added to the gradient (coupled), unless a
#: group sets ``decoupled_weight_decay`` (AdamW is an Adam with it set).
COUPLED = (torch.optim.Adam, torch.optim.Adamax, torch.optim.NAdam, torch.optim.RAdam)
#: Normalisation layers by class name: torch's (BatchNorm2d, LayerNorm, GroupNorm, RMSNorm, ...)
#: and the libraries' own (LlamaRMSNorm, T5LayerNorm, FusedLayerNorm).
NORM_NAME = re.compile(r"Norm(\d*d)?$")


@dataclass
class Measured:
    """What the optimizer check measured; the rules read only this and the settings."""

    optimizer: str  # the optimizer's class name
    groups: list[dict]  # per param group: group, params, elements, lr, weight_decay, decoupled
    trainable: int  # the model's parameters that require grad
    trainable_elements: int
    absent: list[str] = field(default_factory=list)  # trainable, in no param group
    absent_elements: int = 0
    output_layer: str | None = None  # the layer whose output is the logits (None: not found)
    output_absent: list[str] = field(default_factory=list)  # its parameters among the absent
    foreign: int = 0  # tensors in the optimizer that are not the model's parameters
    no_grad: list[str] = field(default_factory=list)  # in the optimizer, trainable, no gradient in the step
    foreign_no_grad: int = 0  # of the foreign tensors, those without a gradient
    stepped: bool = False  # the pre-step hook ran: the gradients were seen
    coupled: list[tuple[int, float]] = field(default_factory=list)  # (group, weight_decay): Adam's L2
    decayed: dict[str, list[str]] = field(default_factory=dict)  # norm/bias/embedding -> decayed names
    decay: float = 0.0  # the largest weight decay applied to those


def kind(module: nn.Module, name: str) -> str | None:
    """``norm``, ``bias``, ``embedding`` for the parameters recipes keep out of weight decay."""
    if NORM_NAME.search(type(module).__name__):
        return "norm"
    if name == "bias":
        return "bias"
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"
    return None


def _owners(model: nn.Module) -> dict[int, tuple[str, nn.Module, str]]:
    """id(parameter) -> (its module's name, the module, its own name there); a tied parameter
    under the first module that holds it."""
    owners = {}
    for mname, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            owners.setdefault(id(p), (mname, module, pname))
    return owners


class OutputLayer:
    """Forward hooks on the layers with parameters: weak references to their outputs. Read just
    before the optimizer step (the outputs of the forward are still held then); the layer whose
    output shares its storage with the logits is the output layer."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.refs: dict[str, weakref.ref] = {}
        self.alive: dict[str, int] = {}  # layer -> storage pointer of its output, still held at the step

    def attach(self, hooks: Hooks) -> "OutputLayer":
        for name, module in self.model.named_modules():
            if next(module.parameters(recurse=False), None) is not None:
                hooks.add(module.register_forward_hook(self._hook(name)))
        return self

    def _hook(self, name: str):
        def hook(module, args, output):
            if isinstance(output, torch.Tensor):
                self.refs[name] = weakref.ref(output)
        return hook

    def snapshot(self) -> None:
        for name, ref in self.refs.items():
            t = ref()
            if t is not None:
                self.alive[name] = t.untyped_storage().data_ptr()

    def of(self, logits: torch.Tensor | None) -> str | None:
        if logits is None or not self.alive:
            return None
        ptr = logits.untyped_storage().data_ptr()
        found = [name for name, p in self.alive.items() if p == ptr]
        return found[0] if found else None  # the innermost: the first to finish its forward


def measure(ctx: Context) -> Measured:
    batch = ctx.batches(1)[0]
    with ctx.model() as handed:
        model, _ = unwrap(handed)  # forward hooks do not fire inside a compiled graph
        model.train()
        named = list(model.named_parameters())
        optimizer = ctx.optimizer(model.parameters())
        in_opt = [p for g in optimizer.param_groups for p in g["params"]]
        seen: dict[int, bool] = {}  # id(parameter in the optimizer) -> it had a gradient at the step

        def pre(opt, args, kwargs):
            if not seen:
                output.snapshot()
                seen.update({id(p): p.grad is not None for p in in_opt})

        with Hooks() as hooks:
            output = OutputLayer(model).attach(hooks)
            hooks.add(optimizer.register_step_pre_hook(pre))
            out = Trainer(ctx, model, optimizer).step(batch, 0)
        m = _read(model, named, optimizer, seen)
        m.output_layer = output.of(out.outputs)
    if m.output_layer is not None:
        prefix = f"{m.output_layer}." if m.output_layer else ""
        m.output_absent = [n for n in m.absent if (n.startswith(prefix) if prefix else "." not in n)]
    return m


def _read(model: nn.Module, named, optimizer: torch.optim.Optimizer, seen: dict[int, bool]) -> Measured:
    """The param groups against the model's parameters, and which got a gradient."""
    owners = _owners(model)
    ids = {id(p) for _, p in named}
    in_opt = {id(p): i for i, g in enumerate(optimizer.param_groups) for p in g["params"]}
    trainable = [(n, p) for n, p in named if p.requires_grad]
    absent = [(n, p) for n, p in trainable if id(p) not in in_opt]
    foreign = [p for g in optimizer.param_groups for p in g["params"] if id(p) not in ids]
    m = Measured(optimizer=type(optimizer).__name__, groups=_groups(optimizer), trainable=len(trainable),
                 trainable_elements=sum(p.numel() for _, p in trainable), absent=[n for n, _ in absent],
                 absent_elements=sum(p.numel() for _, p in absent), foreign=len(foreign), stepped=bool(seen))
    if seen:
        m.no_grad = [n for n, p in trainable if id(p) in in_opt and not seen.get(id(p), True)]
        m.foreign_no_grad = sum(1 for p in foreign if p.requires_grad and not seen.get(id(p), True))
    coupled = isinstance(optimizer, COUPLED)
    for i, g in enumerate(optimizer.param_groups):
        wd = float(g.get("weight_decay") or 0.0)
        if wd > 0 and coupled and not g.get("decoupled_weight_decay", False):
            m.coupled.append((i, wd))
    for n, p in trainable:
        wd = float(optimizer.param_groups[in_opt[id(p)]].get("weight_decay") or 0.0) if id(p) in in_opt else 0.0
        k = kind(owners[id(p)][1], owners[id(p)][2]) if id(p) in owners else None
        if wd > 0 and k is not None:
            m.decayed.setdefault(k, []).append(n)
            m.decay = max(m.decay, wd)
    return m


def _groups(optimizer: torch.optim.Optimizer) -> list[dict]:
    from dlcheck.optimizers import group_lrs

    lrs = group_lrs(optimizer)
    return [{"group": i, "params": len(g["params"]), "elements": sum(p.numel() for p in g["params"]),
             "lr": lrs[i], "weight_decay": float(g.get("weight_decay") or 0.0),
             "decoupled": bool(g.get("decoupled_weight_decay", False))} for i, g in enumerate(optimizer.param_groups)]
