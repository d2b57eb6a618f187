"""Reductions over the ranks of a torchrun run: the identity without a process group, so the
single-process path is untouched. The numbers a verdict rests on are reduced here before any rule
reads them, so every rank judges the same numbers."""

from __future__ import annotations

from dlcheck.distributed.session import active, session


# -- reductions: the identity without a process group ----------------------------------------------
def mean(tensor):
    """The global mean over ranks of a tensor (each rank's value weighted equally); the tensor
    itself outside torchrun. Works on CPU (gloo) and CUDA (NCCL) tensors; the result keeps the
    input's dtype and device."""
    if not active():
        return tensor
    import torch.distributed as dist

    out = tensor.detach().clone().float()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return (out / session().world).to(tensor.dtype)


def any_true(flag: bool) -> bool:
    """True when ``flag`` is True on any rank (the same answer everywhere)."""
    if not active():
        return bool(flag)
    import torch
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0], device=session().collective_device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def gather_floats(values: list[float]) -> list[list[float]]:
    """Every rank's ``values`` (the same length on every rank), in rank order."""
    if not active():
        return [list(values)]
    import torch
    import torch.distributed as dist

    local = torch.tensor(values, dtype=torch.float64, device=session().collective_device)
    parts = [torch.empty_like(local) for _ in range(session().world)]
    dist.all_gather(parts, local)
    return [p.tolist() for p in parts]


def all_true(flag: bool) -> bool:
    """True when ``flag`` is True on every rank."""
    return not any_true(not flag)


def total(count: int) -> int:
    """The sum of ``count`` over ranks (samples seen by all ranks together)."""
    if not active():
        return int(count)
    return int(round(sum(v[0] for v in gather_floats([float(count)]))))


def mean_values(values: list) -> list:
    """The global mean of each number in ``values`` (None stays None: the task is the same on every
    rank, so the same entries are None everywhere)."""
    if not active():
        return list(values)
    import torch

    present = [i for i, v in enumerate(values) if v is not None]
    if not present:
        return list(values)
    local = torch.tensor([float(values[i]) for i in present], dtype=torch.float64,
                         device=session().collective_device)
    reduced = mean(local).tolist()
    out = list(values)
    for i, v in zip(present, reduced):
        out[i] = v
    return out


def reduce_floats(values: list[float], ops: list[str]) -> list[float]:
    """Each number in ``values`` reduced over ranks by its op in ``ops`` ("sum", "min", "max" or
    "mean"); the numbers themselves outside torchrun. One all-gather for the lot."""
    if not active() or not values:
        return list(values)
    rows = gather_floats([float(v) for v in values])
    pick = {"sum": sum, "min": min, "max": max, "mean": lambda xs: sum(xs) / len(xs)}
    return [pick[op]([row[i] for row in rows]) for i, op in enumerate(ops)]


def sum_tensor(tensor):
    """The sum over ranks of a tensor (float64 on the way, the input's dtype back)."""
    if not active():
        return tensor
    import torch.distributed as dist

    out = tensor.detach().clone().double()
    if session().collective_device == "cpu":
        out = out.cpu()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(device=tensor.device, dtype=tensor.dtype)


def average_gradients(params) -> None:
    """Under torchrun, every parameter's ``.grad`` replaced by its mean over ranks (what DDP's
    all-reduce does), for the checks that take one training step without DDP; parameters with no
    gradient on any rank stay without one. One all-gather of presence and one all-reduce."""
    if not active():
        return
    import torch

    params = list(params)
    present = gather_floats([1.0 if p.grad is not None else 0.0 for p in params])
    use = [i for i in range(len(params)) if any(row[i] > 0 for row in present)]
    if not use:
        return
    flat = torch.cat([(params[i].grad if params[i].grad is not None else torch.zeros_like(params[i]))
                      .detach().reshape(-1).double() for i in use])
    flat = mean(flat.to(session().collective_device) if session().collective_device == "cpu" else flat)
    offset = 0
    for i in use:
        p = params[i]
        n = p.numel()
        p.grad = flat[offset:offset + n].reshape(p.shape).to(device=p.device, dtype=p.dtype).clone()
        offset += n


def mean_refs(refs):
    """A task's References (dlcheck.task) averaged over ranks."""
    if not active():
        return refs
    expected, constant, floor = mean_values([refs.expected, refs.constant, refs.floor])
    return type(refs)(expected, constant, floor)


def has_distributed_sampler(loader) -> bool:
    """The loader (a DataLoader) draws its indices from a DistributedSampler: it shards itself."""
    from torch.utils.data.distributed import DistributedSampler

    sampler = getattr(loader, "sampler", None)
    batch_sampler = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
    return isinstance(sampler, DistributedSampler) or isinstance(batch_sampler, DistributedSampler)


def fingerprint(obj) -> float:
    """A 48-bit hash of the tensors in a batch (exact in a float64), to compare batches across ranks."""
    import hashlib

    import torch

    digest = hashlib.sha1()

    def feed(x):
        if isinstance(x, torch.Tensor):
            digest.update(x.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            for k in sorted(x, key=str):
                feed(x[k])
        elif isinstance(x, (tuple, list)):
            for item in x:
                feed(item)
        else:
            digest.update(repr(x).encode())

    feed(obj)
    return float(int(digest.hexdigest()[:12], 16))


def weights_checksum(model) -> list[float]:
    """Two numbers that differ when the parameters do: their sum and sum of squares (float64)."""
    import torch

    with torch.no_grad():
        params = [p.detach().double() for p in model.parameters()]
        if not params:
            return [0.0, 0.0]
        total_sum = sum(p.sum() for p in params)
        total_sq = sum((p * p).sum() for p in params)
    return [float(total_sum), float(total_sq)]
