"""bn-gap's forward hooks: the trace of the warm-up passes, the frozen running statistics, and each
BN layer's own train-vs-eval gap on the compared passes."""

from __future__ import annotations

import math
import weakref

import torch
from torch import nn

from dlcheck.state import Hooks

_LINEAR = (nn.Linear, nn.modules.conv._ConvNd)


class _Trace:
    """Forward hooks for the warm-up passes: BN execution order, the batch size each BN sees, and
    (while ``tracing``) which BN output is the model output and which biased layer feeds a BN."""

    def __init__(self, bns: dict[str, nn.Module], model: nn.Module, hooks: Hooks):
        self.order: list[str] = []
        self.batch: dict[str, int] = {}
        self.values: dict[str, int] = {}  # values per channel each BN normalises (batch x positions)
        self.fed_by: dict[str, str] = {}
        self.bn_outputs: list[tuple[str, weakref.ref]] = []  # weak: nothing is kept alive
        self.produced: dict[int, tuple[weakref.ref, str]] = {}
        self.tracing = True  # first batch only
        self.warming = True  # batch sizes are the training batches'
        self.compared_batch: int | None = None
        for name, m in bns.items():
            hooks.add(m.register_forward_pre_hook(self._bn_input(name)))
            hooks.add(m.register_forward_hook(self._bn_output(name)))
        for name, m in model.named_modules():
            if isinstance(m, _LINEAR) and getattr(m, "bias", None) is not None:
                hooks.add(m.register_forward_hook(self._produced(name)))

    def _bn_input(self, name):
        def hook(module, args):
            x = args[0] if args else None
            if not isinstance(x, torch.Tensor) or x.dim() < 2:
                return
            if not self.warming:  # a compared pass: only its batch size matters
                self.compared_batch = min(self.compared_batch or x.shape[0], int(x.shape[0]))
                return
            if name not in self.batch:
                self.order.append(name)
            self.batch[name] = max(self.batch.get(name, 0), int(x.shape[0]))
            self.values[name] = max(self.values.get(name, 0), x.numel() // max(int(x.shape[1]), 1))
            if self.tracing:
                source = self.produced.get(id(x))
                if source is not None and source[0]() is x:
                    self.fed_by[name] = source[1]
        return hook

    def _bn_output(self, name):
        def hook(module, args, out):
            if self.tracing and isinstance(out, torch.Tensor):
                self.bn_outputs.append((name, weakref.ref(out)))
        return hook

    def _produced(self, name):
        def hook(module, args, out):
            if self.tracing and isinstance(out, torch.Tensor):
                self.produced[id(out)] = (weakref.ref(out), name)
        return hook

    def output_of(self, outputs: torch.Tensor) -> str | None:
        """The BN whose output tensor is (a view of) the model's output, if any."""
        for name, ref in reversed(self.bn_outputs):
            t = ref()  # alive, so its memory cannot have been reused by another tensor
            if t is not None and t.numel() == outputs.numel() and t.data_ptr() == outputs.data_ptr():
                return name
        return None

    def stop(self) -> None:
        self.tracing = False
        self.produced.clear()
        self.bn_outputs.clear()


class _Frozen:
    """The running statistics as the warm-up left them (every buffer of every BN layer, the batch
    counter included), put back after each compared train-mode pass and before each layer's own
    eval-mode run: the measurement leaves them untouched, whatever a subclass's forward does."""

    def __init__(self, bns: dict[str, nn.Module]):
        self.saved = {name: [(key, t, t.detach().clone()) for key, t in m.named_buffers(recurse=False)
                             if isinstance(t, torch.Tensor) and not nn.parameter.is_lazy(t)]
                      for name, m in bns.items()}

    def restore(self, name: str | None = None) -> None:
        for saved in ([self.saved[name]] if name is not None else self.saved.values()):
            for _, t, value in saved:
                t.copy_(value)


class _Gap:
    """Forward hooks for the compared passes: each BN layer's own train-vs-eval difference. The
    layer's train-mode output is compared with the same module run again in eval mode on the same
    input (its own forward, so subclasses that add an activation or drop, SyncBatchNorm and lazy BN
    are measured as they compute), with its warmed statistics. Sums stay on the device (squared
    difference and squared train-mode output; no tensor is stored). A layer whose eval-mode run
    raises or gives something else than its train-mode run is named, not measured."""

    def __init__(self, bns: dict[str, nn.Module], device: torch.device, hooks: Hooks, frozen: _Frozen):
        self.diff = {name: torch.zeros((), device=device) for name in bns}
        self.norm = {name: torch.zeros((), device=device) for name in bns}
        self.seen: set[str] = set()
        self.unmeasured: dict[str, str] = {}
        self.frozen = frozen
        self.active = False
        for name, m in bns.items():
            hooks.add(m.register_forward_hook(self._hook(name), with_kwargs=True))

    def _hook(self, name):
        def hook(module, args, kwargs, out):
            if not self.active or getattr(module, "running_mean", None) is None or name in self.unmeasured:
                return
            if not isinstance(out, torch.Tensor):
                self.unmeasured[name] = f"its output is a {type(out).__name__}, not a tensor"
                return
            self.active = False  # BN layers inside this one run again below: not measured twice
            flags = [(m, m.training) for m in module.modules()]
            try:
                self.frozen.restore(name)  # the statistics as warmed, even if this forward moved them
                module.eval()
                as_eval = module.forward(*args, **kwargs)  # hooks bypassed: the module's own work only
            except Exception as exc:  # noqa: BLE001 - named in the report instead of mis-measured
                first = str(exc).splitlines()[0][:120] if str(exc).strip() else ""
                self.unmeasured[name] = f"its eval-mode run raised {type(exc).__name__}" + (f": {first}" if first else "")
                return
            finally:
                for m, flag in flags:
                    m.training = flag
                self.active = True
            if not isinstance(as_eval, torch.Tensor) or as_eval.shape != out.shape:
                shape = tuple(as_eval.shape) if isinstance(as_eval, torch.Tensor) else type(as_eval).__name__
                self.unmeasured[name] = f"its eval-mode run gives {shape}, its train-mode run {tuple(out.shape)}"
                return
            train_out = out.detach().float()
            self.diff[name] += (train_out - as_eval.float()).pow(2).sum()
            self.norm[name] += train_out.pow(2).sum()
            self.seen.add(name)
        return hook

    def reset(self) -> None:
        self.active = False
        self.seen.clear()
        self.unmeasured.clear()
        for name in self.diff:
            self.diff[name].zero_()
            self.norm[name].zero_()

    def ratios(self) -> dict[str, float]:
        from dlcheck import distributed

        names = list(self.diff)
        diff = torch.stack([self.diff[n] for n in names]).tolist()  # one transfer
        norm = torch.stack([self.norm[n] for n in names]).tolist()
        if distributed.active() and names:  # under torchrun: every rank's samples together
            both = distributed.reduce_floats(diff + norm, ["sum"] * (2 * len(names)))
            diff, norm = both[:len(names)], both[len(names):]
        return {n: _ratio(d, q) for n, d, q in zip(names, diff, norm)}


def _ratio(diff: float, norm: float) -> float:
    """sqrt(diff / norm): a relative L2 difference; 0 when both are 0 (e.g. a zero-init gamma)."""
    if norm <= 0:
        return 0.0 if diff <= 0 else math.inf
    return math.sqrt(diff / norm)
