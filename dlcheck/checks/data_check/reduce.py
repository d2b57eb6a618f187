"""data-check under torchrun: every rank's numbers together, the same on every rank (the reader's
statistics reduced over ranks before any rule reads them)."""

from __future__ import annotations

import torch

from dlcheck import distributed, scale
from dlcheck.checks.data_check import copies, dominance, multihot
from dlcheck.errors import UserError


def reduce(reader) -> None:
    """The statistics of all ranks' batches, the same on every rank: counts summed, moments
    summed (min/max reduced), the first bad sample the earliest over ranks (batch indices
    made global: local batch j of rank r is the loader's batch j * world + r), per-batch
    label counts gathered in the loader's order, duplicates found across ranks."""
    m, world, rank = reader.measured, distributed.world_size(), distributed.rank()
    g = lambda j: j * world + rank  # noqa: E731
    m.batches, m.samples, m.targets = (int(v) for v in distributed.reduce_floats(
        [m.batches, m.samples, m.targets], ["sum"] * 3))
    for summary, moments in reader._streams.values():
        if moments is None:
            continue
        _reduce_moments(moments)
        summary.bad_batches = int(distributed.reduce_floats([summary.bad_batches], ["sum"])[0])
        fb = summary.first_bad
        row = _earliest(None if fb is None else [g(fb[0]), float(fb[2] == "NaN"), len(fb[1]), *fb[1][:6]], 9)
        summary.first_bad = None if row is None else \
            (int(row[0]), [int(v) for v in row[3:3 + min(int(row[2]), 6)]], "NaN" if row[1] else "Inf")
    if reader._target_moments is not None:
        _reduce_moments(reader._target_moments)
        tb = m.target_bad
        row = _earliest(None if tb is None else [g(tb[1]), tb[0]], 2)
        m.target_bad = None if row is None else (int(row[1]), int(row[0]))
    if m.labels is not None:
        _labels(reader, g, world)
    dominance.reduce_ranks(m)
    multihot.reduce_ranks(m, g)
    copies.reduce_ranks(m)
    _duplicates(reader, world)


def _labels(reader, g, world: int) -> None:
    lab = reader.measured.labels
    inf = float("inf")
    ignored, valid, out, low, high, width = distributed.reduce_floats(
        [lab.ignored, lab.valid, lab.out_of_range, inf if lab.low is None else lab.low,
         -inf if lab.high is None else lab.high, max((len(r) for r in lab.batch_counts), default=0)],
        ["sum", "sum", "sum", "min", "max", "max"])
    lab.ignored, lab.valid, lab.out_of_range = int(ignored), int(valid), int(out)
    lab.low = None if low == inf else int(low)
    lab.high = None if high == -inf else int(high)
    fo = lab.first_out
    row = _earliest(None if fo is None else [g(fo[0]), fo[1], fo[2]], 3)
    lab.first_out = None if row is None else tuple(int(v) for v in row)
    width, n = int(width), len(lab.batch_counts)  # as many batches on every rank
    if not width or not n:
        lab.batch_counts = [[] for _ in range(n * world)]
        return
    flat = [float(c) for r in lab.batch_counts for c in r + [0] * (width - len(r))]
    ranks = distributed.gather_floats(flat)
    lab.batch_counts = [[int(c) for c in ranks[r][j * width:(j + 1) * width]] for j in range(n) for r in range(world)]


def _duplicates(reader, world: int) -> None:
    """The duplicate search replayed over every rank's sample digests in the loader's order."""
    m = reader.measured
    if not distributed.all_true(reader._hashing):
        reader._hashing = False
        return
    size = int(distributed.reduce_floats([len(reader._digests)], ["max"])[0])
    if not size:
        return
    flat = [v for d in reader._digests for v in d] + [-1.0] * (4 * (size - len(reader._digests)))
    rows = []
    for r, values in enumerate(distributed.gather_floats(flat)):
        for k in range(size):
            b, i, d, label = values[4 * k:4 * k + 4]
            if b >= 0:
                rows.append((int(b) * world + r, int(i), d, label))
    rows.sort(key=lambda x: x[:2])
    seen: dict[float, tuple[int, int, float]] = {}
    m.duplicates = m.conflicting = 0
    m.first_duplicate = None
    for b, i, d, label in rows:
        if d in seen:
            m.duplicates += 1
            m.conflicting += seen[d][2] != label
            m.first_duplicate = m.first_duplicate or (seen[d][:2], (b, i))
        else:
            seen[d] = (b, i, label)
    m.hashed = len(rows)


def _reduce_moments(moments: scale.Moments) -> None:
    """One Moments accumulated over every rank's tensors (channels collapsed on every rank when
    the widths differ between ranks)."""
    widths = distributed.gather_floats([float(moments._acc[0].shape[0]) if moments._acc is not None else 0.0])
    if moments._acc is None:
        raise UserError("data-check: a rank read no tensor for a stream the others read")
    if len({w[0] for w in widths}) > 1:
        moments._collapse()
    c, s, q, low, high = moments._acc
    k = c.shape[0]
    bad = float(torch.stack(moments.nonfinite).sum()) if moments.nonfinite else 0.0
    numbers = torch.cat([c, s, q, low, high]).tolist() + [bad]
    out = distributed.reduce_floats(numbers, ["sum"] * (3 * k) + ["min"] * k + ["max"] * k + ["sum"])
    t = torch.tensor(out[:-1], dtype=torch.float64, device=c.device).view(5, k)
    moments._acc = list(t.unbind(0))
    moments.nonfinite = [torch.tensor(out[-1])]


def _earliest(row: list | None, size: int) -> list[float] | None:
    """Of every rank's ``row`` (the loader's batch index first; None: nothing to report), the one
    with the smallest first entry, the same on every rank."""
    mine = [float("inf")] * size if row is None else [float(v) for v in row] + [0.0] * (size - len(row))
    best = min(distributed.gather_floats(mine[:size]), key=lambda r: r[0])
    return None if best[0] == float("inf") else best
