"""The JSON report of DESIGN §4."""

from __future__ import annotations

import json
import math

from dlcheck.render._write import write_text


def _clean(value):
    """JSON has no NaN/Inf: non-finite floats become strings ('nan', 'inf')."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(report) -> str:
    return json.dumps(_clean(report.to_dict()), indent=2, allow_nan=False) + "\n"


def write(report, path: str) -> None:
    write_text(dumps(report), path)
