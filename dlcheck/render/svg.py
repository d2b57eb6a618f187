"""Cheap plots for the HTML report: SVG written straight from a ``results.Figure``'s data, no
matplotlib (its import and text layout cost more than the rest of the report). Line and bar
charts with linear or log axes, vertical marks and a shaded span, a legend; every text (layer
names, titles) is escaped as XML. Kinds without a drawing here return None and the caller falls
back to ``dlcheck.render.plots`` (matplotlib), as for the grid's heatmap and the aug-preview grid.
"""

from __future__ import annotations

import math
from html import escape

#: chart size in px, and its margins (left, right, top, bottom)
WIDTH, HEIGHT = 640, 360
MARGIN = (64, 16, 30, 46)
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _finite(values) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)]


def _nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if step * m >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


class Axis:
    """One axis: a linear or log map from data to pixels, and its ticks."""

    def __init__(self, values, lo_px: float, hi_px: float, log: bool = False):
        finite = [v for v in _finite(values) if v > 0 or not log]
        self.log = log and bool(finite)
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if self.log:
            lo, hi = math.log10(lo), math.log10(hi)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        pad = 0.04 * (hi - lo)
        self.lo, self.hi, self.lo_px, self.hi_px = lo - pad, hi + pad, lo_px, hi_px

    def __call__(self, v: float) -> float:
        v = math.log10(v) if self.log else v
        return self.lo_px + (v - self.lo) / (self.hi - self.lo) * (self.hi_px - self.lo_px)

    def inside(self, v) -> bool:
        return isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 or not self.log)

    def ticks(self) -> list[tuple[float, str]]:
        if self.log and self.hi - self.lo >= 1:  # decades; 1, 2, 5 within them on a short axis
            steps = (1,) if self.hi - self.lo >= 2 else (1, 2, 5)
            ticks = [m * 10.0 ** k for k in range(math.floor(self.lo), math.ceil(self.hi) + 1) for m in steps]
            return [(t, f"{t:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e"))
                    for t in ticks if self.lo <= math.log10(t) <= self.hi]
        if self.log:  # less than a decade: round values, placed on the log scale
            return [(t, f"{t:.3g}") for t in _nice_ticks(10.0 ** self.lo, 10.0 ** self.hi) if t > 0]
        return [(t, f"{t:.3g}") for t in _nice_ticks(self.lo, self.hi)]


def _text(x, y, s, size=11, anchor="middle", extra="") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
            f"{escape(str(s))}</text>")


def _frame(xa: Axis, ya: Axis, title: str, xlabel: str, ylabel: str, xticks=None) -> list[str]:
    """The axes' box, ticks, grid lines and labels."""
    left, top, right, bottom = MARGIN[0], MARGIN[2], WIDTH - MARGIN[1], HEIGHT - MARGIN[3]
    out = [f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#888"/>']
    for v, label in ya.ticks():
        y = ya(v)
        if top - 0.5 <= y <= bottom + 0.5:
            out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(_text(left - 4, y + 4, label, 10, "end"))
    for v, label in (xticks if xticks is not None else xa.ticks()):
        x = xa(v)
        if left - 0.5 <= x <= right + 0.5:
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>')
            out.append(_text(x, bottom + 15, label, 10))
    out.append(_text((left + right) / 2, 18, title, 13, extra=' font-weight="600"'))
    out.append(_text((left + right) / 2, HEIGHT - 8, xlabel))
    out.append(_text(14, (top + bottom) / 2, ylabel, extra=f' transform="rotate(-90 14 {(top + bottom) / 2:.1f})"'))
    return out


def _path(xa: Axis, ya: Axis, xs, ys, colour: str, dash: str = "", width: float = 1.6) -> str:
    """One polyline; a non-finite point breaks the line."""
    parts, pen = [], "M"
    for x, y in zip(xs, ys):
        if xa.inside(x) and ya.inside(y):
            parts.append(f"{pen}{xa(x):.1f},{ya(y):.1f}")
            pen = "L"
        else:
            pen = "M"
    style = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<path d="{" ".join(parts)}" fill="none" stroke="{colour}" stroke-width="{width}"{style}/>'


def _legend(items: list[tuple[str, str, str]]) -> list[str]:
    x, y = WIDTH - MARGIN[1] - 8, MARGIN[2] + 14
    wide = 7 * max(len(label) for label, _, _ in items) + 34
    out = [f'<rect x="{x - wide}" y="{y - 13}" width="{wide + 4}" height="{14 * len(items) + 4}" fill="#fff" '
           f'fill-opacity="0.85" stroke="#ddd"/>']
    for i, (label, colour, dash) in enumerate(items):
        yy = y + 14 * i
        style = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x - 22}" x2="{x - 4}" y1="{yy - 4}" y2="{yy - 4}" stroke="{colour}" stroke-width="2"{style}/>')
        out.append(_text(x - 26, yy, label, 10, "end"))
    return out


def _tip(series: dict, j: int) -> str:
    """A hover text (a layer's name and value), escaped."""
    tips = series.get("tips")
    return f"<title>{escape(str(tips[j]))}</title>" if tips and j < len(tips) else ""


def chart(title: str, xlabel: str, ylabel: str, series: list[dict], *, xlog=False, ylog=False,
          marks=(), span=None, xticks=None, bars=False, ylim=None) -> bytes:
    """An SVG chart. ``series``: dicts of ``x``, ``y``, ``label``, optional ``colour``/``dash``;
    ``marks``: (x, label, colour, dash) vertical lines; ``span``: (x0, x1) shaded; ``bars``: one
    bar per point of the first series; ``ylim``: (lo, hi) for the y axis."""
    left, top, right, bottom = MARGIN[0], MARGIN[2], WIDTH - MARGIN[1], HEIGHT - MARGIN[3]
    xs = [x for s in series for x in s["x"]] + [m[0] for m in marks]
    ys = list(ylim) if ylim else [y for s in series for y in s["y"]] + ([0.0] if bars else [])
    xa, ya = Axis(xs, left, right, xlog), Axis(ys, bottom, top, ylog)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" fill="#222">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>']
    out.append(f'<clipPath id="plot"><rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"/></clipPath>')
    body = []
    if span and xa.inside(span[0]) and xa.inside(span[1]):
        body.append(f'<rect x="{xa(span[0]):.1f}" y="{top}" width="{max(0.0, xa(span[1]) - xa(span[0])):.1f}" '
                    f'height="{bottom - top}" fill="#d62728" fill-opacity="0.08"/>')
    legend = []
    for i, s in enumerate(series):
        colour = s.get("colour", COLOURS[i % len(COLOURS)])
        if bars:
            w = 0.7 * (right - left) / max(1, len(s["x"]))
            body += [f'<rect x="{xa(x) - w / 2:.1f}" y="{min(ya(y), ya(0)):.1f}" width="{w:.1f}" '
                     f'height="{abs(ya(0) - ya(y)):.1f}" fill="{colour}">{_tip(s, j)}</rect>'
                     for j, (x, y) in enumerate(zip(s["x"], s["y"])) if ya.inside(y)]
        else:
            body.append(_path(xa, ya, s["x"], s["y"], colour, s.get("dash", ""), s.get("width", 1.6)))
            if s.get("dots"):
                body += [f'<circle cx="{xa(x):.1f}" cy="{ya(y):.1f}" r="2.5" fill="{colour}">{_tip(s, j)}</circle>'
                         for j, (x, y) in enumerate(zip(s["x"], s["y"])) if xa.inside(x) and ya.inside(y)]
        if s.get("label"):
            legend.append((s["label"], colour, s.get("dash", "")))
    for i, (x, label, colour, dash) in enumerate(marks):
        if xa.inside(x):
            body.append(f'<line x1="{xa(x):.1f}" x2="{xa(x):.1f}" y1="{top}" y2="{bottom}" stroke="{colour}" '
                        f'stroke-dasharray="{dash}" stroke-width="1.3"/>')
            legend.append((label, colour, dash))
    out.append(f'<g clip-path="url(#plot)">{"".join(body)}</g>')
    out += _frame(xa, ya, title, xlabel, ylabel, xticks)
    if len(legend) > 1 or marks:
        out += _legend(legend)
    out.append("</svg>")
    return "".join(out).encode("utf-8")


# -- the plot kinds of dlcheck.render.plots, from the same data --------------------------------------
def _spans_decade(values) -> bool:
    finite = _finite(values)
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 10


def loss_curve(losses, title="training loss"):
    steps = list(range(1, len(losses) + 1))
    return chart(title, "step", "loss", [{"x": steps, "y": losses}], ylog=_spans_decade(losses))


def lr_curve(lrs, losses, smoothed, *, marks, configured=None, diverge=None):
    finite = _finite(smoothed)
    ylim = None
    if finite:
        top = min(max(finite), 4 * finite[0])
        ylim = (min(finite) - 0.05 * abs(top - min(finite)), top * 1.05 if top > 0 else top + 1)
    lines = [(lr, f"{name} {lr:.2g}", COLOURS[(i + 1) % len(COLOURS)], "5,3") for i, (name, lr) in enumerate(marks.items())]
    if configured:
        lines.append((configured, f"configured {configured:.2g}", "#000", "2,2"))
    span = (diverge, max(lrs[-1], diverge)) if diverge and lrs else None
    return chart("lr-find: LR range test", "learning rate", "loss",
                 [{"x": lrs, "y": losses, "label": "loss", "colour": "#bbb", "width": 0.8},
                  {"x": lrs, "y": smoothed, "label": "smoothed", "colour": COLOURS[0]}],
                 xlog=True, marks=lines, span=span, ylim=ylim)


def _depth_ticks(names) -> list[tuple[float, str]]:
    step = max(1, math.ceil(len(names) / 12))
    return [(float(i), str(i)) for i in range(0, len(names), step)]


def layer_stats_by_depth(layers, values, ylabel, title):
    tips = [f"{name}: {v}" for name, v in zip(layers, values)]
    positive = _finite(values) and min(_finite(values)) > 0
    return chart(title, "layer (depth order; hover for its name)", ylabel,
                 [{"x": list(range(len(values))), "y": values, "dots": True, "tips": tips}],
                 ylog=bool(positive), xticks=_depth_ticks(layers))


def bn_layer_gaps(names, gaps):
    values = [g if isinstance(g, (int, float)) and math.isfinite(g) else 0.0 for g in gaps]
    return chart("bn-gap: each BatchNorm layer's own gap", "BatchNorm layer (execution order; hover for its name)",
                 "relative gap, train vs eval mode",
                 [{"x": list(range(len(names))), "y": values, "tips": [f"{n}: {g}" for n, g in zip(names, gaps)]}],
                 bars=True, xticks=_depth_ticks(names))


def data_pairing_curves(true_losses, permuted_losses):
    return chart("data-check: are inputs and labels paired?", "step", "training loss",
                 [{"x": list(range(1, len(true_losses) + 1)), "y": true_losses, "label": "true labels"},
                  {"x": list(range(1, len(permuted_losses) + 1)), "y": permuted_losses, "label": "permuted labels",
                   "dash": "6,4"}])


KINDS = {"loss_curve": loss_curve, "lr_curve": lr_curve, "layer_stats_by_depth": layer_stats_by_depth,
         "bn_layer_gaps": bn_layer_gaps, "data_pairing_curves": data_pairing_curves}


def draw(figure) -> bytes | None:
    """``figure`` as SVG bytes, or None when this module has no drawing of its kind."""
    function = KINDS.get(figure.kind)
    return function(**figure.data) if function else None
